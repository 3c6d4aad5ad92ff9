"""Recovery copies the very member the timeline recorded, and refuses output files it did not
write (issue 19, classes 4 and 6)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import IO

import pytest

from layerscan.errors import ContentError, OutputError
from layerscan.image.model import Image
from layerscan.layers.entries import Version
from layerscan.layers.recover import (
    MAX_MANIFEST_BYTES,
    NotWritten,
    recover,
    recover_version,
    write_json_document,
)
from layerscan.layers.timeline import Timeline
from layerscan.layers.walk import replay
from layerscan.model.findings import Status
from tests.support.synthetic import directory, file, hardlink, image, layer_tar, symlink

FIRST = b"first version\n"
LAST = b"last version, longer than the first\n"


def _versions(timeline: Timeline, path: str, layer: int) -> list[Version]:
    return [v for v in timeline.versions[path] if v.layer_index == layer]


def _written(out: Path, relative: str) -> bytes:
    return (out / relative).read_bytes()


def _records(out: Path) -> list[dict[str, object]]:
    records: list[dict[str, object]] = json.loads((out / "manifest.json").read_text())["recovered"]
    return records


def _everything_below(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*"))


# --- the member recorded, not the last one of its name ---------------------------------------

SAME_LAYER_SHAPES = {
    "file-dir-symlink-file": [
        file("a", FIRST),
        hardlink("b", "a"),
        directory("a"),
        symlink("a", "elsewhere"),
        file("a", LAST),
    ],
    "file-symlink-dir-child-file": [
        file("a", FIRST),
        hardlink("b", "a"),
        symlink("a", "/etc"),
        directory("a"),
        file("a/inner", b"inner\n"),
        file("a", LAST),
    ],
    "same-size-versions": [
        file("a", b"AAAA\n"),
        hardlink("b", "a"),
        directory("a"),
        file("a", b"BBBB\n"),
    ],
}


@pytest.mark.parametrize("shape", sorted(SAME_LAYER_SHAPES))
def test_a_hard_link_recovers_the_version_it_linked(shape: str, tmp_path: Path) -> None:
    """The same path as file, directory and symlink in turn in one layer: the link written
    after the first file holds the first file's bytes, whatever came after it."""
    members = SAME_LAYER_SHAPES[shape]
    built = image([members])
    timeline, _ = replay(built)
    first = _versions(timeline, "a", 0)[0]
    [link] = _versions(timeline, "b", 0)
    assert link.content is first and first.ordinal == 0 and link.ordinal == 1
    record = recover(built, timeline, "/b", tmp_path)
    expected = members[0].data
    assert _written(tmp_path, "layer-0/b") == expected
    assert record.size == len(expected)
    last = members[-1].data
    recover(built, timeline, "/a", tmp_path / "last", layer=0)
    assert _written(tmp_path / "last", "layer-0/a") == last


def test_a_version_deleted_within_its_own_layer_is_recovered_as_it_was(tmp_path: Path) -> None:
    """d/k.env written, its parent turned into a symlink and back, d/k.env written again: the
    first version (deleted by its own layer) is a version of its own, with its own bytes."""
    built = image(
        [
            [
                directory("d"),
                file("d/k.env", FIRST),
                symlink("d", "elsewhere"),
                directory("d"),
                file("d/k.env", LAST),
            ]
        ]
    )
    timeline, _ = replay(built)
    old, new = _versions(timeline, "d/k.env", 0)
    assert (old.status, old.removed_by, old.duplicate) == (Status.DELETED, 0, False)
    recover_version(built, old, tmp_path / "old")
    recover_version(built, new, tmp_path / "new")
    assert _written(tmp_path / "old", "layer-0/d/k.env") == FIRST
    assert _written(tmp_path / "new", "layer-0/d/k.env") == LAST


def test_a_link_across_layers_keeps_what_its_target_held(tmp_path: Path) -> None:
    """Layer 0 writes a twice (the second wins); layer 1 links b to a, then replaces a."""
    built = image(
        [
            [file("a", b"zero\n"), file("a", FIRST)],
            [hardlink("b", "a"), directory("a"), file("a", LAST)],
        ]
    )
    timeline, _ = replay(built)
    recover(built, timeline, "/b", tmp_path)
    recover(built, timeline, "/a", tmp_path, layer=1)
    assert _written(tmp_path, "layer-1/b") == FIRST
    assert _written(tmp_path, "layer-1/a") == LAST
    assert [r["original_path"] for r in _records(tmp_path)] == ["/b", "/a"]


def test_a_chain_of_links_to_replaced_versions(tmp_path: Path) -> None:
    built = image(
        [
            [file("a", FIRST), hardlink("l1", "a"), file("a", LAST), hardlink("l2", "l1")],
            [directory("l1"), hardlink("l3", "l2"), symlink("l2", "a"), hardlink("l4", "a")],
        ]
    )
    timeline, _ = replay(built)
    for name in ("l2", "l3"):
        recover(built, timeline, f"/{name}", tmp_path)
    recover(built, timeline, "/l4", tmp_path)
    assert _written(tmp_path, "layer-0/l2") == FIRST
    assert _written(tmp_path, "layer-1/l3") == FIRST
    assert _written(tmp_path, "layer-1/l4") == LAST


def test_skipped_members_still_count_in_the_position(tmp_path: Path) -> None:
    """A member the walk rejects (a `..` name) still takes its place in the tar."""
    built = image([[file("../evil", b"escape\n"), file("a", FIRST), file("a", LAST)]])
    timeline, log = replay(built)
    assert [v.ordinal for v in timeline.versions["a"]] == [1, 2]
    assert log.problems
    first = timeline.versions["a"][0]
    recover_version(built, first, tmp_path)
    assert _written(tmp_path, "layer-0/a") == FIRST


# --- the member found must be the one that was read ------------------------------------------


def _swapped(built: Image, after: bytes) -> Image:
    """The same image, whose layer 0 reads as `after` from now on (a tarball rewritten
    between the walk and the copy)."""
    layer = dataclasses.replace(built.layers[0], opener=lambda: io.BytesIO(after))
    return dataclasses.replace(built, layers=[layer, *built.layers[1:]])


def test_a_layer_that_changed_since_the_walk_is_refused(tmp_path: Path) -> None:
    members = [file("a", FIRST), directory("x")]
    built = image([members])
    timeline, _ = replay(built)
    changed = _swapped(built, layer_tar([file("a", LAST), directory("x")]))
    with pytest.raises(ContentError, match="is not the one that was read") as raised:
        recover(changed, timeline, "/a", tmp_path)
    assert raised.value.exit_code == 3
    assert _everything_below(tmp_path) == ["layer-0"]  # no file, no manifest

    moved = _swapped(built, layer_tar([directory("x"), file("a", FIRST)]))
    with pytest.raises(ContentError, match="member 0 should be /a"):
        recover(moved, timeline, "/a", tmp_path)


def test_without_a_recorded_position_a_repeated_path_is_refused(tmp_path: Path) -> None:
    """An entry from a cache that did not record positions: the path must be unique."""
    built = image([[file("a", FIRST), directory("a"), file("a", LAST), file("u", b"unique\n")]])
    timeline, _ = replay(built)
    for versions in timeline.versions.values():
        for version in versions:
            version.ordinal = None
    recover(built, timeline, "/u", tmp_path)
    assert _written(tmp_path, "layer-0/u") == b"unique\n"
    with pytest.raises(ContentError, match="more than once"):
        recover(built, timeline, "/a", tmp_path)
    assert not (tmp_path / "layer-0" / "a").exists()
    assert [r["original_path"] for r in _records(tmp_path)] == ["/u"]


def test_a_file_that_fails_its_check_is_removed_and_not_recorded(tmp_path: Path) -> None:
    built = image([[file("a", FIRST)]])
    timeline, _ = replay(built)
    recover(built, timeline, "/a", tmp_path)  # an earlier run's record of the same file
    assert len(_records(tmp_path)) == 1

    def refuse(content: Version, handle: IO[bytes]) -> None:
        raise ContentError("not the evidence")

    [version] = timeline.versions["a"]
    with pytest.raises(NotWritten, match=r"not the evidence; .*was removed") as raised:
        recover_version(built, version, tmp_path, verify=refuse)
    assert raised.value.exit_code == 3
    assert not (tmp_path / "layer-0" / "a").exists()
    assert _records(tmp_path) == []  # the earlier record no longer claims a file


# --- recover's own files: manifest.json and evidence.json ------------------------------------


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.write_bytes(b"the victim's own file\n")
    return victim


def _recover_into(out: Path) -> None:
    built = image([[file("etc/app.env", FIRST)]])
    timeline, _ = replay(built)
    recover(built, timeline, "/etc/app.env", out)


def test_a_manifest_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "manifest.json")
    with pytest.raises(
        OutputError, match=r"manifest\.json is a FIFO; refusing to use it"
    ) as raised:
        _recover_into(out)
    assert raised.value.exit_code == 2
    assert _everything_below(out) == ["manifest.json"]


def test_a_manifest_that_is_a_link_is_refused(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").symlink_to(victim)
    with pytest.raises(OutputError, match=r"manifest\.json is a symbolic link; refusing"):
        _recover_into(out)
    assert victim.read_bytes() == b"the victim's own file\n"
    assert _everything_below(out) == ["manifest.json"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"[" * 200_000, "nested too deeply"),
        (b'{"recovered": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}", "nested too deeply"),
        (b'{"recovered": [{"a": ' + b"[" * 500 + b"]" * 500 + b"}]}", "flat"),
        (b'{"notes": "my own file"}', "flat"),
        (b"[1, 2, 3]", "flat"),
        (b"\xff\xfe not json", "not JSON"),
    ],
    ids=["deep-list", "deep-record", "nested-record", "other-json", "list", "binary"],
)
def test_a_manifest_layerscan_did_not_write_is_left_alone(
    content: bytes, why: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_bytes(content)
    with pytest.raises(OutputError, match=f"not a layerscan manifest; refusing.*{why}"):
        _recover_into(out)
    assert (out / "manifest.json").read_bytes() == content
    assert _everything_below(out) == ["manifest.json"]


def test_a_manifest_over_16_mib_is_refused_unread(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with (out / "manifest.json").open("wb") as handle:
        handle.truncate(MAX_MANIFEST_BYTES + 1)
    with pytest.raises(OutputError, match="larger than 16 MiB"):
        _recover_into(out)


def test_an_earlier_manifest_is_kept_and_extended(tmp_path: Path) -> None:
    out = tmp_path / "out"
    built = image([[file("a", FIRST), file("b", LAST)]])
    timeline, _ = replay(built)
    recover(built, timeline, "/a", out)
    recover(built, timeline, "/b", out)
    recover(built, timeline, "/a", out)
    assert [r["original_path"] for r in _records(out)] == ["/b", "/a"]
    (out / "manifest.json").write_bytes(b"  \n")  # an empty file holds no records to keep
    recover(built, timeline, "/b", out)
    assert [r["original_path"] for r in _records(out)] == ["/b"]


@pytest.mark.parametrize("kind", ["link", "fifo", "directory"])
def test_evidence_json_is_never_written_through_a_special_file(kind: str, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "evidence.json"
    {"link": lambda: target.symlink_to(victim), "fifo": lambda: os.mkfifo(target)}.get(
        kind, target.mkdir
    )()
    with pytest.raises(OutputError, match=r"evidence\.json is a .*; refusing to use it"):
        write_json_document(out, "evidence.json", {"finding": None})
    assert victim.read_bytes() == b"the victim's own file\n"
    assert _everything_below(out) == ["evidence.json"]
