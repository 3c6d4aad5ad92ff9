"""Whiteouts, opaque directories, overwrites and hard links, replayed layer by layer."""

from __future__ import annotations

from layerscan.layers.entries import EntryKind, Version
from layerscan.layers.timeline import Timeline
from layerscan.layers.walk import replay
from layerscan.model.findings import Status
from tests.support.synthetic import directory, file, hardlink, image, opaque, symlink, whiteout


def _version(timeline: Timeline, path: str, layer: int) -> Version:
    [version] = [v for v in timeline.versions[path] if v.layer_index == layer]
    return version


def test_whiteout_deletes_a_file_from_lower_layers() -> None:
    timeline, log = replay(image([[file("etc/key", "k")], [whiteout("etc/key")]]))
    key = _version(timeline, "etc/key", 0)
    assert (key.status, key.removed_by) == (Status.DELETED, 1)
    assert timeline.present("etc/key") is None
    assert not log.problems


def test_whiteout_of_a_directory_deletes_everything_below() -> None:
    timeline, _ = replay(
        image(
            [
                [directory("opt/d"), file("opt/d/a"), file("opt/d/sub/b")],
                [file("x"), whiteout("opt/d")],
            ]
        )
    )
    for path in ("opt/d/a", "opt/d/sub/b"):
        assert (_version(timeline, path, 0).status, _version(timeline, path, 0).removed_by) == (
            Status.DELETED,
            1,
        )
    assert timeline.stats[1].deleted == 2


def test_later_write_overwrites_and_the_new_version_is_present() -> None:
    timeline, _ = replay(image([[file("app/c", "v1")], [file("app/c", "v2")]]))
    assert (_version(timeline, "app/c", 0).status, _version(timeline, "app/c", 0).removed_by) == (
        Status.OVERWRITTEN,
        1,
    )
    assert _version(timeline, "app/c", 1).status is Status.PRESENT
    assert timeline.stats[1].changed == 1 and timeline.stats[0].added == 1


def test_opaque_directory_hides_lower_layers_only() -> None:
    # The marker comes after an entry of its own layer: that entry must survive.
    timeline, _ = replay(
        image([[file("d/old"), file("d/sub/older")], [file("d/new"), opaque("d"), file("d/newer")]])
    )
    assert _version(timeline, "d/old", 0).status is Status.DELETED
    assert _version(timeline, "d/sub/older", 0).status is Status.DELETED
    assert _version(timeline, "d/new", 1).status is Status.PRESENT
    assert _version(timeline, "d/newer", 1).status is Status.PRESENT


def test_whiteout_never_hides_an_entry_of_its_own_layer() -> None:
    timeline, _ = replay(image([[file("a", "1")], [file("a", "2"), whiteout("a")]]))
    assert _version(timeline, "a", 0).status is Status.OVERWRITTEN
    assert _version(timeline, "a", 1).status is Status.PRESENT


def test_file_replacing_a_directory_deletes_its_children() -> None:
    timeline, _ = replay(image([[file("p/child")], [file("p", "now a file")]]))
    child = _version(timeline, "p/child", 0)
    assert (child.status, child.removed_by) == (Status.DELETED, 1)
    assert _version(timeline, "p", 1).status is Status.PRESENT


def test_directory_replacing_a_file_overwrites_it() -> None:
    timeline, _ = replay(image([[file("q", "file")], [file("q/inside")]]))
    assert _version(timeline, "q", 0).status is Status.OVERWRITTEN


def test_hardlinks_share_their_targets_content_in_and_across_layers() -> None:
    timeline, log = replay(
        image([[file("srv/a", "x"), hardlink("srv/b", "srv/a")], [hardlink("srv/c", "srv/b")]])
    )
    a = _version(timeline, "srv/a", 0)
    assert _version(timeline, "srv/b", 0).content is a
    assert _version(timeline, "srv/c", 1).content is a
    assert not log.problems


def test_hardlink_to_nothing_is_reported() -> None:
    timeline, log = replay(image([[hardlink("srv/b", "srv/missing")]]))
    assert _version(timeline, "srv/b", 0).content is None
    assert [p.path for p in log.problems] == ["/srv/b"]


def test_same_name_twice_in_one_layer_marks_the_first_a_duplicate() -> None:
    timeline, _ = replay(image([[file("dup", "first"), file("dup", "second")]]))
    first, second = timeline.versions["dup"]
    assert first.duplicate and not second.duplicate
    assert second.status is Status.PRESENT


def test_paths_are_normalised_and_escapes_rejected() -> None:
    timeline, log = replay(image([[file("./a//b/./c"), file("../evil"), file("x/../../evil2")]]))
    assert list(timeline.versions) == ["a/b/c"]
    rejected = sorted(p.path or "" for p in log.problems if p.lost_content)
    assert rejected == ["../evil", "x/../../evil2"]
    assert [p.path for p in log.problems if not p.lost_content] == ["./a//b/./c"]


def test_symlinks_are_recorded_not_followed() -> None:
    timeline, _ = replay(image([[symlink("lib", "usr/lib")]]))
    [link] = timeline.versions["lib"]
    assert link.kind is EntryKind.SYMLINK and link.link_target == "usr/lib"


def test_a_hardlink_keeps_the_version_its_target_held_when_it_was_written() -> None:
    """Issue 19, class 6: the same path as file, directory, symlink and file again in one
    layer; the link written after the first file shares that file, not a later version."""
    timeline, log = replay(
        image(
            [
                [
                    file("a", "first"),
                    hardlink("b", "a"),
                    directory("a"),
                    symlink("a", "elsewhere"),
                    file("a", "last"),
                    hardlink("c", "a"),
                ]
            ]
        )
    )
    first, as_dir, as_link, last = timeline.versions["a"]
    assert [v.kind for v in (first, as_dir, as_link, last)] == [
        EntryKind.FILE,
        EntryKind.DIRECTORY,
        EntryKind.SYMLINK,
        EntryKind.FILE,
    ]
    assert _version(timeline, "b", 0).content is first
    assert _version(timeline, "c", 0).content is last
    assert (first.duplicate, last.duplicate) == (True, False)
    assert not log.problems


def test_a_chain_of_hardlinks_keeps_the_first_target_across_layers() -> None:
    timeline, _ = replay(
        image(
            [
                [file("a", "one"), hardlink("l1", "a"), file("a", "two"), hardlink("l2", "l1")],
                [file("l1", "three"), hardlink("l3", "l2"), file("l2", "four")],
                [hardlink("l4", "l3"), file("a", "five"), hardlink("l5", "a")],
            ]
        )
    )
    one, two = _version_list(timeline, "a", 0)
    for name, layer in (("l1", 0), ("l2", 0), ("l3", 1), ("l4", 2)):
        assert _version(timeline, name, layer).content is one, name
    assert _version(timeline, "l5", 2).content is _version(timeline, "a", 2)
    assert two.status is Status.OVERWRITTEN and two.removed_by == 2


def test_every_version_records_its_members_position_in_the_layer() -> None:
    """Positions count every member of the layer's tar, rejected ones included, so that
    recovery can find the very member again."""
    timeline, _ = replay(
        image(
            [
                [directory("d"), file("../evil"), file("d/x", "1"), file("d/x", "2")],
                [whiteout("d/x"), file("d/x", "3")],
            ]
        )
    )
    assert [v.ordinal for v in timeline.versions["d"]] == [0]
    assert [(v.layer_index, v.ordinal) for v in timeline.versions["d/x"]] == [
        (0, 2),
        (0, 3),
        (1, 1),
    ]


def _version_list(timeline: Timeline, path: str, layer: int) -> list[Version]:
    return [v for v in timeline.versions[path] if v.layer_index == layer]
