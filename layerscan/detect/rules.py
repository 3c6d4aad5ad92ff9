"""Load detection rules from YAML (signatures/ and user --rules files) into compiled rules.

A rule is data, not code: an id that never changes (it becomes a SARIF ruleId and a baseline
key), a regex whose named group `secret` is the credential, cheap keywords that must appear
before the regex is tried, optional minimum entropy, a validator (validators.py), allow
patterns, path globs for rules that only make sense in certain files, and examples that the
test suite runs against it.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity
from .noise import DOCUMENTATION_EXAMPLES, is_noise
from .rule_files import RuleSource, RuleTexts, rule_texts
from .validators import VALIDATORS, Verdict

_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9.-]{1,63}$")
_KNOWN_FIELDS = frozenset(
    {
        "id",
        "title",
        "severity",
        "confidence",
        "description",
        "regex",
        "keywords",
        "min_entropy",
        "validator",
        "allow",
        "paths",
        "examples",
        "generic",
    }
)


@dataclass(frozen=True)
class Hit:
    """One candidate a rule accepted, with what its validator said."""

    secret: str
    offset: int
    verdict: Verdict


@dataclass(frozen=True)
class Rule:
    """A compiled rule from signatures/."""

    meta: RuleMeta
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    min_entropy: float | None = None
    validator: str | None = None
    allow: tuple[re.Pattern[str], ...] = ()
    paths: tuple[str, ...] = ()
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    origin: str = ""

    @property
    def _secret_groups(self) -> list[str]:
        """`secret`, or alternatives `secret_*` when one regex has several value shapes."""
        return [
            name
            for name in self.pattern.groupindex
            if name == "secret" or name.startswith("secret_")
        ]

    def applies_to(self, path: str | None) -> bool:
        """Path-bound rules (a .netrc format, a kubeconfig) only run on matching files."""
        if not self.paths:
            return True
        return path is not None and any(fnmatch.fnmatchcase(path, glob) for glob in self.paths)

    @cached_property
    def reach(self) -> int:
        """The longest text a match can span (capped: see MAX_REACH)."""
        try:
            widest = int(re._parser.parse(self.pattern.pattern, self.pattern.flags).getwidth()[1])  # type: ignore[attr-defined]
        except (AttributeError, re.error, ValueError):
            return MAX_REACH
        bounded = widest < (1 << 32)  # the parser's MAXREPEAT stands for "unbounded"
        return widest if bounded else MAX_REACH

    @cached_property
    def single_line(self) -> bool:
        """True when no match can hold a line break: then a match ending at some offset
        starts on that offset's line (windows are cut there, see candidate_windows)."""
        try:
            parsed = re._parser.parse(self.pattern.pattern, self.pattern.flags)  # type: ignore[attr-defined]
        except (AttributeError, re.error, ValueError):
            return False
        dotall = bool(self.pattern.flags & re.DOTALL)
        return not _may_consume_newline(parsed, dotall)

    def _has_keyword(
        self, text: str, lowered: str | None, windows: list[tuple[int, int]] | None
    ) -> bool:
        """A keyword in the text, or with windows, in one of them (our rules' keywords are
        part of their matches, so a match in a window has its keyword there too)."""
        if windows is None:
            lowered = text.lower() if lowered is None else lowered
            return any(keyword in lowered for keyword in self.keywords)
        for start, stop in windows:
            window = text[start:stop].lower()
            if any(keyword in window for keyword in self.keywords):
                return True
        return False

    def find(
        self,
        text: str,
        lowered: str | None = None,
        windows: list[tuple[int, int]] | None = None,
    ) -> Iterator[Hit]:
        """Candidates that pass keywords, entropy, allow patterns, the noise filter, validator.

        `windows` (pos, endpos) limit the regex to where the prefilter saw a possible match.
        """
        if self.keywords and not self._has_keyword(text, lowered, windows):
            return
        check = VALIDATORS[self.validator] if self.validator else None
        if windows is None:
            found: Iterable[re.Match[str]] = self.pattern.finditer(text)
        else:
            found = _in_windows(self.pattern, text, windows)
        for match in found:
            group = next((name for name in self._secret_groups if match.group(name)), None)
            if group is None:
                continue
            secret = match.group(group)
            if self.min_entropy is not None and shannon_entropy(secret) < self.min_entropy:
                continue
            if any(allow.search(secret) for allow in self.allow):
                continue
            verdict = check(secret) if check else Verdict(keep=True)
            if not verdict.keep:
                continue
            # A provider checksum that holds is a real token, whatever words its random part
            # happens to spell (about one GitHub token in a thousand holds "fake" or "tbd").
            if is_noise(secret) and not (verdict.checksum and secret not in DOCUMENTATION_EXAMPLES):
                continue
            yield Hit(secret, match.start(group), verdict)


MAX_REACH = 8 << 10
"""Rules with unbounded repeats (`\\s*`, `+`) are searched this far back from a possible match
end: an 8 KiB match is not a secret anyone wrote by hand (bounded rules, such as the 32 KiB
private-key block, keep their own bound)."""


def _in_windows(
    pattern: re.Pattern[str], text: str, windows: list[tuple[int, int]]
) -> Iterator[re.Match[str]]:
    """Matches inside each window; `pos` keeps lookbehinds and `^` as in the whole text."""
    for start, stop in windows:
        for match in pattern.finditer(text, start, stop):
            if match.end() < stop or stop == len(text):
                yield match  # a match cut by the window's end is not trusted


_NEWLINE = ord("\n")


def _may_consume_newline(items: Iterable[Any], dotall: bool) -> bool:
    """Whether a parsed pattern (re._parser's tree) can consume a line break; anything not
    understood counts as yes. Lookarounds consume nothing and are not looked into."""
    constants = re._constants  # type: ignore[attr-defined]
    for op, arg in items:
        if op is constants.LITERAL:
            if arg == _NEWLINE:
                return True
        elif op is constants.NOT_LITERAL:
            if arg != _NEWLINE:
                return True
        elif op is constants.ANY:
            if dotall:
                return True
        elif op is constants.IN:
            if _set_holds_newline(arg):
                return True
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT, constants.POSSESSIVE_REPEAT):
            if _may_consume_newline(arg[2], dotall):
                return True
        elif op is constants.SUBPATTERN:
            if arg[1] & re.DOTALL:
                dotall = True
            if _may_consume_newline(arg[3], dotall):
                return True
        elif op is constants.ATOMIC_GROUP:
            if _may_consume_newline(arg, dotall):
                return True
        elif op is constants.BRANCH:
            if any(_may_consume_newline(branch, dotall) for branch in arg[1]):
                return True
        elif op in (constants.AT, constants.ASSERT, constants.ASSERT_NOT):
            continue
        else:
            return True  # a back reference, a conditional, or an opcode not known here
    return False


def _set_holds_newline(items: Iterable[Any]) -> bool:
    constants = re._constants  # type: ignore[attr-defined]
    negated, holds = False, False
    for op, arg in items:
        if op is constants.NEGATE:
            negated = True
        elif op is constants.LITERAL:
            holds = holds or arg == _NEWLINE
        elif op is constants.RANGE:
            holds = holds or arg[0] <= _NEWLINE <= arg[1]
        elif op is constants.CATEGORY:
            holds = holds or arg in (
                constants.CATEGORY_SPACE,
                constants.CATEGORY_NOT_DIGIT,
                constants.CATEGORY_NOT_WORD,
                constants.CATEGORY_LINEBREAK,
                constants.CATEGORY_UNI_SPACE,
                constants.CATEGORY_UNI_NOT_DIGIT,
                constants.CATEGORY_UNI_NOT_WORD,
                constants.CATEGORY_UNI_LINEBREAK,
            )
        else:
            return True  # not understood: assume it may
    return holds != negated


def shannon_entropy(text: str) -> float:
    """Bits per character; random tokens score high, words and placeholders low."""
    if not text:
        return 0.0
    counts = Counter(text)
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def _compile(spec: dict[str, Any], origin: str) -> Rule:
    where = f"{origin}: rule {spec.get('id', '?')!r}"
    unknown = set(spec) - _KNOWN_FIELDS
    if unknown:
        raise UsageError(f"{where} has unknown fields {sorted(unknown)}")
    try:
        rule_id = str(spec["id"])
        title = str(spec["title"])
        severity = Severity(spec["severity"])
        confidence = Confidence(spec.get("confidence", "high"))
        pattern = re.compile(spec["regex"], re.ASCII)
    except KeyError as exc:
        raise UsageError(f"{where} lacks {exc.args[0]!r}") from exc
    except ValueError as exc:
        raise UsageError(f"{where} is invalid: {exc}") from exc
    except re.error as exc:
        raise UsageError(f"{where} has a regex that does not compile: {exc}") from exc
    if not _RULE_ID.match(rule_id):
        raise UsageError(f"{where}: ids are lowercase words joined by '-' or '.'")
    if not any(name == "secret" or name.startswith("secret_") for name in pattern.groupindex):
        raise UsageError(f"{where}: the regex needs a named group (?P<secret>...)")
    validator = spec.get("validator")
    if validator is not None and validator not in VALIDATORS:
        raise UsageError(f"{where}: unknown validator {validator!r}; known: {sorted(VALIDATORS)}")
    examples = spec.get("examples") or {}
    try:
        allow = tuple(re.compile(p) for p in spec.get("allow") or ())
    except re.error as exc:
        raise UsageError(f"{where} has an allow pattern that does not compile: {exc}") from exc
    return Rule(
        meta=RuleMeta(
            rule_id,
            title,
            severity,
            confidence,
            " ".join(str(spec.get("description", "")).split()),
            bool(spec.get("generic", False)),
        ),
        pattern=pattern,
        keywords=tuple(str(k).lower() for k in spec.get("keywords") or ()),
        min_entropy=float(spec["min_entropy"]) if spec.get("min_entropy") is not None else None,
        validator=validator,
        allow=allow,
        paths=tuple(str(p) for p in spec.get("paths") or ()),
        examples_match=tuple(str(e) for e in examples.get("match") or ()),
        examples_no_match=tuple(str(e) for e in examples.get("no_match") or ()),
        origin=origin,
    )


def parse_rules(text: str, origin: str) -> list[Rule]:
    """Rules from one YAML document (a mapping with a `rules` list)."""
    import yaml  # deferred: a rescan served by the cache reads the rules' bytes, never parses

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{origin} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise UsageError(f"{origin} must be a mapping with a 'rules' list")
    return [_compile(spec, origin) for spec in document["rules"] if isinstance(spec, dict)]


def builtin_rules() -> list[Rule]:
    """The rules shipped in signatures/."""
    return _parse_all(rule_texts().builtin)


def load_rules(extra_files: Sequence[Path] = ()) -> list[Rule]:
    """Built-in rules plus the user's; a user rule with a built-in id replaces it."""
    return rules_from(rule_texts(extra_files))


def rules_from(texts: RuleTexts) -> list[Rule]:
    """The rules of texts read by rule_texts (see load_rules)."""
    by_id: dict[str, Rule] = {}
    for rule in _parse_all(texts.builtin):
        if rule.meta.id in by_id:
            raise UsageError(f"rule id {rule.meta.id!r} is defined twice in signatures/")
        by_id[rule.meta.id] = rule
    for rule in _parse_all(texts.extra):
        by_id[rule.meta.id] = rule
    return list(by_id.values())


def _parse_all(sources: Iterable[RuleSource]) -> list[Rule]:
    return [rule for origin, text in sources for rule in parse_rules(text, origin)]
