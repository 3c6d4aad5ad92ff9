"""Run every detector over one piece of text and merge what they say.

Our rules (signatures/) run first: they know provider formats and whole structures such as
key blocks. detect-secrets runs second, on prefiltered lines, for keyword and entropy
heuristics. Placeholders and documentation examples are dropped whoever found them; where two
detectors report the same secret, the more specific one wins.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ..model.rule_meta import RuleMeta
from ..model.severity import Severity
from .lines import LineIndex
from .noise import is_noise
from .prefilter import Hits, Prefilter, available, candidate_windows
from .rules import Rule
from .secrets_core import SecretsCore, core_rules
from .validators import is_identifier

AWS_KEY_ID, AWS_SECRET_KEY = "aws-access-key-id", "aws-secret-access-key"
_REMEMBER_FROM = 4096
"""Texts this long or longer are remembered by content (smaller ones cost less to rescan)."""
_REMEMBERED = 20_000
_COMPILE_AFTER = 1 << 20
"""Characters scanned without the prefilter before it is compiled: compiling costs about as
much as a megabyte of text scanned by the Python regexes alone, so a small image, or a
rescan that only reads history and config, is faster without it."""
_PAIR_DISTANCE = 5  # lines


@dataclass(frozen=True)
class Match:
    """A secret found in a text: which rule, the clear value, where, and what checks said."""

    rule: RuleMeta
    secret: str
    line: int | None
    severity: Severity | None = None
    verified: bool = False
    """A provider checksum matched: real in shape, even inside vendored code."""
    note: str | None = None

    @property
    def last_line(self) -> int | None:
        return None if self.line is None else self.line + self.secret.count("\n")


def _overlaps(a: Match, b: Match) -> bool:
    if a.line is None or b.line is None:
        return a.secret in b.secret or b.secret in a.secret
    same_lines = a.line <= (b.last_line or b.line) and b.line <= (a.last_line or a.line)
    return same_lines and (a.secret in b.secret or b.secret in a.secret)


class Engine:
    """All detectors behind one call: `scan_text(text, filename, path)`."""

    def __init__(
        self, rules: Sequence[Rule], core: SecretsCore | None = None, prefilter: bool = True
    ) -> None:
        self.rules = list(rules)
        self.core = core
        self._wants_prefilter = prefilter and available()
        self._prefilter: Prefilter | None = None
        self._unfiltered_chars = 0
        self._seen: OrderedDict[tuple[object, ...], list[Match]] = OrderedDict()

    @property
    def uses_prefilter(self) -> bool:
        """Whether scans will go through the prefilter (it is compiled on first use)."""
        return self._wants_prefilter

    @property
    def prefilter(self) -> Prefilter | None:
        """The Hyperscan database, compiled on first use (a fully cached rescan never needs
        it: the history and config are short texts, see _scan_text)."""
        if self._prefilter is None and self._wants_prefilter:
            plugins = self.core.prefilter_patterns() if self.core is not None else {}
            self._prefilter = Prefilter(
                [rule.pattern for rule in self.rules],
                plugins,
                strings_rules=[n for n, rule in enumerate(self.rules) if not rule.meta.generic],
            )
        return self._prefilter

    def may_find_in_strings(self, data: bytes | memoryview) -> bool:
        """Whether the printable strings of a binary could hold a match (strings run only the
        provider-format rules, see scan_text): False saves pulling them out. Always True
        until the prefilter is compiled."""
        prefilter = self._prefilter
        return prefilter is None or prefilter.may_hold_strings_match(data)

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

    def scan_text(
        self,
        text: str,
        filename: str,
        path: str | None = None,
        heuristics: bool = True,
        utf8: bytes | None = None,
    ) -> list[Match]:
        """Every secret in text; `filename` picks syntax heuristics, `path` path-bound rules.

        `heuristics=False` keeps only provider formats: for strings pulled out of a binary,
        where `key=value` shapes and entropy are accidents of the byte layout. `utf8`, when
        the caller has it (the bytes a file's text was decoded from), is `text` in UTF-8: it
        spares encoding the text again for the memo key and, for ASCII, the prefilter.

        Images hold the same large file many times (a wheel's member and its installed copy,
        a file copied between layers): a large text already scanned under the same name and
        path-bound rules gives the same matches, so it is looked up rather than rescanned.
        """
        ascii_text = text.isascii()  # free: str knows whether it is ASCII
        if utf8 is not None and (len(utf8) == len(text)) != ascii_text:
            raise ValueError("`utf8` is not the text's encoding")  # UTF-8 is longer if not ASCII
        if len(text) < _REMEMBER_FROM:
            view = utf8 if ascii_text and utf8 is not None else _view(text)
            return self._scan_text(text, view, filename, path, heuristics)
        if utf8 is not None:
            exact = utf8
        else:
            exact = text.encode("ascii") if ascii_text else text.encode("utf-8", "surrogatepass")
        key = (
            # sha256: no two texts an image could be built to hold share a key (and with the
            # CPU's SHA extensions it is the fastest hash hashlib has).
            hashlib.sha256(exact).digest(),
            filename,
            heuristics,
            tuple(n for n, rule in enumerate(self.rules) if rule.paths and rule.applies_to(path)),
        )
        found = self._seen.get(key)
        if found is None:
            view = exact if ascii_text else _view(text)
            found = self._scan_text(text, view, filename, path, heuristics)
            self._seen[key] = found
            if len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(key)
        return list(found)

    def _scan_text(
        self, text: str, view: bytes, filename: str, path: str | None, heuristics: bool
    ) -> list[Match]:
        prefilter = self._prefilter
        if prefilter is None and self._wants_prefilter:
            self._unfiltered_chars += len(text)
            if self._unfiltered_chars >= _COMPILE_AFTER:
                prefilter = self.prefilter
        hits = prefilter.scan(view) if prefilter is not None else None
        index = LineIndex(text)
        lowered: str | None = None
        ours: list[Match] = []
        # With the prefilter, only the rules it flagged (and those it cannot take) run.
        numbers: Iterable[int] = range(len(self.rules))
        if prefilter is not None and hits is not None:
            numbers = sorted(hits.rule_ends.keys() | prefilter.unfiltered_rules)
        for number in numbers:
            rule = self.rules[number]
            if (rule.meta.generic and not heuristics) or not rule.applies_to(path):
                continue
            windows = None
            ends = hits.rule_ends.get(number) if hits is not None else None
            if ends is not None:
                windows = candidate_windows(
                    ends, rule.reach, len(text), text if rule.single_line else None
                )
            if rule.keywords and windows is None:
                lowered = text.lower() if lowered is None else lowered
            for hit in rule.find(text, lowered, windows):
                ours.append(
                    Match(
                        rule.meta,
                        hit.secret,
                        index.line_of(hit.offset),
                        hit.verdict.severity,
                        hit.verdict.checksum,
                        hit.verdict.note,
                    )
                )
        ours = [m for m in ours if not (m.rule.generic and is_identifier(m.secret))]
        matches = _pair_aws_keys(_one_per_secret(ours))
        if self.core is not None and heuristics:
            matches.extend(self._core_matches(text, filename, matches, hits))
        return _unique(matches)

    def _core_matches(
        self, text: str, filename: str, claimed: list[Match], hits: Hits | None
    ) -> list[Match]:
        assert self.core is not None
        flagged = None
        if hits is not None and self._prefilter is not None:
            flagged = self.core.flagged_lines(text, hits.plugin_spans, self._prefilter)
        best: dict[tuple[int, str], Match] = {}
        for core_match in self.core.scan(text, filename, flagged):
            candidate = Match(core_match.rule, core_match.secret, core_match.line)
            if (
                is_noise(candidate.secret)
                or is_identifier(candidate.secret)
                or any(_overlaps(candidate, m) for m in claimed)
            ):
                continue
            key = (core_match.line, core_match.secret)
            kept = best.get(key)
            if kept is None or candidate.rule.severity.rank > kept.rule.severity.rank:
                best[key] = candidate
        return list(best.values())


def _view(text: str) -> bytes:
    """What the prefilter scans: one byte per character, so offsets stay character offsets."""
    return text.encode("ascii", "replace")


def _pair_aws_keys(matches: list[Match]) -> list[Match]:
    """An access key id and a secret key a few lines apart are one usable credential."""
    ids = [m for m in matches if m.rule.id == AWS_KEY_ID and m.line is not None]
    secrets = [m for m in matches if m.rule.id == AWS_SECRET_KEY and m.line is not None]
    paired: dict[int, Match] = {}
    for key_id in ids:
        for secret in secrets:
            if abs((secret.line or 0) - (key_id.line or 0)) <= _PAIR_DISTANCE:
                paired[id(secret)] = replace(
                    secret,
                    severity=Severity.CRITICAL,
                    note=f"paired with access key id {key_id.secret[:4]}… on line {key_id.line}",
                )
                paired[id(key_id)] = replace(
                    key_id,
                    severity=Severity.CRITICAL,
                    note=f"paired with a secret access key on line {secret.line}",
                )
    return [paired.get(id(m), m) for m in matches]


def _one_per_secret(matches: list[Match]) -> list[Match]:
    """Where several rules saw the same secret, keep the most telling one.

    A provider rule beats a generic one (a GitHub token in a URL is a GitHub token first);
    among equals the more severe wins.
    """
    ranked = sorted(matches, key=lambda m: (m.rule.generic, -(m.severity or m.rule.severity).rank))
    kept: list[Match] = []
    for match in ranked:
        if not any(_overlaps(match, other) for other in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: (m.line or 0, m.rule.id))


def _unique(matches: list[Match]) -> list[Match]:
    seen: set[tuple[str, str, int | None]] = set()
    unique: list[Match] = []
    for match in matches:
        key = (match.rule.id, match.secret, match.line)
        if key not in seen:
            seen.add(key)
            unique.append(match)
    return unique
