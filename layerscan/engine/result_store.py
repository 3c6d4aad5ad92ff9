"""A whole scan's result as JSON, for the image-level entries of the layer cache.

A rescan of an image whose every layer is in the cache would still replay tens of thousands
of entries into the timeline to give the same findings again. When the layers, the config
(history, ENV, labels) and the settings are all the same, the findings are too: the cache
keeps them per image, and the report is built from them (the timeline's per-layer counts
are kept; its versions are not, so only callers that need no more ask for this). The rule
catalogue is kept too, so that such a rescan neither parses the rules nor loads a detector.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model.findings import Finding, LayerRef, RemovedBy, Source, Status
from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity
from ..model.walk_log import LayerCheck, LayerProblem, LayerStats, ProblemKind, WalkLog


@dataclass
class StoredResult:
    """What a report needs of a scan, as the cache gives it back."""

    findings: list[Finding]
    log: WalkLog
    stats: dict[int, LayerStats]
    rules: dict[str, RuleMeta]
    """Every rule id the scan's engine could report (ScanResult.rules)."""
    skipped: Counter[str] = field(default_factory=Counter)
    files_scanned: int = 0
    bytes_scanned: int = 0


def dump_result(result: StoredResult) -> bytes:
    """JSON (never pickle: a cache file must not be able to run code)."""
    document = {
        "rules": [
            [m.id, m.title, str(m.severity), str(m.confidence), m.description, m.generic]
            for m in result.rules.values()
        ],
        "findings": [_dump_finding(finding) for finding in result.findings],
        "problems": [[p.layer_index, p.message, p.path, str(p.kind)] for p in result.log.problems],
        "checks": {
            str(index): [check.digest_actual, check.diff_id_actual, check.verified]
            for index, check in result.log.checks.items()
        },
        "entries": result.log.entries,
        "uncompressed_bytes": result.log.uncompressed_bytes,
        "stats": {
            str(index): [s.added, s.changed, s.deleted, s.entries]
            for index, s in result.stats.items()
        },
        "skipped": dict(result.skipped),
        "files": result.files_scanned,
        "bytes": result.bytes_scanned,
    }
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def _dump_finding(finding: Finding) -> list[Any]:
    layer = finding.layer
    removed = finding.removed_by
    return [
        finding.rule.id,
        str(finding.source),
        finding.secret,
        None
        if layer is None
        else [layer.index, layer.diff_id, layer.instruction, layer.history_index],
        finding.path,
        finding.nested_path,
        finding.line,
        finding.key,
        str(finding.status),
        None if removed is None else [removed.index, removed.instruction],
        None if finding.severity is None else str(finding.severity),
        None if finding.confidence is None else str(finding.confidence),
        finding.also_in_history,
        finding.reason,
        finding.note,
    ]


def load_result(data: bytes) -> StoredResult:
    """A result back from dump_result's JSON; ValueError (or KeyError, TypeError) if anything
    does not fit."""
    document: dict[str, Any] = json.loads(data)
    rules = {
        str(rule_id): RuleMeta(
            str(rule_id),
            str(title),
            Severity(severity),
            Confidence(confidence),
            str(description),
            bool(generic),
        )
        for rule_id, title, severity, confidence, description, generic in document["rules"]
    }
    log = WalkLog(
        problems=[
            LayerProblem(int(index), str(message), _text(path), ProblemKind(kind))
            for index, message, path, kind in document["problems"]
        ],
        checks={
            int(index): LayerCheck(_text(digest), _text(diff_id), None if ok is None else bool(ok))
            for index, (digest, diff_id, ok) in document["checks"].items()
        },
        entries=int(document["entries"]),
        uncompressed_bytes=int(document["uncompressed_bytes"]),
    )
    return StoredResult(
        findings=[_load_finding(item, rules) for item in document["findings"]],
        log=log,
        stats={
            int(index): LayerStats(int(added), int(changed), int(deleted), int(entries))
            for index, (added, changed, deleted, entries) in document["stats"].items()
        },
        rules=rules,
        skipped=Counter({str(k): int(v) for k, v in document["skipped"].items()}),
        files_scanned=int(document["files"]),
        bytes_scanned=int(document["bytes"]),
    )


def _load_finding(item: list[Any], rules: Mapping[str, RuleMeta]) -> Finding:
    (
        rule_id,
        source,
        secret,
        layer,
        path,
        nested_path,
        line,
        key,
        status,
        removed,
        severity,
        confidence,
        also_in_history,
        reason,
        note,
    ) = item
    return Finding(
        rule=rules[rule_id],
        source=Source(source),
        secret=str(secret),
        layer=None
        if layer is None
        else LayerRef(_number(layer[0]), _text(layer[1]), _text(layer[2]), _number(layer[3])),
        path=_text(path),
        nested_path=_text(nested_path),
        line=_number(line),
        key=_text(key),
        status=Status(status),
        removed_by=None if removed is None else RemovedBy(int(removed[0]), _text(removed[1])),
        severity=None if severity is None else Severity(severity),
        confidence=None if confidence is None else Confidence(confidence),
        also_in_history=[int(n) for n in also_in_history],
        reason=_text(reason),
        note=_text(note),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
