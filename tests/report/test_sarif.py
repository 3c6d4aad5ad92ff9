"""SARIF reports: valid against the official 2.1.0 schema and Microsoft's Multitool, on the
bundled demo, a damaged image and every readable image of the hostile corpus; and carrying
what a code-scanning dashboard needs (rules with help, the layer and status, fingerprints)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from layerscan.engine.document import build_document, failed_document
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import scan
from layerscan.errors import LayerscanError
from layerscan.report import Format, render
from tests.hostile.corpus import CASES
from tests.support.command import layerscan
from tests.support.damage import truncate_layer
from tests.support.paths import BUNDLED_DEMO
from tests.support.report_schema import validate_report
from tests.support.sarif_validation import SarifChecker, sarif_checker


@dataclass
class Rendered:
    name: str
    sarif: Path
    markdown: str
    secrets: list[str]
    findings: int


@pytest.fixture(scope="module")
def checker() -> SarifChecker:
    return sarif_checker()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The demo scanned once by the command line into JSON and SARIF (and secrets shown once,
    into a separate JSON, to check that the SARIF holds none of them)."""
    work = tmp_path_factory.mktemp("sarif-demo")
    run = layerscan(
        "scan", str(BUNDLED_DEMO), "-o", str(work / "demo.sarif"), "-o", str(work / "demo.json")
    )
    assert run.code == 1, run.stderr
    clear = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "--show-secrets")
    secrets = [finding["secret"] for finding in json.loads(clear.stdout)["findings"]]
    report = json.loads((work / "demo.json").read_text())
    validate_report(report)
    assert all(secret not in (work / "demo.sarif").read_text() for secret in secrets if secret)
    return json.loads((work / "demo.sarif").read_text()), report, work / "demo.sarif"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Rendered]:
    """Every readable, non-bomb image of the hostile corpus, scanned and rendered."""
    rendered = []
    for case in CASES:
        if case.heavy or not case.readable:
            continue
        work = tmp_path_factory.mktemp(case.name)
        target = case.build(work)
        try:
            result = scan(target, ScanOptions())
        except LayerscanError:
            continue
        document = build_document(result)
        validate_report(document)
        path = work / f"{case.name}.sarif"
        path.write_text(render(document, Format.SARIF), encoding="utf-8")
        rendered.append(
            Rendered(
                case.name,
                path,
                render(document, Format.MARKDOWN),
                [finding.secret for finding in result.findings],
                len(document["findings"]),
            )
        )
    return rendered


def test_demo_sarif_passes_the_schema_and_the_multitool(
    demo: tuple[dict[str, Any], dict[str, Any], Path], checker: SarifChecker, tmp_path: Path
) -> None:
    log, _, path = demo
    assert checker.schema_errors(log) == []
    assert checker.multitool_findings([path], tmp_path) == []


def test_the_checkers_catch_a_broken_log(
    demo: tuple[dict[str, Any], dict[str, Any], Path], checker: SarifChecker, tmp_path: Path
) -> None:
    """Both checkers have teeth: a result without a message, a Windows path as a URI."""
    log, _, _ = demo
    broken = json.loads(json.dumps(log))
    result = broken["runs"][0]["results"][0]
    del result["message"]
    assert any("message" in error for error in checker.schema_errors(broken))
    result["message"] = {"text": "A result."}
    result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "C:\\not a uri"
    path = tmp_path / "broken.sarif"
    path.write_text(json.dumps(broken))
    assert any("SARIF1002" in line for line in checker.multitool_findings([path], tmp_path))


def test_every_hostile_image_gives_valid_sarif(
    corpus: list[Rendered], checker: SarifChecker, tmp_path: Path
) -> None:
    assert len(corpus) >= 30 and sum(item.findings for item in corpus) >= 30
    for item in corpus:
        text = item.sarif.read_text(encoding="utf-8")
        assert checker.schema_errors(json.loads(text)) == [], item.name
        leaked = [secret[:6] for secret in item.secrets if len(secret) >= 8 and secret in text]
        assert leaked == [], f"{item.name} prints secrets in full (starting {leaked})"
    assert checker.multitool_findings([item.sarif for item in corpus], tmp_path) == []


def test_damaged_image_is_an_unsuccessful_run_with_the_error(
    checker: SarifChecker, tmp_path: Path
) -> None:
    damaged = truncate_layer(BUNDLED_DEMO, 3, tmp_path / "damaged.tar")
    run = layerscan("scan", str(damaged), "--fail-on", "never", "-o", str(tmp_path / "d.sarif"))
    assert run.code == 3, run.stderr
    log = json.loads((tmp_path / "d.sarif").read_text())
    assert checker.schema_errors(log) == []
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 3
    errors = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert errors and errors[0]["message"]["text"].startswith("layer 3")
    assert log["runs"][0]["results"], "findings from the intact layers are still reported"


def test_rules_are_described_once_with_help(
    demo: tuple[dict[str, Any], dict[str, Any], Path],
) -> None:
    log, report, _ = demo
    driver = log["runs"][0]["tool"]["driver"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids)) and set(ids) == {f["rule"] for f in report["findings"]}
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] == report["rules"][rule["id"]]["title"] + "."
        if rule["id"].startswith("misconfig."):  # its own remediation, and its reference
            assert rule["properties"]["tags"] == ["security", "misconfiguration"]
            assert rule["help"]["text"] == (
                report["rules"][rule["id"]]["remediation"]
                + f" ({report['rules'][rule['id']]['reference']})"
            )
            continue
        assert rule["help"]["text"].startswith("Treat the secret as exposed")
        assert float(rule["properties"]["security-severity"]) >= 7.0  # all high or critical
    env_rule = next(rule for rule in driver["rules"] if rule["id"] == "env-secret")
    assert "run time" in env_rule["help"]["text"]
    for result in log["runs"][0]["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_results_carry_the_image_the_layer_and_the_status(
    demo: tuple[dict[str, Any], dict[str, Any], Path],
) -> None:
    log, report, _ = demo
    run = log["runs"][0]
    results = run["results"]
    assert len(results) == len(report["findings"])
    assert [r["partialFingerprints"]["layerscan/v1"] for r in results] == [
        f["fingerprint"] for f in report["findings"]
    ]
    assert run["artifacts"][0]["location"]["uri"] == BUNDLED_DEMO.as_uri()
    assert run["artifacts"][0]["properties"]["digest"] == report["image"]["digest"]
    key = next(r for r in results if r["properties"]["path"] == "/root/.ssh/id_rsa")
    location = key["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == BUNDLED_DEMO.as_uri()
    layer, place = location["logicalLocations"]
    diff_id = report["layers"][1]["diff_id"]
    assert layer == {
        "name": "layer-1",
        "fullyQualifiedName": f"layer 1 ({diff_id})",
        "kind": "module",
    }
    assert place["name"] == "/root/.ssh/id_rsa:1" and place["kind"] == "resource"
    properties = key["properties"]
    assert (properties["layer_index"], properties["diff_id"]) == (1, diff_id)
    assert properties["instruction"].startswith("COPY file:")
    assert (properties["status"], properties["removed_by_layer"]) == ("deleted", 2)
    assert key["level"] == "error"
    assert "deleted by layer 2, but still in the image" in key["message"]["text"]
    config = next(r for r in results if r["properties"]["key"] == "Env.DATABASE_PASSWORD")
    assert config["locations"][0]["logicalLocations"][0]["name"] == "config"
    assert config["locations"][0]["logicalLocations"][1]["kind"] == "variable"


def test_format_follows_the_output_suffix(tmp_path: Path) -> None:
    run = layerscan(
        "scan", str(BUNDLED_DEMO), "-o", str(tmp_path / "r.sarif"), "-o", str(tmp_path / "r.md")
    )
    assert run.code == 1 and run.stdout == ""
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "r.md").read_text().startswith("### layerscan: ")


def test_the_report_of_a_failed_scan_is_valid_sarif_that_says_so(
    checker: SarifChecker, tmp_path: Path
) -> None:
    """When layerscan itself fails (exit 4), the SARIF it still writes passes the official
    schema and the Multitool, and tells a dashboard the run did not succeed."""
    document = failed_document("image.tar", "layerscan failed: RuntimeError", "high", 4)
    validate_report(document)
    path = tmp_path / "failed.sarif"
    path.write_text(render(document, Format.SARIF), encoding="utf-8")
    log = json.loads(path.read_text())
    assert checker.schema_errors(log) == []
    assert checker.multitool_findings([path], tmp_path) == []
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 4
    assert log["runs"][0]["results"] == []


def test_misconfig_findings_give_valid_sarif_with_their_locations(
    hygiene_cases: dict[str, dict[str, str]], checker: SarifChecker, tmp_path: Path
) -> None:
    """Hygiene problems on a file, on a build step and on a config field, each a result of
    its rule, in a log both checkers accept."""
    paths = []
    for case in ("other-ways", "base-brings"):
        path = tmp_path / f"{case}.sarif"
        run = layerscan(
            "scan", hygiene_cases[case]["classic"], "-o", str(path), "--fail-on", "never"
        )
        assert run.code == 0, run.stderr
        paths.append(path)
        log = json.loads(path.read_text())
        assert checker.schema_errors(log) == []
        results = log["runs"][0]["results"]
        assert results and all(r["ruleId"].startswith("misconfig.") for r in results)
        rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
        assert all(rules[r["ruleId"]]["help"]["text"] for r in results)
        if case == "base-brings":  # lowered: every result a note or a warning, none an error
            assert {r["level"] for r in results} <= {"note", "warning"}
    assert checker.multitool_findings(paths, tmp_path) == []
