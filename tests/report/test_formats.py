"""Every format renders the bundled demo's report; terminals get no raw control bytes."""

from __future__ import annotations

import json

import pytest

from layerscan.engine.document import build_document
from layerscan.engine.scan import scan
from layerscan.report import Format, render
from layerscan.report.markdown import escape
from layerscan.report.table import terminal_safe
from tests.support.paths import BUNDLED_DEMO
from tests.support.report_schema import validate_report


@pytest.fixture(scope="module")
def document() -> dict[str, object]:
    return build_document(scan(str(BUNDLED_DEMO)))


@pytest.mark.parametrize("output_format", list(Format))
def test_every_format_renders(document: dict[str, object], output_format: Format) -> None:
    text = render(document, output_format)
    shown = escape("/root/.ssh/id_rsa") if output_format is Format.MARKDOWN else "/root/.ssh/id_rsa"
    assert shown in text
    if output_format is Format.JSON:
        validate_report(json.loads(text))


def test_table_shows_status_and_instruction(document: dict[str, object]) -> None:
    text = render(document, Format.TABLE)
    lines = text.splitlines()
    [row] = [line for line in lines if "/root/.ssh/id_rsa:" in line]
    assert "deleted by layer 2" in row and "private-key" in row
    heading = lines[lines.index(row) - 3]  # heading, column names, rule, then the rows
    assert heading.startswith("Layer 1: COPY file:") and heading.endswith(" in /root/.ssh/id_rsa")
    assert text.rstrip().splitlines()[-1].startswith("15 findings")


def test_control_characters_in_names_do_not_reach_the_terminal() -> None:
    assert terminal_safe("etc/\x1b[31mred\nx") == "etc/\\x1b[31mred\\x0ax"


def test_image_warnings_are_reported_without_marking_the_scan_incomplete() -> None:
    from layerscan.engine.options import ScanOptions
    from layerscan.engine.scan import build_engine, scan_image
    from tests.support.synthetic import file, image

    mismatched = image([[file("a", "x")], [file("b", "y")]], instructions=["/bin/sh -c one"])
    engine = build_engine(ScanOptions())
    with engine.session():
        result = scan_image(mismatched, engine, ScanOptions())
    report = build_document(result)
    validate_report(report)
    assert report["warnings"] and "not attributed" in report["warnings"][0]
    assert report["summary"]["complete"] is True
    assert "warning: history has 1 non-empty entries" in render(report, Format.TABLE)
