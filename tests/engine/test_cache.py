"""The layer cache: cached, uncached and partly cached scans give the same report; a corrupt
cache, a tampered blob or other rules never turn into a wrong result."""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from fixtures import build as fixture_build
from layerscan.engine.cache import LayerCache
from layerscan.engine.document import build_document
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import build_engine, open_cache, scan, scan_image
from layerscan.image.open import open_image
from tests.support.command import layerscan
from tests.support.damage import rewrite_layer, truncate_layer
from tests.support.paths import BUNDLED_DEMO, ROOT


def _report(target: Path | str, cache_dir: Path | None, **extra: Any) -> dict[str, Any]:
    document = build_document(scan(str(target), ScanOptions(cache_dir=cache_dir, **extra)))
    document["summary"].pop("seconds")
    return document


def _scan_counting(
    target: Path | str, cache_dir: Path, **extra: Any
) -> tuple[dict[str, Any], LayerCache]:
    """A scan whose cache can be asked how many layers it served."""
    options = ScanOptions(cache_dir=cache_dir, **extra)
    engine = build_engine(options)
    cache = open_cache(options)
    assert cache is not None
    with open_image(str(target)) as image, engine.session():
        document = build_document(scan_image(image, engine, options, cache=cache))
    cache.close()
    document["summary"].pop("seconds")
    return document, cache


def test_cold_and_warm_scans_equal_an_uncached_one(tmp_path: Path) -> None:
    uncached = _report(BUNDLED_DEMO, None)
    cold, first = _scan_counting(BUNDLED_DEMO, tmp_path)
    warm, second = _scan_counting(BUNDLED_DEMO, tmp_path)
    assert (first.hits, first.misses) == (0, 10)
    assert (second.hits, second.misses) == (10, 0)
    assert cold == uncached and warm == uncached
    assert len(warm["findings"]) == 15  # 14 secrets and the demo running as root


def test_images_sharing_layers_rescan_only_their_own(
    built_images: dict[str, str], tmp_path: Path
) -> None:
    """The planted image and the clean one share their base: the second scan takes it from
    the cache, and its report is the same as without the cache."""
    saved = {}
    for name in ("clean", "planted"):
        saved[name] = tmp_path / f"{name}.tar"
        fixture_build.save(built_images[name], saved[name])
    _scan_counting(saved["clean"], tmp_path / "cache")
    planted, cache = _scan_counting(saved["planted"], tmp_path / "cache")
    assert cache.hits >= 1 and cache.misses >= 1
    assert planted == _report(saved["planted"], None)


def test_the_cache_is_private_and_no_cache_writes_nothing(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    run = layerscan("scan", str(BUNDLED_DEMO), "--cache-dir", str(cache_dir), "-q")
    assert run.code == 1, run.stderr
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((cache_dir / "layers.sqlite").stat().st_mode) == 0o600
    other = tmp_path / "unused"
    run = layerscan("scan", str(BUNDLED_DEMO), "--cache-dir", str(other), "--no-cache", "-q")
    assert run.code == 1 and not other.exists()


def test_a_corrupt_database_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "layers.sqlite").write_bytes(b"this is not a database" * 100)
    assert _report(BUNDLED_DEMO, tmp_path) == _report(BUNDLED_DEMO, None)
    rows = sqlite3.connect(tmp_path / "layers.sqlite").execute("SELECT count(*) FROM layers")
    assert rows.fetchone()[0] == 10


def test_a_corrupt_or_foreign_entry_is_a_miss(tmp_path: Path) -> None:
    _report(BUNDLED_DEMO, tmp_path)
    with sqlite3.connect(tmp_path / "layers.sqlite") as database:
        keys = [row[0] for row in database.execute("SELECT key FROM layers ORDER BY key")]
        database.execute("UPDATE layers SET outcome = ? WHERE key = ?", (b"garbage", keys[0]))
        foreign = json.dumps({"entries": [["x", "file", 1, 0, 0, 0, 0, None]], "matches": {}})
        database.execute(
            "UPDATE layers SET outcome = ? WHERE key = ?",
            (zlib.compress(foreign.encode()), keys[1]),
        )
    document, cache = _scan_counting(BUNDLED_DEMO, tmp_path)
    assert cache.misses == 2 and cache.hits == 8
    assert document == _report(BUNDLED_DEMO, None)


def _append_members(layer: bytes, extra: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(layer)) as old,
        tarfile.open(fileobj=buffer, mode="w") as new,
    ):
        for info in old.getmembers():
            new.addfile(info, old.extractfile(info) if info.isreg() else None)
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_tampered_layer_is_scanned_not_served_from_the_cache(
    tmp_path: Path, credentials: Any
) -> None:
    _report(BUNDLED_DEMO, tmp_path / "cache")
    token = credentials.github_token
    planted = {"srv/app/planted.env": f"TOKEN={token}\n".encode()}
    tampered = rewrite_layer(
        BUNDLED_DEMO, 8, lambda layer: _append_members(layer, planted), tmp_path / "t.tar"
    )
    document, cache = _scan_counting(tampered, tmp_path / "cache")
    assert cache.misses == 1 and cache.hits == 9
    layer = document["layers"][8]
    assert layer["verified"] is False
    assert any(f["path"] == "/srv/app/planted.env" for f in document["findings"])
    assert document == _report(tampered, None)


def test_other_rules_or_options_do_not_reuse_entries(tmp_path: Path) -> None:
    _report(BUNDLED_DEMO, tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: busybox-banner\n"
        "    title: BusyBox version banner\n"
        "    severity: low\n"
        "    regex: '(?P<secret>BusyBox v1\\.[0-9.]+)'\n"
    )
    with_rule, cache = _scan_counting(BUNDLED_DEMO, tmp_path, rules_files=(rules,))
    assert cache.hits == 0
    assert any(f["rule"] == "busybox-banner" for f in with_rule["findings"])
    smaller, cache = _scan_counting(BUNDLED_DEMO, tmp_path, max_file_bytes=4096)
    assert cache.hits == 0 and smaller["summary"]["skipped"]["over size limit"] >= 1


@pytest.mark.parametrize("damage", ["truncated"])
def test_a_damaged_layer_is_never_cached(tmp_path: Path, damage: str) -> None:
    damaged = truncate_layer(BUNDLED_DEMO, 3, tmp_path / f"{damage}.tar")
    _scan_counting(damaged, tmp_path / "cache")
    document, cache = _scan_counting(damaged, tmp_path / "cache")
    assert cache.misses == 1 and cache.hits == 9
    assert document["summary"]["complete"] is False


def test_a_manifest_that_names_other_bytes_is_not_served_from_the_cache(tmp_path: Path) -> None:
    """Same layer bytes (so the same diff_id), but the manifest now claims another digest:
    the cached outcome said "verified", the report must say "tampered"."""
    from tests.hostile import builders
    from tests.hostile.corpus import TAMPERED_CLAIM, _digest_mismatch_layers, oci_archive

    honest = oci_archive(tmp_path / "honest", builders.oci_layout(_digest_mismatch_layers()))
    tampered = oci_archive(
        tmp_path / "tampered",
        builders.oci_layout(_digest_mismatch_layers(), claimed_digests=[TAMPERED_CLAIM, None]),
    )
    _scan_counting(honest, tmp_path / "cache")
    document, cache = _scan_counting(tampered, tmp_path / "cache")
    assert cache.hits == 1 and cache.misses == 1
    assert document["layers"][0]["verified"] is False
    assert any(TAMPERED_CLAIM in warning for warning in document["warnings"])
    assert document == _report(tampered, None)


def _hashes_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the blobs the cache hashes (the real hashing still runs)."""
    from layerscan.engine import cache as cache_module

    hashed: list[int] = []
    real = cache_module.blob_digest

    def counting(layer: Any) -> str:
        hashed.append(layer.index)
        return real(layer)

    monkeypatch.setattr(cache_module, "blob_digest", counting)
    return hashed


def test_an_unchanged_image_file_is_not_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cold scan remembers each blob's file state; the rescan trusts it, hashes
    nothing, and reports the same (verified) layers."""
    import layerscan.engine.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0.0)  # the copy was made just now
    target = tmp_path / "demo.tar"
    target.write_bytes(BUNDLED_DEMO.read_bytes())
    cold, _ = _scan_counting(target, tmp_path / "cache")
    hashed = _hashes_counted(monkeypatch)
    warm, cache = _scan_counting(target, tmp_path / "cache")
    assert cache.hits == 10 and hashed == []
    assert warm == cold == _report(target, None)
    assert all(layer["verified"] is True for layer in warm["layers"])


def test_a_rewritten_image_file_is_hashed_and_its_changed_layer_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credentials: Any
) -> None:
    """Rewriting the file in place, same size and mtime put back, still changes its ctime:
    every blob is hashed again and the changed layer is scanned, not served."""
    import os

    import layerscan.engine.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0.0)
    target = tmp_path / "demo.tar"
    target.write_bytes(BUNDLED_DEMO.read_bytes())
    _scan_counting(target, tmp_path / "cache")
    token = credentials.github_token
    planted = {"srv/app/planted.env": f"TOKEN={token}\n".encode()}
    original = target.stat()
    tampered = rewrite_layer(
        BUNDLED_DEMO, 8, lambda layer: _append_members(layer, planted), tmp_path / "t.tar"
    )
    with open(target, "r+b") as handle:  # same inode, new bytes
        handle.write(tampered.read_bytes())
        handle.truncate()
    os.utime(target, ns=(original.st_atime_ns, original.st_mtime_ns))
    hashed = _hashes_counted(monkeypatch)
    document, cache = _scan_counting(target, tmp_path / "cache")
    assert len(hashed) >= 9 and cache.misses >= 1
    assert any(f["path"] == "/srv/app/planted.env" for f in document["findings"])
    assert document == _report(target, None)


def test_a_file_changed_moments_before_it_was_read_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within RACY_SECONDS of its last change a file's timestamps could miss a second write:
    such a file is hashed again on every scan until it has been still long enough."""
    import layerscan.engine.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 3600.0)  # "moments" however slow the run
    target = tmp_path / "demo.tar"
    target.write_bytes(BUNDLED_DEMO.read_bytes())  # changed just now
    _scan_counting(target, tmp_path / "cache")
    hashed = _hashes_counted(monkeypatch)
    _, cache = _scan_counting(target, tmp_path / "cache")
    assert cache.hits == 10 and sorted(hashed) == list(range(10))


def _json_report(*args: str) -> tuple[dict[str, Any], str]:
    """`layerscan scan ... -f json -v` run as a user would: (report, stderr)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"
        run = layerscan("scan", *args, "-f", "json", "-o", str(out), "-v", "--fail-on", "never")
        assert run.code == 0, run.stderr
        document = json.loads(out.read_text())
    document["summary"].pop("seconds")
    return document, run.stderr


def test_a_rescan_of_the_same_image_reuses_its_result_and_reports_the_same(
    tmp_path: Path,
) -> None:
    cache = ["--cache-dir", str(tmp_path / "cache")]
    uncached, _ = _json_report(str(BUNDLED_DEMO), "--no-cache")
    cold, cold_log = _json_report(str(BUNDLED_DEMO), *cache)
    warm, warm_log = _json_report(str(BUNDLED_DEMO), *cache)
    assert "results reused" not in cold_log and "results reused" in warm_log
    assert warm == cold == uncached
    with sqlite3.connect(tmp_path / "cache" / "layers.sqlite") as db:
        db.execute("UPDATE images SET result = ?", (zlib.compress(b'{"findings": 7}'),))
    again, again_log = _json_report(str(BUNDLED_DEMO), *cache)
    assert "results reused" not in again_log
    assert "cache entry for the image unusable (the result is not an object" in again_log
    assert again == uncached


def test_an_edited_rules_file_is_not_served_from_the_cache(tmp_path: Path) -> None:
    """The key hashes the rules files' text: the same file, edited, is other rules."""
    rules = tmp_path / "rules.yaml"
    rule = (
        "rules:\n"
        "  - id: busybox-banner\n"
        "    title: BusyBox version banner\n"
        "    severity: {}\n"
        "    regex: '(?P<secret>BusyBox v1\\.[0-9.]+)'\n"
    )
    rules.write_text(rule.format("low"))
    args = (str(BUNDLED_DEMO), "--rules", str(rules))
    _json_report(*args, "--cache-dir", str(tmp_path / "cache"))
    rules.write_text(rule.format("high"))
    edited, log = _json_report(*args, "--cache-dir", str(tmp_path / "cache"))
    assert "results reused" not in log and "taken from the cache" not in log
    assert {f["severity"] for f in edited["findings"] if f["rule"] == "busybox-banner"} == {"high"}
    assert edited == _json_report(*args, "--no-cache")[0]


_PROBE = """
import sys
from layerscan.cli.app import app
code = 0
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(code, " ".join(sorted(sys.modules)))
"""
_DETECTORS = {
    "detect_secrets",
    "magic",
    "yaml",
    "layerscan.detect.engine",
    "layerscan.content.dispatch",
    "layerscan.engine.image_scan",
}


def _modules_loaded_by_scan(*args: str) -> tuple[set[str], str]:
    """`layerscan scan ARGS -v` in a fresh process: (the modules it imported, stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "scan", *args, "-v", "--fail-on", "never"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    code, *modules = done.stdout.split()
    assert done.returncode == 0 and code in ("0", "None"), done.stderr
    return set(modules), done.stderr


def test_a_rescan_served_by_the_cache_loads_no_detector(tmp_path: Path) -> None:
    """What makes a cached rescan cheap: it imports neither detect-secrets nor the content
    readers, and parses no rules (no YAML); the scan that filled the cache needed them all."""
    args = (str(BUNDLED_DEMO), "--cache-dir", str(tmp_path / "cache"), "-o", str(tmp_path / "r"))
    cold, _ = _modules_loaded_by_scan(*args)
    warm, log = _modules_loaded_by_scan(*args)
    assert cold >= _DETECTORS, _DETECTORS - cold
    assert "results reused" in log
    assert "layerscan.engine.scan" in warm and not _DETECTORS & warm
    assert "tabulate" not in warm  # the JSON report draws no table


def test_an_image_with_the_same_layers_and_another_config_is_scanned_again(
    tmp_path: Path, credentials: Any
) -> None:
    """Same layers, other config (an ENV added): the layers come from the cache, the
    findings are worked out again, the config's secret among them."""
    token = credentials.github_token
    changed = tmp_path / "changed.tar"
    with tarfile.open(BUNDLED_DEMO) as source, tarfile.open(changed, "w") as target:
        [entry] = json.load(source.extractfile("manifest.json"))  # type: ignore[arg-type]
        for info in source.getmembers():
            data = source.extractfile(info).read() if info.isreg() else None  # type: ignore[union-attr]
            if info.name == entry["Config"] and data is not None:
                config = json.loads(data)
                config["config"]["Env"] = [*config["config"].get("Env", []), f"CI_TOKEN={token}"]
                data = json.dumps(config).encode()
                info.size = len(data)
            target.addfile(info, io.BytesIO(data) if data is not None else None)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    _json_report(str(BUNDLED_DEMO), *cache)
    document, log = _json_report(str(changed), *cache)
    assert "results reused" not in log and "taken from the cache" in log
    assert any(f["source"] == "config" and f["key"] == "Env.CI_TOKEN" for f in document["findings"])
    assert document == _json_report(str(changed), "--no-cache")[0]


# --- issue 19, class 3: the cache is used only when it is the user's alone, and read as
# untrusted even then ----------------------------------------------------------------------

_REFUSAL = "warning: not using the layer cache at {}: {}; scanning without it"


@pytest.fixture(scope="module")
def uncached_cli() -> dict[str, Any]:
    """The demo's JSON report from a scan without any cache."""
    code, document, stderr = _cli_scan(None)
    assert code == 1 and stderr == "", stderr
    return document


@pytest.fixture(scope="module")
def filled_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache database the command line filled by scanning the demo (copied by each test)."""
    folder = tmp_path_factory.mktemp("filled") / "cache"
    code, _, stderr = _cli_scan(folder)
    assert code == 1 and stderr == "", stderr
    return folder / "layers.sqlite"


def _cli_scan(cache_dir: Path | None) -> tuple[int, dict[str, Any], str]:
    """`layerscan scan DEMO -f json` in a fresh process, as a user runs it (no -v):
    (exit code, report, stderr)."""
    import tempfile

    cache = ["--no-cache"] if cache_dir is None else ["--cache-dir", str(cache_dir)]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"
        run = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "-o", str(out), *cache)
        document = json.loads(out.read_text())
    document["summary"].pop("seconds")
    return run.code, document, run.stderr


def _warnings(stderr: str) -> list[str]:
    """stderr's lines, without the "layerscan: " the command line may put before each."""
    return [line.removeprefix("layerscan: ") for line in stderr.splitlines()]


def _private_copy(database: Path, folder: Path) -> Path:
    """A cache directory of the user's (0700) holding a copy of `database` (0600)."""
    folder.mkdir(mode=0o700)
    copy = folder / "layers.sqlite"
    copy.write_bytes(database.read_bytes())
    copy.chmod(0o600)
    return folder


def _rewrite_rows(database: Path, layer: Any = None, image: Any = None) -> int:
    """Rewrite every layer row's outcome (`layer(document) -> stored value`, None: leave
    it) and every image row's result (`image`); the number of rows rewritten."""
    rewritten = 0
    with sqlite3.connect(database) as db:
        for table, column, change in (("layers", "outcome", layer), ("images", "result", image)):
            if change is None:
                continue
            rows = db.execute(f"SELECT key, {column} FROM {table}").fetchall()
            for key, stored in rows:
                value = change(json.loads(zlib.decompress(stored)))
                if value is not None:
                    db.execute(f"UPDATE {table} SET {column} = ? WHERE key = ?", (value, key))
                    rewritten += 1
    return rewritten


def _packed(document: Any) -> bytes:
    return zlib.compress(json.dumps(document).encode())


def _claim_clean(document: dict[str, Any]) -> bytes:
    """What an attacker who can write to the cache plants: the layer holds no secret, the
    image has no finding."""
    if "matches" in document:
        document["matches"] = {}
    else:
        document["findings"] = []
    return _packed(document)


def _planted_cache(filled: Path, folder: Path) -> Path:
    """A copy of a real cache whose every row claims "no secret here", private to the user
    (so that, trusted, it is believed: the attack is real)."""
    folder = _private_copy(filled, folder)
    assert _rewrite_rows(folder / "layers.sqlite", _claim_clean, _claim_clean) == 11
    return folder


def _tree(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every path below a folder with its mode, owner and content hash (links unfollowed)."""
    import hashlib

    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        content = (
            os.readlink(path)
            if path.is_symlink()
            else hashlib.sha256(path.read_bytes()).hexdigest()
            if stat.S_ISREG(info.st_mode)
            else ""
        )
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_uid, content)
    return found


def test_planted_rows_in_a_trusted_cache_are_believed(
    filled_database: Path, tmp_path: Path
) -> None:
    """The control for the refusals below: the planted cache, private to the user, hides
    the private key (and every other secret) from a rescan. This is why only such a cache is
    used: whoever can write to it decides what a rescan reports."""
    planted = _planted_cache(filled_database, tmp_path / "cache")
    code, document, stderr = _cli_scan(planted)
    assert (code, document["findings"], stderr) == (0, [], "")


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ("link to a private cache", "it is a symbolic link"),
        ("dangling link", "it is a symbolic link"),
        ("link to a file", "it is a symbolic link"),
        ("regular file", "it is not a directory"),
    ],
)
def test_a_cache_dir_that_is_a_link_or_no_directory_is_refused(
    shape: str, reason: str, filled_database: Path, tmp_path: Path, uncached_cli: dict[str, Any]
) -> None:
    """A link at --cache-dir is never followed, even to a cache the user owns: the rows
    behind it would otherwise be believed, and a database created there."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret.txt").write_text("the victim's own file\n")
    cache_dir = tmp_path / "cache"
    if shape == "link to a private cache":
        cache_dir.symlink_to(_planted_cache(filled_database, victim / "planted"))
    elif shape == "dangling link":
        cache_dir.symlink_to(victim / "not-yet")
    elif shape == "link to a file":
        cache_dir.symlink_to(victim / "secret.txt")
    else:
        cache_dir.write_text("not a directory\n")
    before = _tree(tmp_path)
    code, document, stderr = _cli_scan(cache_dir)
    assert _warnings(stderr) == [_REFUSAL.format(cache_dir, reason)]
    assert code == 1 and document == uncached_cli
    assert _tree(tmp_path) == before  # nothing created or changed behind the link


@pytest.mark.parametrize(
    ("mode", "owner", "reason"),
    [
        (0o777, None, "it is writable by others"),
        (0o1777, None, "it is writable by others"),
        (0o770, None, "it is writable by its group"),
        (0o730, None, "it is writable by its group"),
        (0o700, 65534, "it belongs to another user (uid 65534)"),
        (0o755, 65534, "it belongs to another user (uid 65534)"),
    ],
)
def test_a_cache_dir_others_can_write_to_is_refused_and_its_planted_rows_never_believed(
    mode: int,
    owner: int | None,
    reason: str,
    filled_database: Path,
    tmp_path: Path,
    uncached_cli: dict[str, Any],
) -> None:
    """The planted rows that hide the private key when trusted are never read from a
    directory another user owns or can write to: one warning, and every finding of a scan
    without a cache (the private key among them); the directory is left as it was."""
    cache_dir = _planted_cache(filled_database, tmp_path / "cache")
    if owner is not None:
        os.chown(cache_dir, owner, owner)
    cache_dir.chmod(mode)
    before = _tree(tmp_path)
    code, document, stderr = _cli_scan(cache_dir)
    assert _warnings(stderr) == [_REFUSAL.format(cache_dir, reason)]
    assert code == 1 and document == uncached_cli
    assert any(f["rule"] == "private-key" for f in document["findings"])
    assert _tree(tmp_path) == before


_DATABASE_SHAPES = {
    "link to a planted database": "its database layers.sqlite is a symbolic link",
    "dangling link": "its database layers.sqlite is a symbolic link",
    "another user's": "its database layers.sqlite belongs to another user (uid 65534)",
    "writable by others": "its database layers.sqlite is writable by others",
    "writable by its group": "its database layers.sqlite is writable by its group",
    "a FIFO": "its database layers.sqlite is not a regular file",
    "a directory": "its database layers.sqlite is not a regular file",
    "journal link": "its file layers.sqlite-journal is a symbolic link",
    "wal link": "its file layers.sqlite-wal is a symbolic link",
    "shm FIFO": "its file layers.sqlite-shm is not a regular file",
}


@pytest.mark.parametrize("shape", list(_DATABASE_SHAPES))
def test_a_database_that_is_not_the_users_private_file_is_refused(
    shape: str, filled_database: Path, tmp_path: Path, uncached_cli: dict[str, Any]
) -> None:
    """In the user's own private directory, a database (or journal, WAL, shared-memory
    file) that is a link, not a regular file, another user's or writable by others is
    refused, never followed, written through or replaced."""
    victim = tmp_path / "victim"
    planted = _planted_cache(filled_database, victim)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o700)
    database = cache_dir / "layers.sqlite"
    if shape == "link to a planted database":
        database.symlink_to(planted / "layers.sqlite")
    elif shape == "dangling link":
        database.symlink_to(victim / "new.sqlite")
    elif shape == "a FIFO":
        os.mkfifo(database, 0o600)
    elif shape == "a directory":
        database.mkdir(mode=0o700)
    else:
        database.write_bytes((planted / "layers.sqlite").read_bytes())
        database.chmod(0o600)
        if shape == "another user's":
            os.chown(database, 65534, 65534)
        elif shape == "writable by others":
            database.chmod(0o606)
        elif shape == "writable by its group":
            database.chmod(0o660)
        elif shape == "journal link":
            (cache_dir / "layers.sqlite-journal").symlink_to(victim / "secret.txt")
        elif shape == "wal link":
            (cache_dir / "layers.sqlite-wal").symlink_to(victim / "new-wal")
        else:
            os.mkfifo(cache_dir / "layers.sqlite-shm", 0o600)
    before = _tree(tmp_path)
    code, document, stderr = _cli_scan(cache_dir)
    assert _warnings(stderr) == [_REFUSAL.format(cache_dir, _DATABASE_SHAPES[shape])]
    assert code == 1 and document == uncached_cli
    assert _tree(tmp_path) == before


def _deep(levels: int) -> bytes:
    return zlib.compress(b"[" * levels + b"]" * levels)


def _zlib_bomb(zero_bytes: int) -> bytes:
    """A zlib stream of a few MB that inflates to `zero_bytes` zeros (never inflated here)."""
    from tests.hostile.builders import FINAL_EMPTY_BLOCK, deflate_zeros

    adler = ((zero_bytes % 65521) << 16) | 1
    return b"\x78\x9c" + deflate_zeros(zero_bytes) + FINAL_EMPTY_BLOCK + adler.to_bytes(4, "big")


def _edit(change: Any) -> Any:
    """A rewrite that edits the parsed document (returning False: not applicable)."""

    def rewrite(document: dict[str, Any]) -> bytes | None:
        return None if change(document) is False else _packed(document)

    return rewrite


def _first_match(document: dict[str, Any]) -> list[Any] | bool:
    found = next(iter(document["matches"].values()), None)
    return False if not found else found[0]


_LAYER_ROWS: dict[str, tuple[Any, str]] = {
    "an object where a list is": (
        _edit(lambda d: d.__setitem__("entries", {})),
        "entries is not a list",
    ),
    "an extra field": (
        _edit(lambda d: d.__setitem__("extra", 1)),
        "the outcome is not an object with the expected fields",
    ),
    "a missing field": (
        _edit(lambda d: d.pop("packages")),
        "the outcome is not an object with the expected fields",
    ),
    "a string where a count is": (
        _edit(lambda d: d["entries"][0].__setitem__(2, "12")),
        "an entry's size is not a count",
    ),
    "a bool where a count is": (
        _edit(lambda d: d.__setitem__("files", True)),
        "files is not a count",
    ),
    "a negative count": (
        _edit(lambda d: d.__setitem__("bytes", -1)),
        "bytes is not a count",
    ),
    "an entry of eleven fields": (
        _edit(lambda d: d["entries"][0].append(None)),
        "an entry is not a list of 10",
    ),
    "a capabilities flag that is not a bool": (
        _edit(lambda d: d["entries"][0].__setitem__(9, 1)),
        "an entry's capabilities flag is not true or false",
    ),
    "a negative position in the layer": (
        _edit(lambda d: d["entries"][0].__setitem__(8, -1)),
        "an entry's position in its layer is not a count",
    ),
    "an unknown entry kind": (
        _edit(lambda d: d["entries"][0].__setitem__(1, "portal")),
        "an entry's kind is not one of its values",
    ),
    "a match past the entries": (
        _edit(lambda d: d["matches"].__setitem__("99999", [])),
        "a match names no regular file of the layer",
    ),
    "a match of an unknown rule": (
        _edit(lambda d: (m := _first_match(d)) is not False and m.__setitem__(0, "no-such")),
        "a match names a rule these rules lack",
    ),
    "a match whose other rules are not a list": (
        _edit(lambda d: (m := _first_match(d)) is not False and m.__setitem__(7, "x")),
        "rules that also matched is not a list",
    ),
    "a match's line a float": (
        _edit(lambda d: (m := _first_match(d)) is not False and m.__setitem__(2, 1.5)),
        "a match's line is not a count",
    ),
    "NaN": (
        lambda d: zlib.compress(json.dumps(d).replace('"files":', '"files":NaN,"x":', 1).encode()),
        "NaN or Infinity",
    ),
    "a layer said unverified": (
        _edit(lambda d: d["check"].__setitem__(2, False)),
        "not a complete, verified layer",
    ),
    "digests that disagree": (
        _edit(lambda d: d["check"].__setitem__(0, "sha256:" + "0" * 64)),
        "its digests disagree",
    ),
    "nesting deeper than its shape": (
        _edit(lambda d: d.__setitem__("entries", json.loads("[" * 50 + "]" * 50))),
        "an entry is not a list of 10",
    ),
    "nesting deeper than the parser goes": (lambda d: _deep(200_000), "nested too deeply"),
    "a zlib bomb": (lambda d: _zlib_bomb(4 << 30), "inflates past 128 MiB"),
    "a truncated zlib stream": (
        lambda d: _packed(d)[: len(_packed(d)) // 2],
        "not one complete zlib stream",
    ),
    "zlib data after its end": (lambda d: _packed(d) + b"\x00", "not one complete zlib stream"),
    "not zlib": (lambda d: b"\x00garbage", "not zlib data"),
    "not ASCII": (lambda d: zlib.compress(b'{"\xff":1}'), "not ASCII"),
    "not JSON": (lambda d: zlib.compress(b'{"entries": ['), "not JSON"),
    "text, not a blob": (lambda d: json.dumps(d), "not a blob of at most 128 MiB"),
}


@pytest.mark.parametrize("shape", list(_LAYER_ROWS))
def test_a_malformed_layer_row_is_a_miss_and_dropped(
    shape: str, filled_database: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In the user's own cache, each row is still read as untrusted: bounded while it
    inflates, parsed without recursion past the shape, every field checked. A row that does
    not fit is a miss (logged at INFO, without its text), deleted and written anew by the
    scan; the report is the one a scan without a cache gives, and nothing is a warning."""
    rewrite, reason = _LAYER_ROWS[shape]
    cache_dir = _private_copy(filled_database, tmp_path / "cache")
    rewritten = _rewrite_rows(cache_dir / "layers.sqlite", layer=rewrite)
    assert rewritten >= 1
    caplog.set_level(logging.INFO, logger="layerscan.engine.cache")
    document, cache = _scan_counting(BUNDLED_DEMO, cache_dir)
    assert (cache.hits, cache.misses) == (10 - rewritten, rewritten)
    assert document == _report(BUNDLED_DEMO, None)
    unusable = [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()]
    assert len(unusable) == rewritten
    assert all(f"unusable ({reason}); scanned again" in line for line in unusable), unusable
    assert all(r.levelno == logging.INFO for r in caplog.records)
    _, again = _scan_counting(BUNDLED_DEMO, cache_dir)
    assert (again.hits, again.misses) == (10, 0)  # each was replaced by a good row


def _image_finding(change: Any) -> Any:
    return _edit(lambda d: change(d["findings"][0]))


_IMAGE_ROWS: dict[str, tuple[Any, str]] = {
    "a finding of an unknown rule": (
        _image_finding(lambda f: f.__setitem__(0, "no-such-rule")),
        "a finding names a rule the catalogue lacks",
    ),
    "a finding in a layer the image lacks": (
        _image_finding(lambda f: f[3].__setitem__(0, 10)),
        "a finding's layer names no layer of the image",
    ),
    "a finding of seventeen fields": (
        _image_finding(lambda f: f.pop()),
        "a finding is not a list of 18",
    ),
    "a finding of an unknown kind": (
        _image_finding(lambda f: f.__setitem__(16, "rumour")),
        "a finding's kind",
    ),
    "a finding whose other rules are not names": (
        _image_finding(lambda f: f.__setitem__(15, [3])),
        "a rule that also matched is not a string",
    ),
    "an unknown status": (
        _image_finding(lambda f: f.__setitem__(8, "hidden")),
        "a finding's status is not one of its values",
    ),
    "a list where the result is": (lambda d: _packed([d]), "the result is not an object"),
    "a check keyed by a name": (
        _edit(lambda d: d["checks"].__setitem__("one", [None, None, None])),
        "a layer check is not an index",
    ),
    "nesting deeper than the parser goes": (lambda d: _deep(200_000), "nested too deeply"),
    "a zlib bomb": (lambda d: _zlib_bomb(4 << 30), "inflates past 128 MiB"),
}


@pytest.mark.parametrize("shape", list(_IMAGE_ROWS))
def test_a_malformed_image_row_is_a_miss_and_dropped(
    shape: str, filled_database: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same for the whole-image result a rescan is served from: a row that does not fit
    is dropped and the layers are replayed, with the report of a scan without a cache."""
    rewrite, reason = _IMAGE_ROWS[shape]
    cache_dir = _private_copy(filled_database, tmp_path / "cache")
    assert _rewrite_rows(cache_dir / "layers.sqlite", image=rewrite) == 1
    caplog.set_level(logging.INFO, logger="layerscan.engine")
    document = _report(BUNDLED_DEMO, cache_dir, reuse_image_results=True)
    assert document == _report(BUNDLED_DEMO, None)
    messages = [r.getMessage() for r in caplog.records]
    assert f"cache entry for the image unusable ({reason}" in "\n".join(messages), messages
    assert not any("results reused" in line for line in messages)
    assert all(r.levelno == logging.INFO for r in caplog.records)
    caplog.clear()
    _report(BUNDLED_DEMO, cache_dir, reuse_image_results=True)  # stored anew, then reused
    assert any("results reused" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "addition",
    [
        "CREATE TRIGGER hide AFTER UPDATE ON layers BEGIN DELETE FROM images; END",
        "CREATE VIEW listing AS SELECT key FROM layers",
        "CREATE TABLE extra (x)",
    ],
)
def test_a_database_with_schema_objects_not_ours_is_made_anew(
    addition: str, filled_database: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite runs a database's triggers on our own writes: the user's database holding
    anything but our three tables is replaced, and the scan is a cold one."""
    cache_dir = _private_copy(filled_database, tmp_path / "cache")
    with sqlite3.connect(cache_dir / "layers.sqlite") as db:
        db.execute(addition)
    caplog.set_level(logging.INFO, logger="layerscan.engine.cache")
    document, cache = _scan_counting(BUNDLED_DEMO, cache_dir)
    assert (cache.hits, cache.misses, cache.refused) == (0, 10, None)
    assert document == _report(BUNDLED_DEMO, None)
    assert any("made anew" in r.getMessage() for r in caplog.records)
    names = sqlite3.connect(cache_dir / "layers.sqlite").execute(
        "SELECT name FROM sqlite_master WHERE type != 'index' ORDER BY name"
    )
    assert [name for (name,) in names] == ["images", "known_blobs", "layers"]


def test_the_refusal_names_the_directory_without_driving_the_terminal(tmp_path: Path) -> None:
    """A cache directory's name is printed with control characters and bytes that are not
    UTF-8 escaped as \\xNN."""
    name = os.fsdecode(b"evil\x1b[2J\xff")
    cache_dir = tmp_path / name
    cache_dir.mkdir(mode=0o777)
    cache_dir.chmod(0o777)
    run = layerscan("scan", str(BUNDLED_DEMO), "-q", "--cache-dir", str(cache_dir))
    shown = f"{tmp_path}/evil\\x1b[2J\\xff"
    assert run.code == 1
    assert _REFUSAL.format(shown, "it is writable by others") in _warnings(run.stderr)
    assert "\x1b" not in run.stderr


def test_a_cached_entry_keeps_its_position_in_the_layer() -> None:
    """recover copies a member by its position in the layer's tar (a path may occur several
    times in one layer): an outcome read back from the cache keeps each position."""
    from layerscan.engine.layer_scan import LayerOutcome, dump_outcome, load_outcome
    from layerscan.layers.entries import Entry, EntryKind
    from layerscan.model.walk_log import LayerCheck

    entries = [
        Entry(0, "etc/a", EntryKind.FILE, size=1, ordinal=0),
        Entry(0, "etc/a", EntryKind.DIRECTORY, ordinal=2),
        Entry(0, "etc/b", EntryKind.SYMLINK, link_target="a", ordinal=None),
    ]
    check = LayerCheck("sha256:" + "a" * 64, "sha256:" + "b" * 64, True)  # only these are cached
    outcome = LayerOutcome(index=0, entries=entries, check=check)
    back = load_outcome(dump_outcome(outcome), 0, {})
    assert [(e.path, e.kind, e.ordinal) for e in back.entries] == [
        (e.path, e.kind, e.ordinal) for e in entries
    ]


def test_a_cached_entry_keeps_its_capabilities_flag() -> None:
    """The flag (the header's security.capability xattr) comes back from the cache as it
    went in, and an entry whose flag is anything but a bool makes the row unusable."""
    from layerscan.engine.layer_scan import LayerOutcome, dump_outcome, load_outcome
    from layerscan.engine.result_store import Unusable
    from layerscan.layers.entries import Entry, EntryKind
    from layerscan.model.walk_log import LayerCheck

    entries = [
        Entry(0, "usr/bin/ping", EntryKind.FILE, size=4, mode=0o755, capabilities=True),
        Entry(0, "usr/bin/su", EntryKind.FILE, size=4, mode=0o4755),
        Entry(
            0, "usr/bin/ping6", EntryKind.HARDLINK, link_target="usr/bin/ping", capabilities=True
        ),
    ]
    check = LayerCheck("sha256:" + "a" * 64, "sha256:" + "b" * 64, True)
    data = dump_outcome(LayerOutcome(index=0, entries=entries, check=check))
    back = load_outcome(data, 0, {})
    assert [(e.path, e.mode, e.capabilities) for e in back.entries] == [
        (e.path, e.mode, e.capabilities) for e in entries
    ]
    for wrong in (1, 0, "true", None):
        document = json.loads(data)
        document["entries"][1][9] = wrong
        with pytest.raises(Unusable, match="an entry's capabilities flag is not true or false"):
            load_outcome(json.dumps(document).encode(), 0, {})
