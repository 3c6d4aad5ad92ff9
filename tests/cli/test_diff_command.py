"""`layerscan diff` end to end: the gate on new findings, the reports, damage, redaction."""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from fixtures.credentials import Credentials
from tests.engine.test_diff import NOTIFY_PATHS, build_versions
from tests.support.command import Run, layerscan
from tests.support.damage import truncate_layer

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def versions(engine: Any, credentials: Credentials, tmp_path_factory: Any) -> dict[str, Path]:
    return build_versions(engine, credentials, tmp_path_factory.mktemp("diff-cli"))


def _diff(versions: dict[str, Path], old: str, new: str, *args: str) -> Run:
    return layerscan("diff", str(versions[old]), str(versions[new]), *args)


def _json(run: Run) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(run.stdout)
    assert (document["schema_version"], document["kind"]) == (1, "layerscan-diff")
    return document


def _secrets(credentials: Credentials) -> list[str]:
    return [value for value in astuple(credentials) if len(value) >= 8]


def test_a_fixed_secret_passes_the_gate(versions: dict[str, Path]) -> None:
    run = _diff(versions, "old", "fixed", "--fail-on", "high", "-f", "json")
    document = _json(run)
    assert run.code == 0, run.stderr
    fixed = {(f["rule"], f["path"]) for f in document["findings"]["fixed"]}
    assert fixed == {("slack-token", path) for path in NOTIFY_PATHS}
    assert document["findings"]["new"] == []
    assert document["summary"]["policy"]["exit_code"] == 0


def test_a_new_secret_fails_the_gate_at_its_severity_only(versions: dict[str, Path]) -> None:
    high = _diff(versions, "old", "leaked", "--fail-on", "high")
    assert high.code == 1, high.stderr
    assert "sendgrid-api-key" in high.stdout and "/srv/app/mail.env" in high.stdout
    assert "Result: new findings at or above high (exit 1)" in high.stdout
    critical = _diff(versions, "old", "leaked", "--fail-on", "critical")
    assert critical.code == 0, critical.stderr  # a SendGrid key is high, not critical


def test_findings_that_were_already_there_do_not_gate(versions: dict[str, Path]) -> None:
    run = _diff(versions, "old", "old", "--fail-on", "low", "-q")
    assert run.code == 0
    assert run.stdout.startswith("0 new, 0 fixed, 15 unchanged findings;")


def test_a_baselined_new_finding_is_listed_as_accepted_and_does_not_gate(
    versions: dict[str, Path], tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    assert layerscan("baseline", str(versions["leaked"]), "-q", "-o", str(baseline)).code == 0
    run = _diff(versions, "old", "leaked", "--baseline", str(baseline), "-f", "json")
    document = _json(run)
    assert run.code == 0
    [new] = document["findings"]["new"]
    assert new["accepted"] == "baseline"
    assert document["summary"]["new_counted"] == 0


def test_an_ignore_file_entry_accepts_a_new_finding(
    versions: dict[str, Path], tmp_path: Path
) -> None:
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("- rule: sendgrid-api-key\n  reason: test key of the mail relay\n")
    run = _diff(versions, "old", "leaked", "--ignore-file", str(ignore))
    assert run.code == 0
    assert "(accepted: ignore file: test key of the mail relay)" in run.stdout


def test_a_truncated_layer_in_the_new_image_exits_incomplete(
    versions: dict[str, Path], tmp_path: Path
) -> None:
    damaged = truncate_layer(versions["fixed"], 9, tmp_path / "damaged.tar")
    run = layerscan("diff", str(versions["old"]), str(damaged), "--no-cache")
    assert run.code == 3, run.stderr
    assert "Traceback" not in run.stderr
    assert "error: new layer 9" in run.stdout
    assert "Result: an image could not be read in full (exit 3)" in run.stdout


def test_a_cut_tarball_is_a_clear_error(versions: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.tar"
    data = versions["fixed"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    run = layerscan("diff", str(versions["old"]), str(cut))
    assert run.code in (2, 3)
    assert run.stderr.startswith("layerscan: ") and "Traceback" not in run.stderr


def test_stdin_cannot_be_diffed(versions: dict[str, Path]) -> None:
    run = layerscan("diff", str(versions["old"]), "-", stdin=versions["fixed"].read_bytes())
    assert run.code == 2
    assert "'-' cannot be reread" in run.stderr


def test_no_report_holds_a_full_secret_unless_asked(
    versions: dict[str, Path], credentials: Credentials, tmp_path: Path
) -> None:
    outputs = []
    for fmt in ("table", "json", "markdown"):
        for old, new in (("old", "leaked"), ("old", "fixed"), ("hidden", "old")):
            run = _diff(versions, old, new, "-f", fmt)
            written = tmp_path / f"{old}-{new}.{fmt}"
            to_file = _diff(versions, old, new, "-f", fmt, "-o", str(written))
            assert to_file.stdout == ""
            outputs += [run.stdout, run.stderr, to_file.stderr, written.read_text()]
    text = "\n".join(outputs)
    assert [secret for secret in _secrets(credentials) if secret in text] == []
    shown = _diff(versions, "old", "leaked", "--show-secrets")
    assert credentials.sendgrid_api_key in shown.stdout


def test_the_markdown_report_is_one_document_with_its_tables(versions: dict[str, Path]) -> None:
    run = _diff(versions, "old", "leaked", "-f", "markdown")
    tokens = MarkdownIt("commonmark").enable("table").parse(run.stdout)
    assert next(t.content for t in tokens if t.type == "inline").startswith("layerscan diff:")
    assert sum(t.type == "table_open" for t in tokens) == 3  # new findings, layers, files
    assert "sendgrid\\-api\\-key" in run.stdout
