"""Every planted secret is found and attributed; no decoy is reported (fixtures/planted)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from fixtures.credentials import Credentials
from fixtures.planted.truth import DECOY_PATHS, EXPECTED, decoy_secrets
from layerscan.engine.options import ScanOptions, ScanResult
from layerscan.engine.scan import scan
from layerscan.model.findings import Finding, Kind

pytestmark = pytest.mark.engine


def _observed(finding: Finding) -> tuple[Any, ...]:
    return (
        str(finding.source),
        finding.rule.id,
        finding.path if finding.path is not None else finding.key,
        finding.nested_path,
        finding.layer.index if finding.layer else None,
        str(finding.status),
        finding.removed_by.index if finding.removed_by else None,
        str(finding.severity),
        finding.reason,
        finding.secret_sha256,
    )


def _expected(result: ScanResult, creds: Credentials) -> set[tuple[Any, ...]]:
    rules = result.rules
    return {
        (
            p.source,
            p.rule,
            p.where,
            p.nested,
            p.layer,
            p.status,
            p.removed_by,
            p.severity or str(rules[p.rule].severity),
            p.reason,
            hashlib.sha256(p.secret(creds).encode()).hexdigest(),
        )
        for p in EXPECTED
    }


@pytest.fixture(scope="module")
def planted(image_forms: dict[str, dict[str, str]]) -> ScanResult:
    """The planted image's secrets (its hygiene is tests/checks/'s business)."""
    return scan(
        image_forms["planted"]["docker-archive"], ScanOptions(kinds=frozenset({Kind.SECRET}))
    )


def test_every_planted_secret_is_found_with_its_place_layer_and_status(
    planted: ScanResult, credentials: Credentials
) -> None:
    observed = {_observed(f) for f in planted.findings}
    expected = _expected(planted, credentials)
    assert expected - observed == set(), "missed"
    assert observed - expected == set(), "reported but not planted"
    assert planted.complete, planted.problems


def test_no_decoy_is_reported(planted: ScanResult, credentials: Credentials) -> None:
    secrets = {f.secret for f in planted.findings}
    for decoy in decoy_secrets(credentials):
        assert decoy not in secrets
    assert not [f for f in planted.findings if f.path in DECOY_PATHS]


def test_instructions_name_the_step_that_leaked(planted: ScanResult) -> None:
    by_where = {(f.path or f.key, f.rule.id): f for f in planted.findings}
    assert by_where[("/root/.git-credentials", "github-token")].removed_by.instruction == (  # type: ignore[union-attr]
        "RUN rm /root/.git-credentials && rm -rf /root/.kube"
    )
    chpasswd = by_where[("RUN", "chpasswd-password")]
    assert chpasswd.layer is not None and chpasswd.layer.instruction is not None
    assert "chpasswd" in chpasswd.layer.instruction
    azure = by_where[("ARG AZURE_STORAGE_CONNECTION_STRING", "azure-storage-connection-string")]
    assert azure.also_in_history  # every later RUN saw the ARG too


def test_the_same_secret_in_history_and_config_shares_its_hash(planted: ScanResult) -> None:
    stripe = [f for f in planted.findings if f.rule.id == "stripe-live-key" and f.source != "file"]
    assert {str(f.source) for f in stripe} == {"history", "config"}
    assert len({f.secret_sha256 for f in stripe}) == 1


def test_vendored_checksum_token_keeps_its_severity(planted: ScanResult) -> None:
    node = "/srv/app/node_modules/example-client/test/fixtures"
    by_path = {f.path: f for f in planted.findings if f.path and f.path.startswith(node)}
    assert by_path[f"{node}/valid-token.txt"].reason is None
    assert str(by_path[f"{node}/valid-token.txt"].severity) == "critical"
    assert by_path[f"{node}/invalid-token.txt"].reason == "vendored"
