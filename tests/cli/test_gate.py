"""The CI gate end to end, with real images: exit codes, baseline across a rebuild, reports."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures import build as fixture_build
from fixtures.credentials import Credentials, checksummed_token
from tests.support.command import layerscan
from tests.support.paths import BUNDLED_DEMO
from tests.support.report_schema import validate_report


def _report(run_stdout: str) -> dict[str, Any]:
    report = json.loads(run_stdout)
    validate_report(report)
    return report


def test_exit_codes_follow_the_gate() -> None:
    assert layerscan("scan", str(BUNDLED_DEMO), "-q").code == 1  # critical findings, --fail-on high
    assert layerscan("scan", str(BUNDLED_DEMO), "-q", "--fail-on", "never").code == 0
    assert layerscan("scan", str(BUNDLED_DEMO), "-q", "--fail-on", "nonsense").code == 2


def test_accepting_every_critical_finding_leaves_only_high(tmp_path: Path) -> None:
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("- rule: '*'\n  path: '*'\n  reason: accept everything for this test\n")
    run = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "--ignore-file", str(ignore))
    report = _report(run.stdout)
    assert run.code == 0 and report["findings"] == []
    assert report["summary"]["policy"]["ignored"] == report["summary"]["found"] > 0


def test_severity_filters_what_is_shown_not_the_gate() -> None:
    run = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "--severity", "critical")
    report = _report(run.stdout)
    assert run.code == 1
    assert {f["severity"] for f in report["findings"]} == {"critical"}
    assert report["summary"]["found"] > report["summary"]["findings"]


def test_quiet_prints_only_the_summary_line() -> None:
    run = layerscan("scan", str(BUNDLED_DEMO), "--quiet")
    assert run.stdout.count("\n") == 1 and run.stdout.startswith("15 findings (5 critical")
    assert run.stderr == ""


def test_verbose_says_what_was_skipped_and_why() -> None:
    run = layerscan("scan", str(BUNDLED_DEMO), "-q", "--verbose", "--max-file-size", "4096")
    assert "layerscan: skipped /bin/busybox in layer 0: over size limit" in run.stderr
    assert "skipped" not in run.stdout.replace("skipped:", "")  # stdout: the summary line only
    quiet = layerscan("scan", str(BUNDLED_DEMO), "-q", "--max-file-size", "4096")
    assert quiet.stderr == ""


def test_several_reports_in_one_run(tmp_path: Path) -> None:
    run = layerscan(
        "scan", str(BUNDLED_DEMO), "-f", "json", "-o", str(tmp_path / "a.json"), "-f", "table"
    )
    assert run.code == 1
    assert run.stdout.startswith("Image layerscan-fixture:demo")
    validate_report(json.loads((tmp_path / "a.json").read_text()))
    two_on_stdout = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "-f", "table")
    assert two_on_stdout.code == 2 and "only one report can go to stdout" in two_on_stdout.stderr


def test_progress_shows_on_a_terminal_only() -> None:
    assert layerscan("scan", str(BUNDLED_DEMO), "-f", "json").stderr == ""
    leader, follower = pty.openpty()
    done = subprocess.run(
        # --no-cache: the first run filled the cache, and a result taken whole from it
        # walks no layer to show progress for.
        [sys.executable, "-m", "layerscan", "scan", str(BUNDLED_DEMO), "-f", "json", "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=follower,
        timeout=120,
    )
    os.close(follower)
    with io.FileIO(leader, "rb", closefd=True) as terminal:
        try:
            shown = terminal.read(65536).decode()
        except OSError:
            shown = ""
    assert "layer 1/10" in shown or "layer 10/10" in shown
    json.loads(done.stdout)  # stdout still holds the report alone


def test_recover_evidence_of_a_finding(tmp_path: Path) -> None:
    report = _report(layerscan("scan", str(BUNDLED_DEMO), "-f", "json").stdout)
    key = next(f for f in report["findings"] if f["rule"] == "private-key")
    run = layerscan(
        "recover", str(BUNDLED_DEMO), "--finding", key["fingerprint"][:12], "-o", str(tmp_path)
    )
    assert run.code == 0, run.stderr
    evidence = json.loads((tmp_path / "evidence.json").read_text())
    assert evidence["finding"]["fingerprint"] == key["fingerprint"]
    assert evidence["file"]["layer_index"] == 1 and evidence["file"]["status"] == "deleted"
    written = tmp_path / evidence["file"]["written_to"]
    import hashlib

    assert hashlib.sha256(written.read_bytes()).hexdigest() == evidence["file"]["sha256"]
    arg = next(f for f in report["findings"] if f["key"] == "ARG NPM_TOKEN")
    history = layerscan(
        "recover", str(BUNDLED_DEMO), "--finding", arg["fingerprint"], "-o", str(tmp_path / "h")
    )
    assert history.code == 0, history.stderr
    entry = json.loads((tmp_path / "h" / "evidence.json").read_text())
    assert entry["file"] is None and entry["history"]["created_by"].startswith("|1 NPM_TOKEN=npm_…")


@pytest.mark.engine
def test_a_baseline_survives_a_rebuild_and_a_new_secret_fails_the_gate(
    engine: Any, credentials: Credentials, tmp_path: Path
) -> None:
    first = fixture_build.save(
        fixture_build.build("demo", credentials, engine, tag="layerscan-fixture:gate-1"),
        tmp_path / "first.tar",
        engine,
    )
    baseline = tmp_path / ".layerscan-baseline.json"
    recorded = layerscan("baseline", str(first), "-o", str(baseline))
    assert recorded.code == 0, recorded.stderr
    rebuilt = fixture_build.save(
        fixture_build.build(
            "demo", credentials, engine, tag="layerscan-fixture:gate-2", no_cache=True
        ),
        tmp_path / "rebuilt.tar",
        engine,
    )
    before = _report(layerscan("scan", str(first), "-f", "json").stdout)
    after = _report(
        layerscan("scan", str(rebuilt), "-f", "json", "--baseline", str(baseline)).stdout
    )
    changed = [
        a["diff_id"] != b["diff_id"] for a, b in zip(before["layers"], after["layers"], strict=True)
    ]
    assert any(changed[1:]), "the rebuild must give new layers for this test to mean anything"
    assert after["findings"] == [] and after["summary"]["policy"]["exit_code"] == 0
    assert after["summary"]["policy"]["baselined"] == before["summary"]["found"]

    token = checksummed_token("ghp_", __import__("random").Random(7))
    context = tmp_path / "leak"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM layerscan-fixture:gate-2\nCOPY new.env /srv/app/new.env\n"
    )
    (context / "new.env").write_text(f"GITHUB_TOKEN={token}\n")
    engine.images.build(path=str(context), tag="layerscan-fixture:gate-3", rm=True)
    leaked = fixture_build.save("layerscan-fixture:gate-3", tmp_path / "leaked.tar", engine)
    run = layerscan("scan", str(leaked), "-f", "json", "--baseline", str(baseline))
    report = _report(run.stdout)
    assert run.code == 1
    assert [(f["rule"], f["path"], f["layer"]["index"]) for f in report["findings"]] == [
        ("github-token", "/srv/app/new.env", 10)
    ]
