"""What a finding knows of its rule: a module of its own, since findings, reports and the
cache need it without the compiled rules (detect/rules.py) or the YAML they come from."""

from __future__ import annotations

from dataclasses import dataclass

from .severity import Confidence, Severity


@dataclass(frozen=True)
class RuleMeta:
    """What a finding needs to know about the rule that produced it."""

    id: str
    title: str
    severity: Severity
    confidence: Confidence
    description: str = ""
    generic: bool = False
    """Matches by key name or shape rather than by a provider's format (less specific)."""
    remediation: str = ""
    """What to do about it, for rules that carry their own (the image hygiene checks)."""
    reference: str = ""
    """The guideline it follows (a CIS Docker Benchmark recommendation), if any."""


@dataclass(frozen=True)
class RuleGroup:
    """Rules listed together in the catalogue, each with where it comes from."""

    title: str
    rules: tuple[tuple[RuleMeta, str], ...]
    """(rule, origin): a rules file, "name", "key name" or "detect-secrets"."""
