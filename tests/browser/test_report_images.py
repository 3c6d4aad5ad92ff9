"""The images the browser tests open reports of hold what they are meant to (read through
`scan -f json`, not through the HTML report), and the screenshot tool writes its picture."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.command import layerscan
from tests.support.paths import ROOT
from tests.support.report_images import (
    CORPUS_CASES,
    HOSTILE_FOLDER,
    HOSTILE_NAMES,
    LARGE_BATCHES,
)


def _report(target: str | Path) -> dict[str, Any]:
    run = layerscan("scan", str(target), "-f", "json")
    assert run.code in (1, 3), run.stderr[-600:]
    report: dict[str, Any] = json.loads(run.stdout)
    return report


@pytest.mark.engine
def test_the_large_image_has_many_layers_files_and_findings(large_image: Path) -> None:
    report = _report(large_image)
    summary = report["summary"]
    assert 36 <= summary["layers"] <= 45
    assert summary["files_scanned"] >= 4000
    assert 250 <= summary["found"] <= 400
    assert summary["complete"]
    assert all(summary["by_status"][status] > 0 for status in ("present", "deleted", "overwritten"))
    assert all(summary["by_severity"][level] > 0 for level in ("critical", "high", "medium", "low"))
    rules = Counter(f["rule"] for f in report["findings"])
    assert len(rules) >= 10, rules
    assert {f["source"] for f in report["findings"]} == {"file", "history", "config"}
    layered = {f["layer"]["index"] for f in report["findings"] if f.get("layer")}
    assert len(layered) >= LARGE_BATCHES  # findings spread over the layers, not one


@pytest.mark.engine
def test_every_hostile_name_is_in_the_findings(hostile_names_image: Path) -> None:
    report = _report(hostile_names_image)
    paths = {f["path"] for f in report["findings"] if f["source"] == "file"}
    missing = [e.label for e in HOSTILE_NAMES if f"{HOSTILE_FOLDER}/{e.name}" not in paths]
    assert not missing, f"no finding at the hostile names {missing}"
    assert any("<iframe" in path for path in paths)  # the file the RUN step wrote
    keys = {f.get("key") or "" for f in report["findings"]}
    assert any("<script>" in key for key in keys), "the LABEL key with a payload"
    history = layerscan("history", str(hostile_names_image), "-f", "json")
    steps = [step["created_by"] for step in json.loads(history.stdout)["history"]]
    for payload in ("<svg onload=", "<script>window.__layerscan_pwned=9", "javascript:window"):
        assert any(payload in step for step in steps), payload


def test_the_hostile_corpus_cases_build(hostile_corpus_images: dict[str, str]) -> None:
    assert set(hostile_corpus_images) == set(CORPUS_CASES)
    for name, target in hostile_corpus_images.items():
        assert Path(target.split(":", 1)[-1]).exists(), name


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_screenshot_tool_writes_the_top_of_the_demo_report(
    browser: object, tmp_path: Path
) -> None:
    """(`browser`: skips or fails like the other browser tests without one.)"""
    out = tmp_path / "demo-report.png"
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.screenshot", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 1: the page reported a problem (listed on stderr); the picture is written all the same.
    assert done.returncode in (0, 1), done.stderr[-1000:]
    assert _png_size(out) == (1280, 900)
