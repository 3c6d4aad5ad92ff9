"""The layer cache: cached, uncached and partly cached scans give the same report; a corrupt
cache, a tampered blob or other rules never turn into a wrong result."""

from __future__ import annotations

import io
import json
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
    assert len(warm["findings"]) == 14


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
    assert "results reused" not in again_log and "corrupt" in again_log
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
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)))
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
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split()), done.stderr


def test_a_rescan_served_by_the_cache_loads_no_detector(tmp_path: Path) -> None:
    """What makes a cached rescan cheap: it imports neither detect-secrets nor the content
    readers, and parses no rules (no YAML); the scan that filled the cache needed them all."""
    args = (str(BUNDLED_DEMO), "--cache-dir", str(tmp_path / "cache"), "-o", os.devnull)
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
