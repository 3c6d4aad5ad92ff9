"""Issue 19, class 3. The layer cache as an attack surface: links, foreign or shared directories,
planted and malformed rows.

Whoever can write to the cache decides what a rescan reports: rows that claim "no secret
here" for a layer holding one would be believed. So a cache directory or database that is a
link, another user's, or writable by others is refused (one warning on stderr, the scan goes
on without a cache and finds everything), and nothing is ever created or changed behind a
link. In the user's own cache every row is still read as untrusted: a row nested too deeply,
inflating without bound or of the wrong shape is a miss, never a traceback.

Each run first fills a real cache (`layerscan scan --cache-dir`) for the case's image, then
rewrites it the way an attacker would, then scans with it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.hostile import builders as b
from tests.hostile.corpus import Case, Run, finding, save, secret_layer, secret_sha
from tests.support.paths import ROOT

ROUND = 2
FINDINGS = frozenset({1})
OTHER_USER = 65534
"""nobody: the owner of a directory "another user" planted (the tests run as root)."""
BOMB_BYTES = 4 << 30
"""What a planted row inflates to: 4 GiB of zeros, stored in 4 MB."""

Verify = Callable[[int | None, bytes, bytes, Path], None]
Rewrite = Callable[[Any], bytes | str]


# --- planting ----------------------------------------------------------------------------


def _fill(folder: Path, target: str) -> Path:
    """A real cache of the target in `folder` (0700, the user's), as the command line fills
    it; its database."""
    done = subprocess.run(
        [sys.executable, "-m", "layerscan", "scan", "-q", "--cache-dir", str(folder), "--", target],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1, f"filling the cache exited {done.returncode}"
    return folder / "layers.sqlite"


def _rewrite(database: Path, change: Rewrite, digest: str | None = None) -> None:
    """Every row (layers and images) replaced by `change(parsed row)`; with `digest`, each
    layer row also records that blob digest (in its column and in its outcome)."""
    with sqlite3.connect(database) as db:
        for table, column in (("layers", "outcome"), ("images", "result")):
            for key, stored in db.execute(f"SELECT key, {column} FROM {table}").fetchall():
                document = json.loads(zlib.decompress(stored))
                if digest is not None and table == "layers":
                    document["check"][0] = digest
                    db.execute("UPDATE layers SET blob_digest = ? WHERE key = ?", (digest, key))
                db.execute(
                    f"UPDATE {table} SET {column} = ? WHERE key = ?", (change(document), key)
                )


def _packed(document: Any) -> bytes:
    return zlib.compress(json.dumps(document).encode())


def claim_clean(document: dict[str, Any]) -> bytes:
    """A layer that holds no secret, an image without a finding."""
    document["matches" if "matches" in document else "findings"] = (
        {} if "matches" in document else []
    )
    return _packed(document)


def nested(document: Any) -> bytes:
    return zlib.compress(b"[" * 200_000 + b"]" * 200_000)


def bomb(document: Any) -> bytes:
    """A zlib stream inflating to BOMB_BYTES zeros."""
    adler = (((BOMB_BYTES % 65521) << 16) | 1).to_bytes(4, "big")
    return b"\x78\x9c" + b.deflate_zeros(BOMB_BYTES) + b.FINAL_EMPTY_BLOCK + adler


def wrong_shape(document: dict[str, Any]) -> bytes:
    """Valid JSON, every field there, of the wrong types."""
    return _packed({key: {"0": [True]} for key in document})


def _planted(out: Path, target: str, name: str = "cache", mode: int = 0o700) -> Path:
    """A real cache of the target at out/`name` whose every row claims "no secret here"."""
    folder = out / name
    _rewrite(_fill(folder, target), claim_clean)
    folder.chmod(mode)
    return folder


# --- checks ------------------------------------------------------------------------------


def _reported(label: str, stdout: bytes) -> None:
    report = json.loads(stdout)
    found = [f for f in report["findings"] if f["secret_sha256"] == secret_sha(label)]
    assert found, f"the planted {label!r} secret was not reported (the cache was believed)"


def _stderr_lines(stderr: bytes) -> list[str]:
    lines = stderr.decode("utf-8", "replace").splitlines()
    return [line.removeprefix("layerscan: ") for line in lines]


def refused(label: str, reason: str) -> Verify:
    """Exactly one warning naming the cache and why, and the secret found without it."""

    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        wanted = f"warning: not using the layer cache at {out}/cache: {reason}; scanning without it"
        assert _stderr_lines(stderr) == [wanted], f"stderr: {_stderr_lines(stderr)}"
        _reported(label, stdout)

    return verify


def missed(label: str) -> Verify:
    """Nothing on stderr (a bad row is logged at INFO only), and the secret found."""

    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        assert stderr == b"", f"stderr: {_stderr_lines(stderr)}"
        _reported(label, stdout)

    return verify


def _scan(target: str, label: str, prepare: Callable[[Path], None], verify: Verify) -> Run:
    return Run(
        args=("scan", "-f", "json", "--cache-dir", "{out}/cache", "--", target),
        codes=FINDINGS,
        label=label,
        prepare=prepare,
        verify=verify,
        json=True,
    )


# --- the cases ---------------------------------------------------------------------------


def _build(label: str) -> Callable[[Path], str]:
    def build(work: Path) -> str:
        return save(work, [secret_layer(label)])

    return build


def link_runs(target: str) -> list[Run]:
    label = "cache-link"

    def to_victim(out: Path) -> None:
        (out / "cache").symlink_to("../victim")

    def dangling(out: Path) -> None:
        (out / "cache").symlink_to("../victim/new-cache")

    def to_a_lying_private_cache(out: Path) -> None:
        _planted(out, target, "private")
        (out / "cache").symlink_to("private")

    return [
        _scan(target, "link to the victim", to_victim, refused(label, "it is a symbolic link")),
        _scan(target, "dangling link", dangling, refused(label, "it is a symbolic link")),
        _scan(
            target,
            "link to a private cache that lies",
            to_a_lying_private_cache,
            refused(label, "it is a symbolic link"),
        ),
    ]


def shared_runs(target: str) -> list[Run]:
    label = "cache-shared"

    def writable_by_others(out: Path) -> None:
        _planted(out, target, mode=0o1777)

    def writable_by_group(out: Path) -> None:
        _planted(out, target, mode=0o770)

    def another_users(out: Path) -> None:
        folder = _planted(out, target, mode=0o755)
        for path in (folder, *folder.iterdir()):
            os.chown(path, OTHER_USER, OTHER_USER)

    return [
        _scan(
            target,
            "world-writable, rows claiming no secret",
            writable_by_others,
            refused(label, "it is writable by others"),
        ),
        _scan(
            target,
            "group-writable, rows claiming no secret",
            writable_by_group,
            refused(label, "it is writable by its group"),
        ),
        _scan(
            target,
            "another user's, rows claiming no secret",
            another_users,
            refused(label, f"it belongs to another user (uid {OTHER_USER})"),
        ),
    ]


def database_runs(target: str) -> list[Run]:
    label = "cache-database"

    def private_dir(out: Path) -> Path:
        folder = out / "cache"
        folder.mkdir(mode=0o700)
        return folder

    def database_link(out: Path) -> None:
        (private_dir(out) / "layers.sqlite").symlink_to("../../victim/secret.txt")

    def journal_link(out: Path) -> None:
        folder = _planted(out, target)
        (folder / "layers.sqlite-journal").symlink_to("../../victim/secret.txt")

    def database_fifo(out: Path) -> None:
        os.mkfifo(private_dir(out) / "layers.sqlite", 0o600)

    def another_users_database(out: Path) -> None:
        folder = _planted(out, target)
        os.chown(folder / "layers.sqlite", OTHER_USER, OTHER_USER)

    database = "its database layers.sqlite"
    return [
        _scan(
            target,
            "database a link to the victim",
            database_link,
            refused(label, f"{database} is a symbolic link"),
        ),
        _scan(
            target,
            "journal a link to the victim",
            journal_link,
            refused(label, "its file layers.sqlite-journal is a symbolic link"),
        ),
        _scan(
            target,
            "database a FIFO",
            database_fifo,
            refused(label, f"{database} is not a regular file"),
        ),
        _scan(
            target,
            "database another user's, rows claiming no secret",
            another_users_database,
            refused(label, f"{database} belongs to another user (uid {OTHER_USER})"),
        ),
    ]


def row_runs(target: str) -> list[Run]:
    label = "cache-rows"

    def rows(change: Rewrite, digest: str | None = None) -> Callable[[Path], None]:
        def prepare(out: Path) -> None:
            _rewrite(_fill(out / "cache", target), change, digest)

        return prepare

    other_bytes = "sha256:" + "0" * 64
    return [
        _scan(target, "rows nested 200,000 deep", rows(nested), missed(label)),
        _scan(target, "rows inflating to 4 GiB", rows(bomb), missed(label)),
        _scan(target, "rows of the wrong shape", rows(wrong_shape), missed(label)),
        _scan(target, "rows of text, not blobs", rows(lambda d: json.dumps(d)), missed(label)),
        _scan(
            target,
            "rows claiming no secret for other bytes",
            rows(claim_clean, other_bytes),
            missed(label),
        ),
    ]


CASES: tuple[Case, ...] = (
    Case(
        "cache-dir-is-a-link",
        3,
        "--cache-dir a symlink: to the victim, dangling into it, to a private cache that lies",
        _build("cache-link"),
        FINDINGS,
        finding("cache-link", "/cache-link.env", 0),
        issue_round=ROUND,
        runs=link_runs,
    ),
    Case(
        "cache-dir-shared",
        3,
        "a cache of rows claiming no secret, world- or group-writable or another user's",
        _build("cache-shared"),
        FINDINGS,
        finding("cache-shared", "/cache-shared.env", 0),
        issue_round=ROUND,
        runs=shared_runs,
    ),
    Case(
        "cache-database-not-private",
        3,
        "the cache's database or journal a link to the victim, a FIFO, another user's",
        _build("cache-database"),
        FINDINGS,
        finding("cache-database", "/cache-database.env", 0),
        issue_round=ROUND,
        runs=database_runs,
    ),
    Case(
        "cache-rows-malformed",
        3,
        "the user's own cache, rows nested deep, a zlib bomb, wrong shapes, other digests",
        _build("cache-rows"),
        FINDINGS,
        finding("cache-rows", "/cache-rows.env", 0),
        issue_round=ROUND,
        runs=row_runs,
    ),
)
