"""Run every detector over one piece of text and merge what they say.

Our rules (signatures/) run first: they know provider formats and whole structures such as
key blocks. detect-secrets runs second, on prefiltered lines, for keyword and entropy
heuristics. Where both report the same secret, the more specific rule wins.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .lines import LineIndex
from .rules import Rule, RuleMeta
from .secrets_core import SecretsCore, core_rules


@dataclass(frozen=True)
class Match:
    """A secret found in a text: which rule, the clear value, and where."""

    rule: RuleMeta
    secret: str
    line: int | None


class Engine:
    """All detectors behind one call: `scan_text(text, filename)`."""

    def __init__(self, rules: Sequence[Rule], core: SecretsCore | None = None) -> None:
        self.rules = list(rules)
        self.core = core

    def catalog(self) -> dict[str, RuleMeta]:
        """Every rule id this engine can report, with its metadata (for reports)."""
        found = {rule.meta.id: rule.meta for rule in self.rules}
        if self.core is not None:
            found.update({meta.id: meta for meta in core_rules().values()})
        return found

    @contextmanager
    def session(self) -> Iterator[Engine]:
        """Scans must happen inside a session: the core's global settings are set for it."""
        if self.core is None:
            yield self
            return
        with self.core.session():
            yield self

    def scan_text(self, text: str, filename: str) -> list[Match]:
        """Every secret in text; `filename` lets heuristics pick the file's syntax."""
        index = LineIndex(text)
        lowered = text.lower()
        matches: list[Match] = []
        claimed: list[tuple[int, int, str]] = []  # (first line, last line, secret) of our rules
        for rule in self.rules:
            for secret, offset in rule.find(text, lowered):
                first = index.line_of(offset)
                last = first + secret.count("\n")
                matches.append(Match(rule.meta, secret, first))
                claimed.append((first, last, secret))
        if self.core is not None:
            best: dict[tuple[int, str], Match] = {}
            for core_match in self.core.scan(text, filename):
                if any(
                    first <= core_match.line <= last
                    and (core_match.secret in secret or secret in core_match.secret)
                    for first, last, secret in claimed
                ):
                    continue
                key = (core_match.line, core_match.secret)
                kept = best.get(key)
                if kept is None or core_match.rule.severity.rank > kept.rule.severity.rank:
                    best[key] = Match(core_match.rule, core_match.secret, core_match.line)
            matches.extend(best.values())
        return _unique(matches)


def _unique(matches: list[Match]) -> list[Match]:
    seen: set[tuple[str, str, int | None]] = set()
    unique: list[Match] = []
    for match in matches:
        key = (match.rule.id, match.secret, match.line)
        if key not in seen:
            seen.add(key)
            unique.append(match)
    return unique
