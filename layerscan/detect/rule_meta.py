"""What a finding knows of its rule: a module of its own, since findings, reports and the
cache need it without the compiled rules (rules.py) or the YAML they come from."""

from __future__ import annotations

from dataclasses import dataclass

from ..severity import Confidence, Severity


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
