"""`extract` lays out every layer, the final filesystem and every removed version, writing
only inside its directory (issue 14). Shapes a real build cannot make (opaque markers,
duplicate names, hostile names, devices) are assembled in memory; the real images are
extracted in tests/cli/test_evidence_commands.py."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from layerscan.errors import OutputError
from layerscan.layers.extract import ExtractOptions, Part, extract
from layerscan.model.safe_text import printable
from tests.support.synthetic import (
    Member,
    directory,
    file,
    hardlink,
    image,
    layer_tar,
    opaque,
    symlink,
    whiteout,
)

KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nfabricated for the extract tests\n"
FIRST = b"first version\n"
LAST = b"last version, longer than the first\n"


def _manifest(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return document


def _records(out: Path, path: str) -> dict[str, dict[str, Any]]:
    """The records of one image path, by the view they were written to."""
    return {
        (record["written_to"] or record.get("would_be") or "none").split("/", 1)[0]: record
        for record in _manifest(out)["records"]
        if record["path"] == printable(path)  # as JSON shows a name that is not UTF-8
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*"))


LAYERED = image(
    [
        [directory("etc"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), directory("srv")],
        [directory("root"), directory("root/.ssh"), file("root/.ssh/id_rsa", KEY, 0o600)],
        [whiteout("root/.ssh/id_rsa")],
        [file("srv/config.yml", FIRST), file("srv/cache/a", b"a"), file("srv/cache/b", b"b")],
        [file("srv/config.yml", LAST), opaque("srv/cache"), file("srv/cache/c", b"c")],
    ]
)


def test_a_deleted_key_is_under_removed_with_its_hash_and_not_in_rootfs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = extract(LAYERED, out)
    assert summary.complete and summary.verified
    assert (out / "removed/layer-1/root/.ssh/id_rsa").read_bytes() == KEY
    assert not (out / "rootfs/root/.ssh/id_rsa").exists()
    assert (out / "rootfs/root/.ssh").is_dir()
    records = _records(out, "/root/.ssh/id_rsa")
    assert records["removed"]["sha256"] == _sha(KEY)
    assert records["removed"]["status"] == "deleted" and records["removed"]["removed_by"] == 2
    assert records["layers"]["written_to"].startswith("layers/01-")
    assert records["layers"]["sha256"] == _sha(KEY)
    # the layer's own view: the file as shipped, the deleting layer lists its whiteout
    [layer1] = [p for p in (out / "layers").iterdir() if p.name.startswith("01-")]
    assert (layer1 / "root/.ssh/id_rsa").read_bytes() == KEY
    [layer2] = [p for p in (out / "layers").iterdir() if p.name.startswith("02-")]
    assert json.loads((layer2 / "whiteouts.json").read_text()) == [
        {"kind": "whiteout", "path": "/root/.ssh/id_rsa", "marker": "/root/.ssh/.wh.id_rsa"}
    ]
    assert not list(layer2.rglob(".wh.*"))


def test_overwritten_and_opaque_hidden_versions_are_removed_and_rootfs_is_final(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    extract(LAYERED, out)
    assert (out / "rootfs/srv/config.yml").read_bytes() == LAST
    assert (out / "removed/layer-3/srv/config.yml").read_bytes() == FIRST
    assert sorted(p.name for p in (out / "rootfs/srv/cache").iterdir()) == ["c"]
    assert (out / "removed/layer-3/srv/cache/a").read_bytes() == b"a"
    assert _records(out, "/srv/cache/a")["removed"]["status"] == "deleted"
    assert _records(out, "/srv/config.yml")["removed"]["status"] == "overwritten"
    [layer4] = [p for p in (out / "layers").iterdir() if p.name.startswith("04-")]
    assert json.loads((layer4 / "whiteouts.json").read_text())[0]["kind"] == "opaque"
    document = _manifest(out)
    assert document["complete"] is True
    assert [layer["index"] for layer in document["layers"]] == [0, 1, 2, 3, 4]
    assert document["image"]["reference"] == "synthetic:test"


def test_every_record_names_a_file_holding_its_hash_and_the_views_share_one_copy(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    extract(LAYERED, out)
    files = [r for r in _manifest(out)["records"] if r["kind"] == "file"]
    assert files
    for record in files:
        assert _sha((out / record["written_to"]).read_bytes()) == record["sha256"]
    layer_copy = next(r for r in files if r["written_to"].startswith("layers/00-"))
    root_copy = out / "rootfs/etc/passwd"
    assert os.stat(out / layer_copy["written_to"]).st_ino == os.stat(root_copy).st_ino


def test_a_hard_link_holds_the_version_it_linked_to_not_a_later_one(tmp_path: Path) -> None:
    shapes = image([[file("a", FIRST), hardlink("b", "a"), file("a", LAST)]])
    out = tmp_path / "out"
    extract(shapes, out)
    assert (out / "rootfs/a").read_bytes() == LAST
    assert (out / "rootfs/b").read_bytes() == FIRST
    assert _records(out, "/b")["rootfs"]["sha256"] == _sha(FIRST)
    # the superseded first `a` is in no view but is recorded as replaced
    first_a = [r for r in _manifest(out)["records"] if r["path"] == "/a" and r["sha256"] is None]
    assert first_a and "replaced" in first_a[0]["note"]


def test_links_devices_and_fifos_are_recorded_not_created(tmp_path: Path) -> None:
    shapes = image(
        [
            [
                symlink("etc/shadow-link", "/etc/shadow"),
                Member("dev/sda", kind=tarfile.BLKTYPE),
                Member("dev/tty0", kind=tarfile.CHRTYPE),
                Member("run/pipe", kind=tarfile.FIFOTYPE),
                file("bin/tool", b"#!/bin/sh\n", 0o6755),
            ]
        ]
    )
    out = tmp_path / "out"
    extract(shapes, out)
    for path in _tree(out):
        mode = os.lstat(out / path).st_mode
        assert stat.S_ISDIR(mode) or stat.S_ISREG(mode), path
        assert not mode & (stat.S_ISUID | stat.S_ISGID), path
    assert _records(out, "/etc/shadow-link")["rootfs"]["link_target"] == "/etc/shadow"
    assert "never created" in _records(out, "/dev/sda")["rootfs"]["note"]
    assert "never created" in _records(out, "/run/pipe")["layers"]["note"]
    assert _records(out, "/bin/tool")["rootfs"]["mode"] == oct(0o6755)
    assert stat.S_IMODE(os.stat(out / "rootfs/bin/tool").st_mode) == 0o755


def test_with_symlinks_links_are_created_and_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_bytes(b"the victim's file\n")
    shapes = image(
        [
            [symlink("escape", str(victim)), file("escape/keep", b"overwritten!\n")],
            [symlink("up", "../../victim"), file("up/new", b"planted\n")],
        ]
    )
    out = tmp_path / "out"
    summary = extract(shapes, out, ExtractOptions(symlinks=True))
    assert (victim / "keep").read_bytes() == b"the victim's file\n"
    assert sorted(p.name for p in victim.iterdir()) == ["keep"]
    assert os.readlink(out / "layers" / _layer_dir(out, 0) / "escape") == str(victim)
    assert "not a directory" in _records(out, "/escape/keep")["layers"]["note"]
    assert not summary.complete  # a file of the image is not on disk: said, not hidden


def _layer_dir(out: Path, index: int) -> str:
    [found] = [p.name for p in (out / "layers").iterdir() if p.name.startswith(f"{index:02d}-")]
    return found


def test_hostile_names_are_escaped_and_their_bytes_kept(tmp_path: Path) -> None:
    escape = "evil\x1b]52;c;cGF5bG9hZA==\x07name"
    undecodable = b"caf\xc3".decode("utf-8", "surrogateescape")
    long_name = "x" * 300
    shapes = image(
        [
            [
                file(escape, b"1"),
                file(undecodable, b"2"),
                file(f"d/{long_name}", b"3"),
                file("whiteouts.json", b"image content, not ours"),
                file("100%", b"4"),
            ]
        ]
    )
    out = tmp_path / "out"
    assert extract(shapes, out).complete
    names = sorted(os.listdir(out / "rootfs"))
    assert all(ch.isprintable() for name in names for ch in name), names
    record = _records(out, "/" + escape)["rootfs"]
    assert bytes.fromhex(record["path_hex"]) == ("/" + escape).encode()
    assert (out / record["written_to"]).read_bytes() == b"1"
    assert bytes.fromhex(_records(out, "/" + undecodable)["rootfs"]["path_hex"]) == b"/caf\xc3"
    long_record = _records(out, f"/d/{long_name}")["rootfs"]
    assert len(long_record["written_to"].rsplit("/", 1)[1].encode()) <= 255
    assert (out / long_record["written_to"]).read_bytes() == b"3"
    layer = out / "layers" / _layer_dir(out, 0)
    assert json.loads((layer / "whiteouts.json").read_text()) == []
    assert (layer / "%77hiteouts.json").read_bytes() == b"image content, not ours"
    assert (out / "rootfs/100%25").read_bytes() == b"4"


def test_only_layer_and_path_narrow_what_is_written(tmp_path: Path) -> None:
    only_rootfs = tmp_path / "rootfs-only"
    extract(LAYERED, only_rootfs, ExtractOptions(parts=frozenset({Part.ROOTFS})))
    assert sorted(p.name for p in only_rootfs.iterdir()) == ["manifest.json", "rootfs"]
    assert (only_rootfs / "rootfs/srv/config.yml").read_bytes() == LAST

    only_removed = tmp_path / "removed-only"
    extract(LAYERED, only_removed, ExtractOptions(parts=frozenset({Part.REMOVED})))
    assert sorted(p.name for p in only_removed.iterdir()) == ["manifest.json", "removed"]
    assert (only_removed / "removed/layer-1/root/.ssh/id_rsa").read_bytes() == KEY

    one_layer = tmp_path / "layer-3"
    extract(LAYERED, one_layer, ExtractOptions(layers=frozenset({3})))
    assert [p.name[:2] for p in (one_layer / "layers").iterdir()] == ["03"]
    assert sorted(p.name for p in (one_layer / "removed").iterdir()) == ["layer-3"]
    assert not (one_layer / "rootfs/etc").exists()

    ssh = tmp_path / "ssh"
    extract(LAYERED, ssh, ExtractOptions(paths=("/root/.ssh",)))
    written = [r["path"] for r in _manifest(ssh)["records"] if r["written_to"]]
    assert set(written) == {"/root/.ssh", "/root/.ssh/id_rsa"}


def test_a_layer_listed_twice_is_read_once_and_both_layer_views_hold_it(tmp_path: Path) -> None:
    blob = layer_tar([file("opt/tool", b"tool bytes")])
    twice = image([blob, blob])
    out = tmp_path / "out"
    summary = extract(twice, out)
    assert summary.complete
    first, second = (out / "layers" / _layer_dir(out, i) / "opt/tool" for i in (0, 1))
    assert first.read_bytes() == second.read_bytes() == b"tool bytes"
    assert (out / "removed/layer-0/opt/tool").read_bytes() == b"tool bytes"


def test_a_damaged_layer_gives_what_could_be_read_and_an_incomplete_manifest(
    tmp_path: Path,
) -> None:
    whole = layer_tar([file("a", b"A" * 4096), file("b", b"B" * 100_000)])
    cut = whole[: 512 + 4096 + 512 + 20_000]  # header of b, then part of its bytes
    damaged = image([[file("base", b"base")], cut])
    out = tmp_path / "out"
    summary = extract(damaged, out)
    assert not summary.complete
    assert (out / "rootfs/a").read_bytes() == b"A" * 4096
    assert _manifest(out)["complete"] is False
    note = _records(out, "/b")["rootfs"].get("note", "")
    assert "truncated" in note
    assert any("damaged" in problem for problem in _manifest(out)["problems"])


def test_a_file_over_max_size_is_recorded_not_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = extract(LAYERED, out, ExtractOptions(max_file_size=10))
    assert not summary.complete
    assert "over --max-size" in _records(out, "/etc/passwd")["layers"]["note"]
    assert not (out / "rootfs/etc/passwd").exists()


def test_a_tree_thousands_deep_is_written_without_recursion(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 2500)
    out = tmp_path / "out"
    assert extract(image([[file(f"{deep}/leaf", b"deep")]]), out).complete
    record = _records(out, f"/{deep}/leaf")["rootfs"]
    assert record["sha256"] == _sha(b"deep")
    subprocess.run(["rm", "-rf", "--", str(out)], check=True)  # pytest's cleanup recurses


def test_a_directory_that_is_not_empty_or_is_a_link_is_refused(tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "manifest.json").symlink_to("/etc/passwd")
    with pytest.raises(OutputError, match="not empty"):
        extract(LAYERED, busy)
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(OutputError, match="symbolic link"):
        extract(LAYERED, link)
    assert list(real.iterdir()) == []
