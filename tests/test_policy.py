"""The gate, the baseline and the ignore file, on findings of the bundled demo image."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from layerscan.engine.scan import scan
from layerscan.errors import UsageError
from layerscan.model.findings import Finding
from layerscan.model.severity import Severity
from layerscan.policy import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    FailOn,
    apply_policy,
    exit_code,
    load_ignore_file,
)
from tests.support.paths import BUNDLED_DEMO


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    return scan(str(BUNDLED_DEMO)).findings


def _ignore(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".layerscanignore"
    path.write_text(text)
    return path


def test_fail_on_thresholds() -> None:
    assert FailOn.HIGH.fails(Severity.CRITICAL) and FailOn.HIGH.fails(Severity.HIGH)
    assert not FailOn.HIGH.fails(Severity.MEDIUM)
    assert FailOn.LOW.fails(Severity.LOW) and not FailOn.LOW.fails(Severity.INFO)
    assert not FailOn.NEVER.fails(Severity.CRITICAL)


def test_gate_counts_only_new_findings_at_or_above_the_threshold(findings: list[Finding]) -> None:
    outcome = apply_policy(findings)
    assert exit_code(outcome, complete=True, fail_on=FailOn.HIGH) == EXIT_FINDINGS
    assert exit_code(outcome, complete=False, fail_on=FailOn.NEVER) == EXIT_INCOMPLETE
    accepted = apply_policy(findings, baseline={f.fingerprint for f in findings})
    assert accepted.new == [] and len(accepted.baselined) == len(findings)
    assert exit_code(accepted, complete=True, fail_on=FailOn.LOW) == EXIT_CLEAN


def test_ignore_by_fingerprint_and_by_rule_and_path(
    findings: list[Finding], tmp_path: Path
) -> None:
    key = next(f for f in findings if f.rule.id == "private-key")
    rules = load_ignore_file(
        _ignore(
            tmp_path,
            f"- fingerprint: {key.fingerprint}\n  reason: test key, rotated 2026-11-01\n"
            "- rule: slack-*\n  path: /srv/app/*\n  reason: staging webhook\n"
            "- rule: env-secret\n  reason: demo only\n  expires: 2026-01-01\n",
        )
    )
    outcome = apply_policy(findings, ignores=rules, today=dt.date(2026, 11, 23))
    ignored = {(f.rule.id, f.path or f.key) for f, _ in outcome.ignored}
    assert ignored == {
        ("private-key", "/root/.ssh/id_rsa"),
        ("slack-token", "/srv/app/notify.env"),
        ("slack-token", "/srv/app/notify-copy.env"),
        ("slack-token", "/srv/app/notify-link.env"),
    }
    assert [rule.reason for rule in outcome.expired] == ["demo only"]
    assert {f.rule.id for f in outcome.new} >= {"env-secret"}  # the expired entry applies no more


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- fingerprint: abc\n", "needs a reason"),
        ("- reason: why\n", "needs a fingerprint, or a rule"),
        ("- rule: x\n  reason: y\n  expires: soon\n", "expires must be a date"),
        ("- rule: x\n  reason: y\n  colour: red\n", "unknown fields"),
        ("rule: x\n", "must be a YAML list"),
    ],
)
def test_bad_ignore_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_ignore_file(_ignore(tmp_path, text))
