"""One Hyperscan pass per text decides which rules and which detect-secrets plugins run.

Python's regex engine costs about a second per 10 MB per pattern; Hyperscan (the Vectorscan
build that the `hyperscan` package bundles) runs every pattern at once at gigabytes a second.
Each pattern is compiled in prefilter mode, which matches a superset of what the Python
pattern matches, so the Python regex still decides — but only on the texts (for our rules)
or the lines (for detect-secrets' plugins) the prefilter flags.

Texts are scanned as ASCII with every other character replaced by `?`, so offsets stay
character offsets. Our rules are compiled with `re.ASCII` (rules.py), which makes the
superset exact for them; detect-secrets' own patterns are Unicode-aware, so a line whose
match needs a non-ASCII space or letter where the pattern says `\\s` or `\\w` is not flagged.

Without the `hyperscan` package (a platform with no wheel) every rule and the old keyword
anchors run as before: slower, same results.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_hyperscan: Any
try:
    import hyperscan as _hyperscan
except ImportError:  # a platform with no wheel: every pattern runs in Python
    _hyperscan = None

logger = logging.getLogger(__name__)

_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_LARGE_REPEAT = re.compile(r"(?<!\\)\{(\d+),(\d+)\}")
_REPEAT_LIMIT = 255
"""Hyperscan refuses or compiles slowly very large bounded repeats; in prefilter mode an
unbounded one is an acceptable superset."""


def available() -> bool:
    """True when the hyperscan package imports on this platform."""
    return _hyperscan is not None


@dataclass
class Hits:
    """What the prefilter flagged in one text."""

    rule_ends: dict[int, list[int]] = field(default_factory=dict)
    """For each rule whose pattern may match, the offsets where a match may end (in order)."""
    plugin_spans: dict[str, list[tuple[int | None, int]]] = field(default_factory=dict)
    """For each detect-secrets plugin, where one of its patterns may match: (start, end), the
    start known only for exact patterns with an opener (None otherwise)."""
    dense: bool = False
    """The text reported too many possible matches to note each (see DENSE_REPORTS): then
    `whole_text_rules` and `whole_text_plugins` say which may match somewhere, and those run
    on the whole text (rules) or on every line the keyword anchors flag (plugins)."""
    whole_text_rules: set[int] = field(default_factory=set)
    whole_text_plugins: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PluginPattern:
    """A pattern that flags lines for one plugin. `exact` patterns are plain enough for
    Hyperscan to run as they are."""

    pattern: re.Pattern[str]
    exact: bool = False
    opener: str | None = None
    """Report where matches start, for an exact pattern whose every match opens with this
    ASCII character and holds no other copy of it before its last character (a quoted run
    of characters that exclude the quote): the start is the last copy before the end.
    Hyperscan's own start-of-match tracking would cost a third of its scan time."""

    def __post_init__(self) -> None:
        if self.opener is not None and not (
            self.exact
            and len(self.opener) == 1
            and self.opener.isascii()
            and self.pattern.pattern.startswith(self.opener)
        ):
            raise ValueError("an opener is one ASCII character that opens an exact pattern")


def _hyperscan_form(pattern: re.Pattern[str], exact: bool = False) -> tuple[bytes, int]:
    """The pattern as Hyperscan reads it, with the flags that make it a superset (or, for an
    exact pattern, the same matches)."""
    assert _hyperscan is not None
    source = pattern.pattern
    flags = _hyperscan.HS_FLAG_ALLOWEMPTY | _hyperscan.HS_FLAG_MULTILINE
    # MULTILINE: '^' and '$' at every line, a superset of either mode.
    if not exact:
        flags |= _hyperscan.HS_FLAG_PREFILTER
    leading = _GLOBAL_FLAGS.match(source)
    if leading:
        source = source[leading.end() :]
    if pattern.flags & re.IGNORECASE:
        flags |= _hyperscan.HS_FLAG_CASELESS
    if pattern.flags & re.DOTALL:
        flags |= _hyperscan.HS_FLAG_DOTALL
    if pattern.flags & re.VERBOSE:
        raise ValueError("verbose patterns are not translated")
    source = _LARGE_REPEAT.sub(_unbound_large_repeat, source)
    # The scanned text shows every non-ASCII character as '?': so must the pattern.
    source = "".join(c if c.isascii() else r"\?" for c in source)
    return source.encode("ascii"), flags


def _unbound_large_repeat(match: re.Match[str]) -> str:
    low, high = match.group(1), match.group(2)
    return match.group(0) if int(high) <= _REPEAT_LIMIT else "{" + low + ",}"


DENSE_REPORTS = 1 << 16
DENSE_SPACING = 8
"""Possible match ends noted in one text before it counts as dense: DENSE_REPORTS, or one per
DENSE_SPACING characters in a longer text. A run of a rule's value characters (a long base64
line, a crafted file) ends a possible match at every offset: ten million Python callbacks for
10 MB, and as many offsets kept. Past the limit the scan stops and asks only which patterns
match at all (one report each, HS_FLAG_SINGLEMATCH). Real data stays below it: no text of the
1 GB benchmark image is dense (the densest reports once per 27 characters)."""

_LOOKAHEAD_MARGIN = 256
"""How far past a possible match end a window reaches, for the rule's lookaheads."""


def candidate_windows(
    ends: list[int], reach: int, length: int, single_line_in: str | None = None
) -> list[tuple[int, int]]:
    """(pos, endpos) windows for a rule's Python regex: every match it could find ends at one
    of `ends` and is at most `reach` long, so it lies in one of these; close ones merge.
    For a rule whose matches hold no line break, `single_line_in` (the text) starts each
    window no earlier than the line of its end."""
    windows: list[tuple[int, int]] = []
    for end in sorted(ends):
        start, stop = max(0, end - reach), min(length, end + _LOOKAHEAD_MARGIN)
        if single_line_in is not None:
            start = max(start, single_line_in.rfind("\n", start, end) + 1)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], stop))
        else:
            windows.append((start, stop))
    return windows


class Prefilter:
    """A compiled Hyperscan database over rule patterns and plugin patterns."""

    def __init__(
        self,
        rule_patterns: Sequence[re.Pattern[str]],
        plugin_patterns: Mapping[str, Sequence[PluginPattern]],
        strings_rules: Collection[int] = (),
    ) -> None:
        """`strings_rules` are the rules that run on strings pulled out of binaries: a second,
        smaller database over them tells whether a binary is worth pulling strings from."""
        if _hyperscan is None:
            raise RuntimeError("the hyperscan package is not installed")
        self._rule_of: dict[int, int] = {}
        self._plugin_of: dict[int, str] = {}
        candidates: list[tuple[int, bytes, int]] = []
        for index, pattern in enumerate(rule_patterns):
            self._rule_of[len(candidates)] = index
            candidates.append((len(candidates), *self._form(pattern)))
        self._openers: dict[int, int] = {}
        for plugin, patterns in plugin_patterns.items():
            for item in patterns:
                self._plugin_of[len(candidates)] = plugin
                if item.opener is not None:
                    self._openers[len(candidates)] = ord(item.opener)
                candidates.append((len(candidates), *self._form(item.pattern, item.exact)))
        compiled = self._compile([c for c in candidates if c[1]])
        self._accepted = [c for c in candidates if c[0] in compiled]
        self._single_match_database: Any = None
        self.unfiltered_rules = {
            self._rule_of[number]
            for number, *_ in candidates
            if number not in compiled and number in self._rule_of
        }
        """Rules Hyperscan could not take: they run on every text, behind their keywords."""
        self.unfiltered_plugins = {
            self._plugin_of[number]
            for number, *_ in candidates
            if number not in compiled and number in self._plugin_of
        }
        wanted = set(strings_rules)
        self._strings_always = not wanted.isdisjoint(self.unfiltered_rules)
        self._strings_database = self._build(
            [
                (number, source, flags)
                for number, source, flags in candidates
                if number in compiled and self._rule_of.get(number) in wanted
            ],
            _hyperscan.HS_MODE_STREAM,  # read in chunks: a large binary is never copied whole
        )

    @staticmethod
    def _form(pattern: re.Pattern[str], exact: bool = False) -> tuple[bytes, int]:
        assert _hyperscan is not None
        try:
            source, flags = _hyperscan_form(pattern, exact)
        except ValueError:
            return b"", 0
        return source, flags

    def _compile(self, candidates: list[tuple[int, bytes, int]]) -> set[int]:
        """Compile every pattern Hyperscan accepts; returns their numbers."""
        assert _hyperscan is not None
        accepted = list(candidates)
        try:
            self._database = self._build(accepted)
        except _hyperscan.error:
            accepted = [c for c in candidates if self._compiles(c)]
            self._database = self._build(accepted)
        for number, source, _ in candidates:
            if (number, source, _) not in accepted:
                logger.info("prefilter cannot compile %r; it runs unfiltered", source[:80])
        return {number for number, _, _ in accepted}

    @staticmethod
    def _build(accepted: list[tuple[int, bytes, int]], mode: int | None = None) -> Any:
        assert _hyperscan is not None
        database = _hyperscan.Database(mode=_hyperscan.HS_MODE_BLOCK if mode is None else mode)
        if accepted:
            database.compile(
                expressions=[source for _, source, _ in accepted],
                ids=[number for number, _, _ in accepted],
                flags=[flags for _, _, flags in accepted],
            )
        return database if accepted else None

    @staticmethod
    def _compiles(candidate: tuple[int, bytes, int]) -> bool:
        assert _hyperscan is not None
        try:
            Prefilter._build([candidate])
            return True
        except _hyperscan.error:
            return False

    def scan(self, view: bytes) -> Hits:
        """Which rules may match in text, and where each plugin's patterns may match."""
        hits = Hits()
        if self._database is None:
            return hits
        rule_of, plugin_of, openers = self._rule_of, self._plugin_of, self._openers
        rules, spans = hits.rule_ends, hits.plugin_spans
        opened = view.rfind
        left = [max(DENSE_REPORTS, len(view) // DENSE_SPACING)]

        def on_match(number: int, _start: int, end: int, _flags: int, _context: object) -> bool:
            left[0] -= 1
            if left[0] < 0:
                return True  # dense: stop here (see DENSE_REPORTS)
            rule = rule_of.get(number)
            if rule is not None:
                rules.setdefault(rule, []).append(end)
            else:
                opener = openers.get(number)
                start = None if opener is None else opened(opener, 0, end - 1)
                spans.setdefault(plugin_of[number], []).append((start, end))
            return False

        try:
            self._database.scan(view, match_event_handler=on_match)
        except _hyperscan.ScanTerminated:
            return self._dense_hits(view)
        return hits

    def _dense_hits(self, view: bytes) -> Hits:
        """Which patterns match anywhere in a dense text, one report each at most."""
        assert _hyperscan is not None
        if self._single_match_database is None:
            single = _hyperscan.HS_FLAG_SINGLEMATCH
            self._single_match_database = self._build(
                [(number, source, flags | single) for number, source, flags in self._accepted]
            )
        hits = Hits(dense=True)

        def on_match(number: int, _start: int, _end: int, _flags: int, _context: object) -> None:
            rule = self._rule_of.get(number)
            if rule is not None:
                hits.whole_text_rules.add(rule)
            else:
                hits.whole_text_plugins.add(self._plugin_of[number])

        if self._single_match_database is not None:
            self._single_match_database.scan(view, match_event_handler=on_match)
        return hits

    def may_hold_strings_match(self, data: bytes | memoryview) -> bool:
        """False only when none of the strings rules can match in the printable strings of
        `data`: each string pulled out of a binary is a run of its printable bytes, so a match
        inside one is a match in the bytes themselves, with every other byte read as a line
        break (one match spanning two strings would join two unrelated constants)."""
        if self._strings_always:
            return True
        if self._strings_database is None:
            return False
        assert _hyperscan is not None

        def stop(*_: object) -> bool:
            return True

        try:
            with self._strings_database.stream(match_event_handler=stop) as stream:
                for start in range(0, len(data), _STRINGS_CHUNK):
                    chunk = bytes(data[start : start + _STRINGS_CHUNK])
                    stream.scan(chunk.translate(_NON_PRINTABLE_AS_BREAKS))
        except _hyperscan.ScanTerminated:
            return True
        return False


_STRINGS_CHUNK = 1 << 20
_NON_PRINTABLE_AS_BREAKS = bytes(
    byte if byte == 9 or 0x20 <= byte <= 0x7E else 10 for byte in range(256)
)
