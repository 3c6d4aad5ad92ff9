"""The report document: the JSON contract (schema_version 1) every format renders from.

Redaction happens here and only here: a secret leaves the process in clear text only when
the user passed --show-secrets. Instructions are redacted too, because RUN lines and ARG
prefixes quote the very values that were found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from ..model.findings import Finding, Kind, Status, redact_known
from ..model.safe_text import printable
from ..model.severity import Severity
from ..version import __version__
from .options import ScanResult

SCHEMA_VERSION = 1


def build_document(
    result: ScanResult,
    show_secrets: bool = False,
    shown: Sequence[Finding] | None = None,
    policy: dict[str, Any] | None = None,
    fold_vendored: bool = False,
) -> dict[str, Any]:
    """The report as plain data, redacted unless `show_secrets`.

    `shown` are the findings to list (after the baseline, the ignore file and --severity);
    all of them are still used to redact instructions, which may quote any of them.
    `fold_vendored` asks the reports for people to count vendored low findings in one line
    instead of listing them (report/view.py); the JSON report lists them all.
    """
    secrets = [finding.secret for finding in result.findings]
    listed = list(result.findings if shown is None else shown)

    cleaned: dict[str, str] = {}

    def clean(text: str | None) -> str | None:
        """Instructions repeat (one per layer, quoted by each finding): redact each once."""
        if text is None or show_secrets:
            return text
        if text not in cleaned:
            cleaned[text] = redact_known(text, secrets)
        return cleaned[text]

    image = result.image
    layers = []
    for layer in image.layers:
        stats = result.timeline.stats.get(layer.index)
        check = result.log.checks.get(layer.index)
        layers.append(
            {
                "index": layer.index,
                "diff_id": layer.diff_id,
                "digest": layer.digest,
                "size": layer.size,
                "media_type": layer.media_type,
                "instruction": clean(layer.instruction),
                "created": layer.history.created if layer.history else None,
                "history_index": layer.history.index if layer.history else None,
                "files_added": stats.added if stats else 0,
                "files_changed": stats.changed if stats else 0,
                "files_deleted": stats.deleted if stats else 0,
                "verified": check.verified if check else None,
                "digest_actual": check.digest_actual if check else None,
                "diff_id_actual": check.diff_id_actual if check else None,
            }
        )
    findings = [finding_record(finding, show_secrets, clean) for finding in listed]
    by_severity = Counter(str(f.severity) for f in listed)
    by_status = Counter(str(f.status) for f in listed)
    by_kind = Counter(str(f.kind) for f in listed)
    warnings = result.warnings + [
        f"ignore entry {rule['entry']} ({rule['reason']}) expired on {rule['expires']} "
        "and no longer applies"
        for rule in (policy or {}).get("expired_ignores", [])
    ]
    document: dict[str, Any] = printable(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "layerscan", "version": __version__},
            "image": image.identity(),
            "layers": layers,
            "rules": _rules(result, listed),
            "findings": findings,
            "warnings": warnings,
            "errors": [
                {
                    "layer": problem.layer_index,
                    "path": problem.path,
                    "message": problem.message,
                    "fatal": problem.fatal,
                }
                for problem in result.problems
            ],
            "summary": {
                "findings": len(listed),
                "found": len(result.findings),
                "by_severity": {str(s): by_severity.get(str(s), 0) for s in Severity},
                "by_status": {str(s): by_status.get(str(s), 0) for s in Status},
                "by_kind": {str(k): by_kind.get(str(k), 0) for k in Kind},
                "layers": len(image.layers),
                "files_scanned": result.files_scanned,
                "bytes_scanned": result.bytes_scanned,
                "skipped": dict(sorted(result.skipped.items())),
                "errors": len(result.problems),
                "complete": result.complete,
                "seconds": round(result.seconds, 3),
                **({"policy": policy} if policy is not None else {}),
            },
        }
    )
    if fold_vendored:
        document["view"] = {"fold_vendored": True}  # read by report/view.py
    return document


def _rules(result: ScanResult, listed: Sequence[Finding]) -> dict[str, dict[str, str | None]]:
    """Every rule a listed finding refers to: reports (SARIF above all) describe them once."""
    used = {finding.rule.id for finding in listed}
    return {
        rule_id: {
            "title": meta.title,
            "severity": str(meta.severity),
            "confidence": str(meta.confidence),
            "description": meta.description,
            "remediation": meta.remediation or None,
            "reference": meta.reference or None,
        }
        for rule_id, meta in sorted(result.rules.items())
        if rule_id in used
    }


def finding_record(
    finding: Finding, show_secrets: bool, clean: Callable[[str | None], str | None]
) -> dict[str, Any]:
    """One finding as every JSON document lists it (`clean` redacts instructions)."""
    layer = finding.layer
    return {
        "fingerprint": finding.fingerprint,
        "rule": finding.rule.id,
        "title": finding.rule.title,
        "severity": str(finding.severity),
        "confidence": str(finding.confidence),
        "source": str(finding.source),
        "path": finding.path,
        "nested_path": finding.nested_path,
        "line": finding.line,
        "key": finding.key,
        "layer": None
        if layer is None
        else {
            "index": layer.index,
            "diff_id": layer.diff_id,
            "instruction": clean(layer.instruction),
            "history_index": layer.history_index,
        },
        "status": str(finding.status),
        "removed_by": None
        if finding.removed_by is None
        else {
            "index": finding.removed_by.index,
            "instruction": clean(finding.removed_by.instruction),
        },
        "secret": finding.shown_secret(show_secrets),
        "secret_sha256": finding.secret_sha256,
        "also_in_history": list(finding.also_in_history),
        "also_matched": list(finding.also_matched),
        "reason": finding.reason,
        "note": finding.note,
        "kind": str(finding.kind),
        "evidence": finding.evidence,
    }


def failed_document(target: str, message: str, fail_on: str, exit_code: int) -> dict[str, Any]:
    """The report of a scan that did not finish (layerscan itself failed): no findings can be
    vouched for, so it says so in the places scripts and dashboards read (`complete: false`,
    one fatal error, the exit code), and it validates against the same schema."""
    document: dict[str, Any] = printable(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "layerscan", "version": __version__},
            "image": {
                "reference": None,
                "digest": None,
                "config_digest": None,
                "platform": None,
                "source": None,
                "target": target,
            },
            "layers": [],
            "rules": {},
            "findings": [],
            "warnings": [],
            "errors": [{"layer": None, "path": None, "message": message, "fatal": True}],
            "summary": {
                "findings": 0,
                "found": 0,
                "by_severity": {str(s): 0 for s in Severity},
                "by_status": {str(s): 0 for s in Status},
                "layers": 0,
                "files_scanned": 0,
                "bytes_scanned": 0,
                "skipped": {},
                "errors": 1,
                "complete": False,
                "seconds": 0.0,
                "policy": {
                    "fail_on": fail_on,
                    "exit_code": exit_code,
                    "baselined": 0,
                    "ignored": 0,
                    "expired_ignores": [],
                },
            },
        }
    )
    return document
