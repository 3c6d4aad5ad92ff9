"""Issue 19, class 7. Spooling bounded by --max-image-bytes in every command and by the
free space.

A compressed image tarball or a stream on stdin must be spooled before it can be read; the
spool stops at --max-image-bytes (scan, baseline, layers, history and recover all take it),
fails in one line, and leaves nothing behind in TMPDIR (the oracle checks TMPDIR is empty).
The free-space guard is tested against a real small filesystem in tests/image/test_spool.py.
"""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import zstandard

from tests.hostile import builders as b
from tests.hostile.corpus import Case, Run, secret_layer

ROUND = 2
REFUSED = frozenset({2})
CAP = "50000000"
"""--max-image-bytes of the runs: 50 MB, under the 200 MB the images hold."""
BOMB_BYTES = 200 << 20


def _bomb_members(label: str) -> bytes:
    """A docker save whose one layer is 200 MB of zeros (and a secret file after them)."""
    zeros = b.regular("zeros.bin", bytes(BOMB_BYTES))
    layer = b.plain_layer([zeros, b.regular(f"{label}.env", b.secret_file(label))])
    return b.tar_bytes(b.docker_save([layer]))


def _write(work: Path, name: str, data: bytes) -> str:
    folder = work / "image"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return str(path)


def build_gzip_many_members(work: Path) -> str:
    """200 layer-sized members of 1 MB: the cap is reached after 50 were spooled, which are
    removed with the rest of the spool."""
    members = [b.regular(f"junk/{number}.bin", bytes(1 << 20)) for number in range(200)]
    image = b.docker_save([secret_layer("spool-many")])
    return _write(work, "image.tar.gz", gzip.compress(b.tar_bytes([*members, *image]), 1))


def build_gzip_bomb_save(work: Path) -> str:
    return _write(work, "image.tar.gz", gzip.compress(_bomb_members("spool-gzip"), 1))


def build_zstd_bomb_save(work: Path) -> str:
    return _write(
        work,
        "image.tar.zst",
        zstandard.ZstdCompressor(level=1).compress(_bomb_members("spool-zstd")),
    )


def build_xz_bomb_save(work: Path) -> str:
    return _write(work, "image.tar.xz", lzma.compress(_bomb_members("spool-xz"), preset=0))


def _refused_in_one_line(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
    text = stderr.decode("utf-8", "replace")
    assert "spool limit" in text and "--max-image-bytes" in text, text[-300:]


def _every_command(target: str) -> tuple[Run, ...]:
    """scan, baseline, layers, history and recover, each with the cap: each refuses."""
    cap = ("--max-image-bytes", CAP)
    return (
        Run(
            ("scan", "-f", "json", *cap, "--", target), REFUSED, "scan", None, _refused_in_one_line
        ),
        Run(
            ("baseline", "-o", "{out}/baseline.json", *cap, "--", target),
            REFUSED,
            "baseline",
            None,
            _refused_in_one_line,
        ),
        Run(("layers", *cap, "--", target), REFUSED, "layers", None, _refused_in_one_line),
        Run(("history", *cap, "--", target), REFUSED, "history", None, _refused_in_one_line),
        Run(
            ("recover", "-o", "{out}", *cap, "--", target, "/zeros.bin"),
            REFUSED,
            "recover",
            None,
            _refused_in_one_line,
        ),
    )


CASES: tuple[Case, ...] = (
    Case(
        "spool-gzip-many-members-capped",
        7,
        "a gzip save of 200 members of 1 MB before the image, every command capped at 50 MB",
        build_gzip_many_members,
        REFUSED,
        lambda observed: None,
        issue_round=ROUND,
        runs=_every_command,
        own_runs_only=True,
    ),
    Case(
        "spool-gzip-save-capped",
        7,
        "a gzip-compressed docker save holding 200 MB, every command capped at 50 MB",
        build_gzip_bomb_save,
        REFUSED,
        lambda observed: None,
        issue_round=ROUND,
        runs=_every_command,
        own_runs_only=True,
    ),
    Case(
        "spool-zstd-save-capped",
        7,
        "a zstd-compressed docker save holding 200 MB, every command capped at 50 MB",
        build_zstd_bomb_save,
        REFUSED,
        lambda observed: None,
        issue_round=ROUND,
        runs=_every_command,
        own_runs_only=True,
    ),
    Case(
        "spool-xz-save-capped",
        7,
        "an xz-compressed docker save holding 200 MB, scan capped at 50 MB",
        build_xz_bomb_save,
        REFUSED,
        lambda observed: None,
        issue_round=ROUND,
        runs=lambda target: _every_command(target)[:1],
        own_runs_only=True,
    ),
)
