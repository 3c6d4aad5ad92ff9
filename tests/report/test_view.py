"""The default view (issue 13): table, Markdown and SARIF list what matters and count vendored
low findings in one line; `--all` and `--severity low` list everything; JSON always does.
Run on the planted fixture, which holds vendored test keys and tokens beside real secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from layerscan.report.fields import where_text
from layerscan.report.view import folded_line, is_folded
from tests.support.command import layerscan


@pytest.fixture(scope="module")
def planted_target(image_forms: dict[str, dict[str, str]]) -> str:
    return image_forms["planted"]["docker-archive"]


@pytest.fixture(scope="module")
def every_finding(planted_target: str) -> list[dict[str, Any]]:
    run = layerscan("scan", planted_target, "-f", "json")
    assert run.code == 1, run.stderr
    findings: list[dict[str, Any]] = json.loads(run.stdout)["findings"]
    assert any(is_folded(f) for f in findings), "the fixture lost its vendored low findings"
    assert any(not is_folded(f) for f in findings)
    return findings


def _rows(table: str, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings whose place shows as a row of the table."""
    lines = table.splitlines()
    return [f for f in findings if any(where_text(f) in line for line in lines)]


def test_the_default_table_folds_vendored_low_findings_into_one_line(
    planted_target: str, every_finding: list[dict[str, Any]]
) -> None:
    run = layerscan("scan", planted_target)
    folded = [f for f in every_finding if is_folded(f)]
    line = folded_line(folded)
    assert line is not None and line in run.stdout
    assert f"{len(folded)} low finding" in line and "--all lists them" in line
    shown = _rows(run.stdout, every_finding)
    assert {f["fingerprint"] for f in shown} >= {
        f["fingerprint"] for f in every_finding if not is_folded(f)
    }
    assert not any(f["path"] and f["path"] in run.stdout for f in folded if f["source"] == "file")
    assert run.code == 1  # the gate is the same


@pytest.mark.parametrize("option", [("--all",), ("--severity", "low")])
def test_all_and_an_explicit_severity_list_every_finding(
    planted_target: str, every_finding: list[dict[str, Any]], option: tuple[str, ...]
) -> None:
    run = layerscan("scan", planted_target, *option)
    assert "--all lists them" not in run.stdout
    assert len(_rows(run.stdout, every_finding)) == len(every_finding)


def test_sarif_and_markdown_fold_the_same_findings(
    planted_target: str, every_finding: list[dict[str, Any]]
) -> None:
    folded = [f for f in every_finding if is_folded(f)]
    sarif = json.loads(layerscan("scan", planted_target, "-f", "sarif").stdout)["runs"][0]
    assert len(sarif["results"]) == len(every_finding) - len(folded)
    assert sarif["properties"]["folded_vendored_findings"] == len(folded)
    assert sarif["properties"]["folded"] == folded_line(folded)
    everything = json.loads(layerscan("scan", planted_target, "-f", "sarif", "--all").stdout)
    assert len(everything["runs"][0]["results"]) == len(every_finding)
    markdown = layerscan("scan", planted_target, "-f", "markdown").stdout
    assert "low finding" in markdown and "all lists them" in markdown


def test_the_summary_line_counts_every_finding(
    planted_target: str, every_finding: list[dict[str, Any]]
) -> None:
    quiet = layerscan("scan", planted_target, "-q").stdout
    assert quiet.startswith(f"{len(every_finding)} findings")
