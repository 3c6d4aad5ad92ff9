"""SARIF 2.1.0: what code-scanning dashboards (GitHub, GitLab, Azure DevOps) ingest.

The scanned artifact is the image itself, so every result points at the image target (the
tarball path or the reference) and carries where inside it the secret sits as logical
locations — the layer and the file or config key — and as properties. `partialFingerprints`
holds layerscan's fingerprint, which survives rebuilds, so dashboards track one alert per
secret and place across pushes.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from .fields import where_text
from .json_report import escape_unsafe
from .remediation import remediation
from .view import listed

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://pypi.org/project/layerscan/"

_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_SECURITY_SEVERITY = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "0.0",
}
"""GitHub maps security-severity to its labels: >= 9 critical, >= 7 high, >= 4 medium."""
_FILE_SOURCES = {"docker-archive", "oci-archive", "oci-dir"}
_URI_SAFE = "/:@._-~+=,"
_PRECISION = {"high": "high", "medium": "medium", "low": "low"}


def render(document: dict[str, Any]) -> str:
    """The SARIF log of one scan, from the (already redacted) report document."""
    rules = document["rules"]
    rule_ids = sorted(rules)
    index_of = {rule_id: number for number, rule_id in enumerate(rule_ids)}
    image = document["image"]
    artifact_uri = artifact_uri_for(
        image.get("target") or image.get("reference") or "image", image.get("source")
    )
    layers = {layer["index"]: layer for layer in document["layers"]}
    shown, folded = listed(document)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "layerscan",
                        "version": document["tool"]["version"],
                        "semanticVersion": document["tool"]["version"],
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(rule_id, rules[rule_id]) for rule_id in rule_ids],
                    }
                },
                "invocations": [_invocation(document)],
                "artifacts": [
                    {
                        "location": {"uri": artifact_uri},
                        "description": {"text": _image_description(image)},
                        "properties": {
                            "reference": image["reference"],
                            "digest": image["digest"],
                            "config_digest": image["config_digest"],
                            "platform": image["platform"],
                            "source": image["source"],
                        },
                    }
                ],
                "results": [
                    _result(finding, index_of[finding["rule"]], artifact_uri, layers)
                    for finding in shown
                ],
                "columnKind": "unicodeCodePoints",
                "properties": {
                    "layers": document["layers"],
                    "summary": document["summary"],
                    "folded_vendored_findings": len(document["findings"]) - len(shown),
                    "folded": folded,
                },
            }
        ],
    }
    return escape_unsafe(json.dumps(log, indent=2, ensure_ascii=False)) + "\n"


def artifact_uri_for(target: str, source: str | None) -> str:
    """A valid URI reference for the image: a relative path stays relative (dashboards resolve
    it against the checkout), an absolute one becomes a file: URI, an engine or registry
    reference stays as given; other characters are percent-encoded."""
    if source in _FILE_SOURCES and target != "-":
        prefix = f"{source}:"
        location = target.removeprefix(prefix) if target.startswith(prefix) else target
        if location.startswith("/"):
            return PurePosixPath(location).as_uri()
        return quote(location, safe=_URI_SAFE.replace(":", ""))  # "a:b" would read as a scheme
    return quote(target, safe=_URI_SAFE)


def _rule(rule_id: str, meta: dict[str, str | None]) -> dict[str, Any]:
    own = meta.get("remediation")  # a hygiene check carries its own, and its reference
    help_text = own if own else remediation(rule_id)
    if meta.get("reference"):
        help_text += f" ({meta['reference']})"
    title = str(meta["title"])
    description = meta.get("description") or title
    severity = str(meta["severity"])
    kind = "misconfiguration" if own else "secret"
    return {
        "id": rule_id,
        "name": _pascal_case(rule_id),
        "shortDescription": {"text": _sentence(title)},
        "fullDescription": {"text": _sentence(description)},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "properties": {
            "tags": ["security", kind],
            "precision": _PRECISION.get(str(meta["confidence"]), "medium"),
            "problem.severity": "error" if _LEVEL[severity] == "error" else "warning",
            "security-severity": _SECURITY_SEVERITY[severity],
        },
    }


def _result(
    finding: dict[str, Any], rule_index: int, artifact_uri: str, layers: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    layer = finding["layer"] or {}
    where = where_text(finding)
    logical = [_layer_location(finding, layers)]
    logical.append(
        {
            "name": where,
            "fullyQualifiedName": f"{logical[0]['fullyQualifiedName']} {where}",
            "kind": "resource" if finding["source"] == "file" else "variable",
        }
    )
    removed = finding["removed_by"]
    return {
        "ruleId": finding["rule"],
        "ruleIndex": rule_index,
        "level": _LEVEL[finding["severity"]],
        "message": {"text": _message(finding, where)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri, "index": 0},
                    "region": {"startLine": 1},
                },
                "logicalLocations": logical,
            }
        ],
        "partialFingerprints": {"layerscan/v1": finding["fingerprint"]},
        "properties": {
            "security-severity": _SECURITY_SEVERITY[finding["severity"]],
            "severity": finding["severity"],
            "confidence": finding["confidence"],
            "source": finding["source"],
            "path": finding["path"],
            "nested_path": finding["nested_path"],
            "line": finding["line"],
            "key": finding["key"],
            "layer_index": layer.get("index"),
            "diff_id": layer.get("diff_id"),
            "instruction": layer.get("instruction"),
            "history_index": layer.get("history_index"),
            "status": finding["status"],
            "removed_by_layer": removed["index"] if removed else None,
            "removed_by_instruction": removed["instruction"] if removed else None,
            "secret": finding["secret"],
            "secret_sha256": finding["secret_sha256"],
            "reason": finding["reason"],
            "also_matched": finding.get("also_matched", []),
            "kind": finding.get("kind", "secret"),
            "evidence": finding.get("evidence"),
        },
    }


def _layer_location(finding: dict[str, Any], layers: dict[int, dict[str, Any]]) -> dict[str, Any]:
    layer = finding["layer"] or {}
    index = layer.get("index")
    if finding["source"] == "config":
        return {"name": "config", "fullyQualifiedName": "image config", "kind": "module"}
    if index is None:
        step = layer.get("history_index")
        return {
            "name": f"history-{step}",
            "fullyQualifiedName": f"build step {step} (no layer)",
            "kind": "module",
        }
    diff_id = layer.get("diff_id") or layers.get(index, {}).get("diff_id") or "unknown"
    return {
        "name": f"layer-{index}",
        "fullyQualifiedName": f"layer {index} ({diff_id})",
        "kind": "module",
    }


def _message(finding: dict[str, Any], where: str) -> str:
    layer = finding["layer"] or {}
    if layer.get("index") is not None:
        place = f"layer {layer['index']}"
    elif finding["source"] == "config":
        place = "the image config"
    else:
        place = f"build step {layer.get('history_index')}"
    status = finding["status"]
    removed = finding["removed_by"]
    if removed:
        status += f" by layer {removed['index']}, but still in the image"
    instruction = layer.get("instruction")
    added = f", added by `{_shorten(instruction)}`" if instruction else ""
    if finding.get("kind") == "misconfig":
        return f"{finding['title']}: {finding['evidence']} in {where} ({place}{added})."
    return f"{finding['title']} in {where} ({place}{added}); {status}. Secret {finding['secret']}."


def _invocation(document: dict[str, Any]) -> dict[str, Any]:
    summary = document["summary"]
    notifications = [
        {
            "level": "error",
            "message": {"text": _error_text(error)},
            "descriptor": {"id": "scan-error"},
        }
        for error in document["errors"]
    ] + [
        {"level": "warning", "message": {"text": warning}, "descriptor": {"id": "scan-warning"}}
        for warning in document["warnings"]
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": bool(summary["complete"]),
        "toolExecutionNotifications": notifications,
    }
    policy = summary.get("policy")
    if policy is not None:
        invocation["exitCode"] = policy["exit_code"]
    return invocation


def _error_text(error: dict[str, Any]) -> str:
    place = []
    if error["layer"] is not None:
        place.append(f"layer {error['layer']}")
    if error["path"]:
        place.append(str(error["path"]))
    return (": ".join([", ".join(place), error["message"]]) if place else error["message"]) or (
        "error"
    )


def _image_description(image: dict[str, Any]) -> str:
    source = image["source"] or "not opened"
    return f"container image {image['reference'] or image['target']} ({source})"


def _pascal_case(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in rule_id.replace(".", "-").split("-"))


def _sentence(text: str) -> str:
    """SARIF asks that plain-text messages be complete sentences."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _shorten(text: str, width: int = 120) -> str:
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= width else text[: width - 1] + "…"
