"""Whiteouts, opaque directories, overwrites and hard links, replayed layer by layer."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fixtures import build as fixture_build
from layerscan.image.open import open_image
from layerscan.layers.entries import EntryKind, Version
from layerscan.layers.timeline import Timeline
from layerscan.layers.walk import replay, walk
from layerscan.model.findings import Status
from layerscan.model.walk_log import WalkLog
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


_CAPABILITY = "\x01\x00\x00\x02\x00 \x00\x00" + "\x00" * 12
"""A security.capability value (vfs_cap_data revision 2: cap_net_raw, permitted, effective)."""


def _capability_tar(capped: dict[str, str], folder: str = "srv") -> bytes:
    """ping, plain (set-uid) and link (a hard link to ping) in `folder`; those named in
    `capped` get the capability under that pax key."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in ("ping", "plain", "link"):
            info = tarfile.TarInfo(f"{folder}/{name}")
            if name in capped:
                key = capped[name]
                info.pax_headers = {key: "AQAAAg" if key.startswith("LIBARCHIVE") else _CAPABILITY}
            if name == "link":
                info.type, info.linkname = tarfile.LNKTYPE, f"{folder}/ping"
                archive.addfile(info)
            else:
                info.size, info.mode = 4, 0o4755 if name == "plain" else 0o755
                archive.addfile(info, io.BytesIO(b"\x7fELF"))
    return out.getvalue()


@pytest.mark.parametrize(
    "key", ["SCHILY.xattr.security.capability", "LIBARCHIVE.xattr.security.capability"]
)
def test_capabilities_go_from_the_member_to_its_entry_and_version(key: str) -> None:
    """A hard link keeps its own header's flag; its content is the target's version."""
    timeline, log = Timeline(), WalkLog()
    entries = {
        e.path: e.capabilities for e in walk(image([_capability_tar({"ping": key})]), timeline, log)
    }
    assert entries == {"srv/ping": True, "srv/plain": False, "srv/link": False}
    ping, plain, link = (_version(timeline, p, 0) for p in ("srv/ping", "srv/plain", "srv/link"))
    assert (ping.capabilities, plain.capabilities, link.capabilities) == (True, False, False)
    assert link.content is ping and plain.mode & 0o4000  # set-id bits stay in the mode
    timeline, _ = replay(image([_capability_tar({"link": key})]))
    link = _version(timeline, "srv/link", 0)
    assert link.capabilities and link.content is not None and not link.content.capabilities


@pytest.mark.engine
def test_capabilities_survive_a_real_engines_build_and_save(engine: Any, tmp_path: Path) -> None:
    """The engine (vfs here) sets the xattr when it ADDs a tar, and its layer diff writes
    `security.capability` back into the header of every path of the inode: a file hard linked
    later in a RUN step too (written whole: the inode it shares carries it), but not a copy
    (busybox cp keeps no xattrs). Extraction applies headers in order and chowns a hard link,
    which clears the shared inode's capability, before it sets the link's own attributes: a
    link header without them, after a file with them, leaves neither path capable. So a link's
    flag is its own header's (Version.capabilities)."""
    fixture_build.ensure_base(engine)
    key = "SCHILY.xattr.security.capability"
    (tmp_path / "caps.tar").write_bytes(_capability_tar({"ping": key, "link": key}))
    (tmp_path / "wiped.tar").write_bytes(_capability_tar({"ping": key}, "wiped"))
    (tmp_path / "Dockerfile").write_text(
        f"FROM {fixture_build.BASE_IMAGE}\nADD caps.tar /\nADD wiped.tar /\n"
        "RUN ln /srv/ping /srv/later-link && cp /srv/ping /srv/copy\n"
    )
    tag = f"layerscan-capabilities:{os.getpid()}"
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(tmp_path)],
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    try:
        saved = fixture_build.save(tag, tmp_path / "saved.tar", engine)
    finally:
        engine.images.remove(tag)
    with open_image(str(saved)) as opened:
        timeline, log = replay(opened)
    assert not log.problems
    flags = {
        path: [v.capabilities for v in versions]
        for path, versions in timeline.versions.items()
        if path.startswith(("srv/", "wiped/"))
    }
    assert flags == {
        "srv/ping": [True],
        "srv/link": [True],
        "srv/plain": [False],
        "srv/later-link": [True],
        "srv/copy": [False],
        "wiped/ping": [False],
        "wiped/link": [False],
        "wiped/plain": [False],
    }
    assert _version(timeline, "srv/plain", 1).mode & 0o4000  # set-id bits survive too
