"""Which findings count: the severity gate, the baseline, the ignore file, the exit code.

A CI job fails the push only on findings that are new (not in the baseline), not accepted
(no live entry of the ignore file matches them) and at or above `--fail-on`. Fingerprints
hash rule, secret and place, never layer digests, so a rebuilt image keeps its baseline.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE, UsageError
from .model.findings import Finding
from .model.severity import Severity
from .version import __version__

BASELINE_VERSION = 1
DEFAULT_IGNORE_FILE = ".layerscanignore"


class FailOn(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NEVER = "never"

    def fails(self, severity: Severity) -> bool:
        return self is not FailOn.NEVER and severity.rank >= Severity(self.value).rank


@dataclass(frozen=True)
class IgnoreRule:
    """One entry of the ignore file: a fingerprint, or a rule and path pattern, with a reason."""

    reason: str
    fingerprint: str | None = None
    rule: str | None = None
    path: str | None = None
    expires: dt.date | None = None
    line: int = 0

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, finding: Finding) -> bool:
        if self.fingerprint is not None:
            return finding.fingerprint == self.fingerprint
        where = finding.path if finding.path is not None else f"{finding.source}:{finding.key}"
        rule_fits = self.rule is None or fnmatch.fnmatchcase(finding.rule.id, self.rule)
        path_fits = self.path is None or fnmatch.fnmatchcase(where, self.path)
        return rule_fits and path_fits


def load_ignore_rules(path: Path | None) -> list[IgnoreRule]:
    """The ignore file given, or ./.layerscanignore when there is one."""
    if path is not None:
        return load_ignore_file(path)
    default = Path(DEFAULT_IGNORE_FILE)
    return load_ignore_file(default) if default.is_file() else []


def load_ignore_file(path: Path) -> list[IgnoreRule]:
    """Read a .layerscanignore (YAML list); every entry needs a reason."""
    import yaml  # deferred: only a scan with an ignore file needs the parser

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except OSError as exc:
        raise UsageError(f"cannot read ignore file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, list):
        raise UsageError(f"{path} must be a YAML list of entries")
    rules = []
    for number, item in enumerate(document, start=1):
        where = f"{path}: entry {number}"
        if not isinstance(item, dict) or not str(item.get("reason") or "").strip():
            raise UsageError(f"{where} needs a reason")
        unknown = set(item) - {"fingerprint", "rule", "path", "reason", "expires"}
        if unknown:
            raise UsageError(f"{where} has unknown fields {sorted(unknown)}")
        if not any(item.get(key) for key in ("fingerprint", "rule", "path")):
            raise UsageError(f"{where} needs a fingerprint, or a rule and/or path pattern")
        expires = item.get("expires")
        if expires is not None and not isinstance(expires, dt.date):
            try:
                expires = dt.date.fromisoformat(str(expires))
            except ValueError as exc:
                raise UsageError(f"{where}: expires must be a date (YYYY-MM-DD)") from exc
        rules.append(
            IgnoreRule(
                reason=str(item["reason"]).strip(),
                fingerprint=str(item["fingerprint"]) if item.get("fingerprint") else None,
                rule=str(item["rule"]) if item.get("rule") else None,
                path=str(item["path"]) if item.get("path") else None,
                expires=expires,
                line=number,
            )
        )
    return rules


def load_baseline(path: Path) -> set[str]:
    """The fingerprints a baseline file accepts."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read baseline {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{path} is not a layerscan baseline (invalid JSON)") from exc
    entries = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{path} is not a layerscan baseline (no findings list)")
    return {
        str(entry["fingerprint"])
        for entry in entries
        if isinstance(entry, dict) and "fingerprint" in entry
    }


def baseline_document(findings: Sequence[Finding], image: dict[str, Any]) -> dict[str, Any]:
    """What `layerscan baseline` writes: fingerprints plus enough to recognise each one."""
    return {
        "schema_version": BASELINE_VERSION,
        "tool": {"name": "layerscan", "version": __version__},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "image": image,
        "findings": sorted(
            (
                {
                    "fingerprint": finding.fingerprint,
                    "rule": finding.rule.id,
                    "where": finding.place,
                    "severity": str(finding.severity),
                    "secret_sha256": finding.secret_sha256,
                }
                for finding in findings
            ),
            key=lambda entry: (entry["where"], entry["rule"], entry["fingerprint"]),
        ),
    }


@dataclass
class PolicyOutcome:
    """The findings that still count, and what was accepted and why."""

    new: list[Finding]
    baselined: list[Finding] = field(default_factory=list)
    ignored: list[tuple[Finding, IgnoreRule]] = field(default_factory=list)
    expired: list[IgnoreRule] = field(default_factory=list)


def apply_policy(
    findings: Iterable[Finding],
    baseline: set[str] | None = None,
    ignores: Sequence[IgnoreRule] = (),
    today: dt.date | None = None,
) -> PolicyOutcome:
    """Split findings into those that count and those a baseline or a live ignore accepts."""
    today = today or dt.date.today()
    live = [rule for rule in ignores if not rule.expired(today)]
    outcome = PolicyOutcome(new=[], expired=[rule for rule in ignores if rule.expired(today)])
    for finding in findings:
        if baseline is not None and finding.fingerprint in baseline:
            outcome.baselined.append(finding)
            continue
        rule = next((rule for rule in live if rule.matches(finding)), None)
        if rule is not None:
            outcome.ignored.append((finding, rule))
        else:
            outcome.new.append(finding)
    return outcome


def exit_code(outcome: PolicyOutcome, complete: bool, fail_on: FailOn) -> int:
    """1 for a counted finding at or above the gate, else 3 if the scan was incomplete, else 0."""
    if any(fail_on.fails(finding.severity or finding.rule.severity) for finding in outcome.new):
        return EXIT_FINDINGS
    return EXIT_CLEAN if complete else EXIT_INCOMPLETE


def policy_summary(outcome: PolicyOutcome, fail_on: FailOn, code: int) -> dict[str, Any]:
    """What the gate decided, for the report's summary."""
    return {
        "fail_on": str(fail_on),
        "exit_code": code,
        "baselined": len(outcome.baselined),
        "ignored": len(outcome.ignored),
        "expired_ignores": [
            {"entry": rule.line, "reason": rule.reason, "expires": str(rule.expires)}
            for rule in outcome.expired
        ],
    }
