"""Run every detector over one piece of text and merge what they say.

Our rules (signatures/) run first: they know provider formats and whole structures such as
key blocks. detect-secrets runs second, on prefiltered lines, for keyword and entropy
heuristics. Placeholders and documentation examples are dropped whoever found them; where two
detectors report the same secret, the more specific one wins.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

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
    start: int | None = field(default=None, compare=False, repr=False)
    """Where the secret starts in the scanned text (our rules know it): two matches are the
    same secret in the same place when their character ranges meet."""
    also: tuple[str, ...] = field(default=(), compare=False)
    """Other rules (and plugins) that matched this secret at this place: one finding is
    reported, under the most telling rule, and these are listed with it."""

    @property
    def last_line(self) -> int | None:
        return None if self.line is None else self.line + self.secret.count("\n")


_MAX_PLACES = 64
"""Occurrences of a detect-secrets match on its line that are checked against our matches;
past this the match is kept (a duplicate at worst, never quadratic work)."""


class _Claimed:
    """The characters of a text our kept matches cover, so that whether a match meets one
    costs its own length, not the number of matches kept (a file of many secrets on one
    line made the pairwise check quadratic). Each kept range starts with a 2 and goes on
    with 1s: the range a character belongs to starts at the nearest 2 before it."""

    def __init__(self, text_length: int) -> None:
        self._length = text_length
        self._cells: bytearray | None = None  # made on the first claim: most texts have none

    def owner(self, start: int, length: int) -> int | None:
        """Where the kept match whose characters this range meets starts, or None."""
        cells = self._cells
        if cells is None:
            return None
        end = start + max(length, 1)
        met = [
            found for found in (cells.find(1, start, end), cells.find(2, start, end)) if found >= 0
        ]
        if not met:
            return None
        return cells.rfind(2, 0, min(met) + 1)

    def claim(self, start: int, length: int) -> None:
        if self._cells is None:
            self._cells = bytearray(self._length + 1)
        end = start + max(length, 1)
        self._cells[start:end] = b"\x02" + b"\x01" * (end - start - 1)


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
            numbers = sorted(
                hits.rule_ends.keys() | hits.whole_text_rules | prefilter.unfiltered_rules
            )
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
                        start=hit.offset,
                    )
                )
        ours = [m for m in ours if not (m.rule.generic and is_identifier(m.secret))]
        claimed = _Claimed(len(text))
        also: dict[int, set[str]] = {}  # by where the kept match starts
        matches = _pair_aws_keys(_one_per_secret(ours, claimed, also))
        if self.core is not None and heuristics:
            matches.extend(self._core_matches(text, filename, claimed, index, hits, also))
        return _unique(_with_also(matches, also))

    def _core_matches(
        self,
        text: str,
        filename: str,
        claimed: _Claimed,
        index: LineIndex,
        hits: Hits | None,
        also: dict[int, set[str]],
    ) -> list[Match]:
        assert self.core is not None
        flagged = None
        if hits is not None and self._prefilter is not None:
            if hits.dense:
                flagged = self.core.anchored_lines(text, hits.whole_text_plugins)
            else:
                flagged = self.core.flagged_lines(text, hits.plugin_spans, self._prefilter)
        best: dict[tuple[int, str], Match] = {}
        for core_match in self.core.scan(text, filename, flagged):
            candidate = Match(core_match.rule, core_match.secret, core_match.line)
            if is_noise(candidate.secret) or is_identifier(candidate.secret):
                continue
            owner = _claimed_at(candidate, text, index, claimed)
            if owner is not None:
                also.setdefault(owner, set()).add(candidate.rule.id)
                continue
            key = (core_match.line, core_match.secret)
            kept = best.get(key)
            if kept is None or candidate.rule.severity.rank > kept.rule.severity.rank:
                best[key] = candidate
        return list(best.values())


def _view(text: str) -> bytes:
    """What the prefilter scans: one byte per character, so offsets stay character offsets."""
    return text.encode("ascii", "replace")


def _claimed_at(candidate: Match, text: str, index: LineIndex, claimed: _Claimed) -> int | None:
    """Where the match of ours starts that a detect-secrets match (which knows its line, not
    its offset) meets, if any of its first occurrences on its line meets one."""
    if candidate.line is None:
        return None
    start = index.line_start(candidate.line)
    end = index.line_start(candidate.line + 1) if candidate.line < index.lines else len(text)
    position = text.find(candidate.secret, start, end)
    for _ in range(_MAX_PLACES):
        if position < 0:
            return None
        owner = claimed.owner(position, len(candidate.secret))
        if owner is not None:
            return owner
        position = text.find(candidate.secret, position + 1, end)
    return None


def _with_also(matches: list[Match], also: dict[int, set[str]]) -> list[Match]:
    """Each kept match with the other rules that matched where it is (see Match.also)."""
    if not also:
        return matches
    return [
        replace(match, also=tuple(sorted(also[match.start] - {match.rule.id})))
        if match.start is not None and match.start in also
        else match
        for match in matches
    ]


def _pair_aws_keys(matches: list[Match]) -> list[Match]:
    """An access key id and a secret key a few lines apart are one usable credential.

    Each is paired with the last of the other kind (in line order) within _PAIR_DISTANCE
    lines, found by bisection: thousands of each in one file stay cheap."""
    ids = [m for m in matches if m.rule.id == AWS_KEY_ID and m.line is not None]
    secrets = [m for m in matches if m.rule.id == AWS_SECRET_KEY and m.line is not None]
    if not ids or not secrets:
        return matches
    paired: dict[int, Match] = {}
    _mark_pairs(secrets, ids, paired, "paired with access key id {secret}… on line {line}")
    _mark_pairs(ids, secrets, paired, "paired with a secret access key on line {line}")
    return [paired.get(id(m), m) for m in matches]


def _mark_pairs(
    matches: list[Match], partners: list[Match], paired: dict[int, Match], note: str
) -> None:
    """Raise each match that has a partner near it to critical, its note naming the
    partner (`note` formatted with the partner's first characters and line)."""
    lines = [m.line or 0 for m in partners]
    for match in matches:
        partner = _last_near(partners, lines, match.line or 0)
        if partner is not None:
            paired[id(match)] = replace(
                match,
                severity=Severity.CRITICAL,
                note=note.format(secret=partner.secret[:4], line=partner.line),
            )


def _last_near(candidates: list[Match], lines: list[int], line: int) -> Match | None:
    """The last of `candidates` (sorted by line) within _PAIR_DISTANCE lines of `line`."""
    position = bisect.bisect_right(lines, line + _PAIR_DISTANCE) - 1
    if position >= 0 and lines[position] >= line - _PAIR_DISTANCE:
        return candidates[position]
    return None


def _one_per_secret(
    matches: list[Match], claimed: _Claimed, also: dict[int, set[str]]
) -> list[Match]:
    """Where several rules saw the same secret, keep the most telling one.

    A provider rule beats a generic one (a GitHub token in a URL is a GitHub token first);
    among equals the more severe wins. Two matches are the same secret when their character
    ranges meet; each match costs its own length (see _Claimed), however many there are.
    """
    ranked = sorted(matches, key=lambda m: (m.rule.generic, -(m.severity or m.rule.severity).rank))
    kept: list[Match] = []
    for match in ranked:
        start = match.start if match.start is not None and match.start >= 0 else None
        owner = None if start is None else claimed.owner(start, len(match.secret))
        if owner is not None:
            also.setdefault(owner, set()).add(match.rule.id)
            continue
        kept.append(match)
        if start is not None:
            claimed.claim(start, len(match.secret))
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
