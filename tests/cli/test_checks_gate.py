"""The hygiene checks through the command line, on a real built image (fixtures/hygiene
other-ways, 13 problems: three high, six medium, four low): `--checks` selects the kinds,
`--fail-on`, the ignore file and the baseline apply to misconfig findings as to secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.command import layerscan
from tests.support.report_schema import validate_report

HIGH = {"misconfig.empty-password", "misconfig.ssh-server", "misconfig.sensitive-volume"}


def _scan(target: str, *args: str) -> tuple[int, dict[str, Any]]:
    run = layerscan("scan", target, "-f", "json", *args)
    assert run.code in (0, 1), run.stderr
    report = json.loads(run.stdout)
    validate_report(report)
    return run.code, report


def _rules(report: dict[str, Any]) -> set[str]:
    return {finding["rule"] for finding in report["findings"]}


def test_checks_selects_the_kinds(hygiene_cases: dict[str, dict[str, str]]) -> None:
    target = hygiene_cases["other-ways"]["classic"]
    code, both = _scan(target)
    assert code == 1 and len(both["findings"]) == 13
    assert {f["kind"] for f in both["findings"]} == {"misconfig"}  # it holds no secret
    code, misconfig = _scan(target, "--checks", "misconfig")
    assert code == 1 and misconfig["findings"] == both["findings"]
    code, secrets = _scan(target, "--checks", "secrets")
    assert (code, secrets["findings"]) == (0, [])
    wrong = layerscan("scan", target, "--checks", "secrets,lint")
    assert wrong.code == 2 and "lint" in wrong.stderr


def test_fail_on_gates_misconfig_findings_by_severity(
    hygiene_cases: dict[str, dict[str, str]],
) -> None:
    target = hygiene_cases["other-ways"]["classic"]
    assert layerscan("scan", target, "-q", "--fail-on", "high").code == 1
    assert layerscan("scan", target, "-q", "--fail-on", "critical").code == 0
    near_misses = hygiene_cases["near-misses"]["classic"]
    assert layerscan("scan", near_misses, "-q", "--fail-on", "low").code == 0


def test_the_ignore_file_accepts_checks_by_rule_and_place(
    hygiene_cases: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    target = hygiene_cases["other-ways"]["classic"]
    every = tmp_path / "every.yaml"
    every.write_text("- rule: 'misconfig.*'\n  reason: hygiene reviewed separately\n")
    code, report = _scan(target, "--ignore-file", str(every))
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["policy"]["ignored"] == 13
    # The three high ones, each by its place: a file's path, or history:/config: and its key.
    highs = tmp_path / "highs.yaml"
    highs.write_text(
        "- rule: misconfig.empty-password\n  path: /etc/passwd\n  reason: r\n"
        "- rule: misconfig.ssh-server\n  path: /var/lib/dpkg/*\n  reason: r\n"
        "- rule: misconfig.sensitive-volume\n  path: 'history:VOLUME'\n  reason: r\n"
        "- rule: misconfig.no-healthcheck\n  path: 'config:Healthcheck'\n  reason: r\n"
    )
    code, report = _scan(target, "--ignore-file", str(highs))
    assert code == 0 and not _rules(report) & HIGH
    assert "misconfig.no-healthcheck" not in _rules(report) and len(report["findings"]) == 9
    assert (
        layerscan("scan", target, "-q", "--ignore-file", str(highs), "--fail-on", "medium").code
        == 1
    )


def test_a_baseline_of_one_build_accepts_the_same_problems_built_by_another_builder(
    hygiene_cases: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """Fingerprints hash the rule, the place and what was seen, not layer digests: the
    classic build's baseline holds the BuildKit build of the same Dockerfile."""
    baseline = tmp_path / ".layerscan-baseline.json"
    classic, buildkit = (hygiene_cases["other-ways"][b] for b in ("classic", "buildkit"))
    recorded = layerscan("baseline", classic, "-o", str(baseline))
    assert recorded.code == 0, recorded.stderr
    code, report = _scan(buildkit, "--baseline", str(baseline))
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["policy"]["baselined"] == 13
    # A problem the baseline does not hold still fails the gate.
    code, report = _scan(hygiene_cases["base-brings-base"]["classic"], "--baseline", str(baseline))
    assert code == 1 and "misconfig.file-capability" in _rules(report)
