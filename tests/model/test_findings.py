"""Redaction and fingerprints."""

from __future__ import annotations

from layerscan.model.findings import Finding, LayerRef, Source, redact, redact_known
from layerscan.model.rule_meta import RuleMeta
from layerscan.model.severity import Confidence, Severity

RULE = RuleMeta("github-token", "GitHub token", Severity.CRITICAL, Confidence.HIGH)


def _finding(path: str, layer_index: int, diff_id: str) -> Finding:
    return Finding(
        rule=RULE,
        source=Source.FILE,
        secret="ghp_" + "a" * 36,
        path=path,
        layer=LayerRef(layer_index, diff_id, "COPY x /y", layer_index),
    )


def test_redaction_keeps_a_prefix_and_the_length() -> None:
    assert redact("ghp_" + "a" * 36) == "ghp_…[40 chars]"
    assert redact("hunter22") == "hu…[8 chars]"
    assert redact("abc") == "…[3 chars]"
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert redact(key) == f"-----BEGIN RSA PRIVATE KEY-----…[{len(key)} chars]"


def test_known_secrets_are_redacted_inside_free_text() -> None:
    text = "RUN curl -u admin:s3cretpassw0rd https://x"
    assert redact_known(text, ["s3cretpassw0rd"]) == "RUN curl -u admin:s3…[14 chars] https://x"


def test_fingerprint_ignores_layer_identity_but_not_place() -> None:
    before = _finding("/app/config.yml", 3, "sha256:" + "1" * 64)
    rebuilt = _finding("/app/config.yml", 5, "sha256:" + "2" * 64)
    moved = _finding("/app/other.yml", 3, "sha256:" + "1" * 64)
    assert before.fingerprint == rebuilt.fingerprint
    assert before.fingerprint != moved.fingerprint
