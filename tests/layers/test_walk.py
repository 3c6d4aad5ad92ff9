"""The layer walk: digests checked on the single pass, bombs stopped, odd names handled."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib

from layerscan.image.model import LayerBlob, assemble_image
from layerscan.layers.entries import EntryKind
from layerscan.layers.reader import WalkLimits
from layerscan.layers.timeline import Timeline
from layerscan.layers.walk import replay, walk
from layerscan.model.walk_log import ProblemKind, WalkLog
from layerscan.streams.compression import LayerLimits
from tests.support.synthetic import directory, file, image, layer_tar, symlink


def _problems(log: WalkLog, kind: ProblemKind) -> list[str]:
    return [p.message for p in log.problems if p.kind is kind]


def test_digests_are_checked_against_manifest_and_config() -> None:
    tar = layer_tar([file("a", "x")])
    wrong = "sha256:" + "0" * 64
    config = {"rootfs": {"diff_ids": [wrong]}, "history": [{"created_by": "step"}]}
    tampered = assemble_image(
        config_bytes=json.dumps(config).encode(),
        blobs=[LayerBlob(opener=lambda: io.BytesIO(gzip.compress(tar)), digest=wrong)],
        source="docker-archive",
        target="t",
        reference=None,
        digest=None,
    )
    _, log = replay(tampered)
    check = log.checks[0]
    assert check.verified is False
    assert check.diff_id_actual is not None and check.diff_id_actual != wrong
    mismatches = _problems(log, ProblemKind.WARNING)
    assert len(mismatches) == 2 and all("digest mismatch" in m for m in mismatches)


def test_matching_digests_verify() -> None:
    _, log = replay(image([[file("a", "x")]], compress=True))
    assert log.checks[0].verified is True


def test_a_gzip_bomb_layer_is_stopped_by_its_ratio() -> None:
    zeros = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = zeros.compress(layer_tar([file("big", b"\0" * (8 << 20))])) + zeros.flush()
    limits = WalkLimits(layer=LayerLimits(max_ratio=50, ratio_after=1 << 20))
    timeline, log = Timeline(), WalkLog()
    list(walk(image([bomb, [file("after", "y")]]), timeline, log, limits))
    [damage] = _problems(log, ProblemKind.DAMAGED)
    assert "decompression bomb" in damage
    assert "after" in timeline.versions  # the next layer was still read


def test_the_entry_limit_stops_the_walk() -> None:
    many = [file(f"f{i}") for i in range(50)]
    timeline, log = Timeline(), WalkLog()
    list(walk(image([many, [file("late")]]), timeline, log, WalkLimits(max_entries=20)))
    assert len(timeline.versions) == 20
    assert [p.layer_index for p in log.problems if p.fatal] == [0, 1]


def test_garbage_after_the_gzip_stream_loses_no_entry() -> None:
    tar = layer_tar([file("a", "x")])
    blob = gzip.compress(tar) + b"not gzip at all" * 10
    config = {"rootfs": {"diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}
    trailing = assemble_image(
        config_bytes=json.dumps(config).encode(),
        blobs=[LayerBlob(opener=lambda: io.BytesIO(blob))],
        source="docker-archive",
        target="t",
        reference=None,
        digest=None,
    )
    timeline, log = Timeline(), WalkLog()
    list(walk(trailing, timeline, log))
    assert "a" in timeline.versions
    assert log.checks[0].verified is True  # the tar inside is intact
    assert _problems(log, ProblemKind.DAMAGED) == []
    assert _problems(log, ProblemKind.WARNING) == [
        "150 bytes after the end of the compressed stream were ignored"
    ]


def test_a_directory_named_like_a_whiteout_is_content() -> None:
    timeline, _ = replay(image([[file("etc/passwd")], [directory(".wh.etc"), file(".wh.etc/x")]]))
    assert timeline.present("etc/passwd") is not None
    assert timeline.versions[".wh.etc"][0].kind is EntryKind.DIRECTORY
    assert ".wh.etc/x" in timeline.versions


def test_writes_through_a_symlinked_directory_are_literal_and_reported() -> None:
    members = [symlink("lh", "../victim"), file("lh/file", "planted")]
    timeline, log = replay(image([members]))
    assert timeline.present("lh/file") is not None
    assert any("a symlink to '../victim'" in m for m in _problems(log, ProblemKind.WARNING))


def test_absolute_and_empty_names_are_warnings() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name in ("/abs", "", "./"):
            info = tarfile.TarInfo(name)
            archive.addfile(info, io.BytesIO(b""))
    timeline, log = replay(image([raw.getvalue()]))
    assert "abs" in timeline.versions
    warnings = _problems(log, ProblemKind.WARNING)
    assert any("normalised to /abs" in m for m in warnings)
    assert any("empty name" in m for m in warnings)
    assert _problems(log, ProblemKind.SKIPPED) == []
