"""A whole scan's result as JSON, for the image-level entries of the layer cache.

A rescan of an image whose every layer is in the cache would still replay tens of thousands
of entries into the timeline to give the same findings again. When the layers, the config
(history, ENV, labels) and the settings are all the same, the findings are too: the cache
keeps them per image, and the report is built from them (the timeline's per-layer counts
are kept; its versions are not, so only callers that need no more ask for this). The rule
catalogue is kept too, so that such a rescan neither parses the rules nor loads a detector.

It also holds the strict readers every cached document is read back with (here and in
layer_scan.load_outcome): a row is only ever used if it has exactly the shape its writer
gives it, every field of the expected type, so that no stored value, whatever wrote it, can
make a scan fail or build an object the scan itself could not have built.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from ..errors import LayerscanError
from ..model.findings import Finding, Kind, LayerRef, RemovedBy, Source, Status
from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity
from ..model.walk_log import LayerCheck, LayerProblem, LayerStats, ProblemKind, WalkLog

_E = TypeVar("_E", bound=StrEnum)
_LARGEST = (1 << 63) - 1
"""What SQLite and every count layerscan keeps fit in."""
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_INDEX = re.compile(r"(?:0|[1-9][0-9]{0,8})")


class Unusable(LayerscanError):
    """A stored document that is not exactly what its writer writes. The reason names the
    place that does not fit, never a value: cached values are secrets. The cache takes it
    as a miss: it never reaches the user."""


# --- strict readers -------------------------------------------------------------------------


def read_json(data: bytes) -> Any:
    """JSON as the cache writes it: ASCII, without NaN or Infinity. Nesting deeper than the
    parser's recursion bound is Unusable; anything deeper than a shape needs is refused by
    the readers below, which descend only the shape they expect (never recursively)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise Unusable("not ASCII") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Unusable("nested too deeply") from None
    except ValueError:
        raise Unusable("not JSON") from None


def _no_constant(name: str) -> Any:
    raise Unusable("NaN or Infinity")


def record(value: object, keys: Collection[str], what: str) -> dict[str, Any]:
    """An object with exactly these keys."""
    if not isinstance(value, dict) or value.keys() != set(keys):
        raise Unusable(f"{what} is not an object with the expected fields")
    return value


def items(value: object, what: str, length: int | None = None) -> list[Any]:
    """A list (of exactly `length` items when given)."""
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise Unusable(f"{what} is not a list" + ("" if length is None else f" of {length}"))
    return value


def text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise Unusable(f"{what} is not a string")
    return value


def maybe_text(value: object, what: str) -> str | None:
    return None if value is None else text(value, what)


def natural(value: object, what: str) -> int:
    """An integer from 0 to 2**63 - 1 (never a bool, which JSON keeps apart)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _LARGEST:
        raise Unusable(f"{what} is not a count")
    return value


def integer(value: object, what: str) -> int:
    """An integer of either sign that fits in 64 bits (a tar header's mode, uid or gid)."""
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > _LARGEST:
        raise Unusable(f"{what} is not an integer")
    return value


def maybe_natural(value: object, what: str) -> int | None:
    return None if value is None else natural(value, what)


def number(value: object, what: str) -> float:
    """A finite number (an integer or a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unusable(f"{what} is not a number")
    if isinstance(value, int) and abs(value) > _LARGEST:
        raise Unusable(f"{what} is out of range")
    if not math.isfinite(value):
        raise Unusable(f"{what} is not finite")
    return float(value)


def truth(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise Unusable(f"{what} is not true or false")
    return value


def member(kind: type[_E], value: object, what: str) -> _E:
    """One of an enumeration's values."""
    try:
        return kind(text(value, what))
    except ValueError:
        raise Unusable(f"{what} is not one of its values") from None


def maybe_member(kind: type[_E], value: object, what: str) -> _E | None:
    return None if value is None else member(kind, value, what)


def index_key(value: str, what: str) -> int:
    """A layer index or position written as an object key ("0", "17")."""
    if not _INDEX.fullmatch(value):
        raise Unusable(f"{what} is not an index")
    return int(value)


def digest(value: object, what: str) -> str:
    """A sha256 digest as layerscan writes one ("sha256:" and 64 lowercase hex digits)."""
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise Unusable(f"{what} is not a sha256 digest")
    return value


def maybe_digest(value: object, what: str) -> str | None:
    return None if value is None else digest(value, what)


def counts(value: object, what: str) -> Counter[str]:
    """An object of names to counts (the skipped-file reasons)."""
    if not isinstance(value, dict):
        raise Unusable(f"{what} is not an object")
    return Counter({text(k, what): natural(v, what) for k, v in value.items()})


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
            [
                m.id,
                m.title,
                str(m.severity),
                str(m.confidence),
                m.description,
                m.generic,
                m.remediation,
                m.reference,
            ]
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
        finding.also_matched,
        str(finding.kind),
        finding.evidence,
    ]


_RESULT_FIELDS = (
    "rules",
    "findings",
    "problems",
    "checks",
    "entries",
    "uncompressed_bytes",
    "stats",
    "skipped",
    "files",
    "bytes",
)


def load_result(data: bytes, layers: int | None = None) -> StoredResult:
    """A result back from dump_result's JSON, checked field by field (and, given the image's
    number of `layers`, every layer index it names checked to be one of them); Unusable if
    anything does not fit, a finding of a rule its catalogue lacks included."""
    document = record(read_json(data), _RESULT_FIELDS, "the result")

    def layer_index(value: object, what: str) -> int:
        index = natural(value, what)
        if layers is not None and index >= layers:
            raise Unusable(f"{what} names no layer of the image")
        return index

    rules: dict[str, RuleMeta] = {}
    for item in items(document["rules"], "rules"):
        fields = items(item, "a rule", 8)
        rule_id, title, severity, confidence, description, generic, remediation, reference = fields
        meta = RuleMeta(
            text(rule_id, "a rule id"),
            text(title, "a rule title"),
            member(Severity, severity, "a rule severity"),
            member(Confidence, confidence, "a rule confidence"),
            text(description, "a rule description"),
            truth(generic, "a rule's generic flag"),
            text(remediation, "a rule's remediation"),
            text(reference, "a rule's reference"),
        )
        rules[meta.id] = meta
    problems = []
    for item in items(document["problems"], "problems"):
        index, message, path, kind = items(item, "a problem", 4)
        problems.append(
            LayerProblem(
                layer_index(index, "a problem's layer"),
                text(message, "a problem's message"),
                maybe_text(path, "a problem's path"),
                member(ProblemKind, kind, "a problem's kind"),
            )
        )
    checks = {}
    for key, item in record_of(document["checks"], "checks").items():
        digest_actual, diff_id_actual, verified = items(item, "a layer check", 3)
        checks[layer_index(index_key(key, "a layer check"), "a layer check")] = LayerCheck(
            maybe_digest(digest_actual, "a layer's digest"),
            maybe_digest(diff_id_actual, "a layer's diff_id"),
            None if verified is None else truth(verified, "a layer's verified flag"),
        )
    stats = {}
    for key, item in record_of(document["stats"], "stats").items():
        added, changed, deleted, entries = items(item, "a layer's counts", 4)
        stats[layer_index(index_key(key, "a layer's counts"), "a layer's counts")] = LayerStats(
            natural(added, "files added"),
            natural(changed, "files changed"),
            natural(deleted, "files deleted"),
            natural(entries, "entries"),
        )
    log = WalkLog(
        problems=problems,
        checks=checks,
        entries=natural(document["entries"], "entries"),
        uncompressed_bytes=natural(document["uncompressed_bytes"], "uncompressed bytes"),
    )
    return StoredResult(
        findings=[
            _load_finding(item, rules, layer_index)
            for item in items(document["findings"], "findings")
        ],
        log=log,
        stats=stats,
        rules=rules,
        skipped=counts(document["skipped"], "skipped"),
        files_scanned=natural(document["files"], "files"),
        bytes_scanned=natural(document["bytes"], "bytes"),
    )


def record_of(value: object, what: str) -> dict[str, Any]:
    """An object of any keys (each checked by the caller)."""
    if not isinstance(value, dict):
        raise Unusable(f"{what} is not an object")
    return value


def _load_finding(
    item: object, rules: Mapping[str, RuleMeta], layer_index: Callable[[object, str], int]
) -> Finding:
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
        also_matched,
        kind,
        evidence,
    ) = items(item, "a finding", 18)
    rule = rules.get(text(rule_id, "a finding's rule"))
    if rule is None:
        raise Unusable("a finding names a rule the catalogue lacks")
    ref = None
    if layer is not None:
        index, diff_id, instruction, history_index = items(layer, "a finding's layer", 4)
        ref = LayerRef(
            None if index is None else layer_index(index, "a finding's layer"),
            maybe_text(diff_id, "a finding's diff_id"),
            maybe_text(instruction, "a finding's instruction"),
            maybe_natural(history_index, "a finding's history index"),
        )
    removed_by = None
    if removed is not None:
        index, instruction = items(removed, "a finding's removal", 2)
        removed_by = RemovedBy(
            layer_index(index, "the layer that removed it"),
            maybe_text(instruction, "the removing instruction"),
        )
    return Finding(
        rule=rule,
        source=member(Source, source, "a finding's source"),
        secret=text(secret, "a finding's secret"),
        layer=ref,
        path=maybe_text(path, "a finding's path"),
        nested_path=maybe_text(nested_path, "a finding's nested path"),
        line=maybe_natural(line, "a finding's line"),
        key=maybe_text(key, "a finding's key"),
        status=member(Status, status, "a finding's status"),
        removed_by=removed_by,
        severity=maybe_member(Severity, severity, "a finding's severity"),
        confidence=maybe_member(Confidence, confidence, "a finding's confidence"),
        also_in_history=[
            natural(n, "a history index") for n in items(also_in_history, "history indexes")
        ],
        reason=maybe_text(reason, "a finding's reason"),
        note=maybe_text(note, "a finding's note"),
        also_matched=[
            text(rule, "a rule that also matched")
            for rule in items(also_matched, "rules that also matched")
        ],
        kind=member(Kind, kind, "a finding's kind"),
        evidence=maybe_text(evidence, "a finding's evidence"),
    )
