"""The only module that imports detect-secrets: our adapter to its plugins and filters.

detect-secrets keeps its plugin and filter settings in process-wide caches, so the adapter
installs them for the duration of a scan (`session()`) and restores them afterwards. Calling
its plugins costs about 0.3 ms a line, so lines reach it only when a cheap prefilter, built
from the plugins' own patterns and keywords, says one of them could fire.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import _is_filtered_out, _scan_line
from detect_secrets.filters import allowlist
from detect_secrets.filters.heuristic import is_lock_file, is_swagger_file
from detect_secrets.plugins.keyword import DENYLIST
from detect_secrets.settings import get_plugins, transient_settings
from detect_secrets.util.code_snippet import CodeSnippet, get_code_snippet

from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity
from .lines import LineIndex
from .prefilter import PluginPattern, Prefilter

_H, _M, _L = Severity.HIGH, Severity.MEDIUM, Severity.LOW

# secret_type -> (rule id, severity, confidence). Provider formats our own rules cover
# (AWS, GitHub, GitLab, npm, PyPI, Slack, Stripe, SendGrid, Twilio, OpenAI, Azure, JWT, URLs
# with credentials, private keys) are left to them; public IPs are not secrets.
_PLUGINS: dict[str, tuple[str, Severity, Confidence]] = {
    "Secret Keyword": ("secret-assignment", _M, Confidence.MEDIUM),
    "Base64 High Entropy String": ("high-entropy-base64", _L, Confidence.LOW),
    "Hex High Entropy String": ("high-entropy-hex", _L, Confidence.LOW),
    "Artifactory Credentials": ("artifactory-token", _H, Confidence.MEDIUM),
    "Cloudant Credentials": ("cloudant-credentials", _M, Confidence.LOW),
    "Discord Bot Token": ("discord-bot-token", _H, Confidence.MEDIUM),
    "IBM Cloud IAM Key": ("ibm-cloud-iam-key", _M, Confidence.LOW),
    "IBM COS HMAC Credentials": ("ibm-cos-hmac", _M, Confidence.LOW),
    "Mailchimp Access Key": ("mailchimp-key", _H, Confidence.MEDIUM),
    "SoftLayer Credentials": ("softlayer-credentials", _M, Confidence.LOW),
    "Square OAuth Secret": ("square-oauth-secret", _H, Confidence.MEDIUM),
    "Telegram Bot Token": ("telegram-bot-token", _H, Confidence.MEDIUM),
}

# Where on a lowercased line each plugin could fire. Literal anchors and short patterns are
# cheap; the plugins' own patterns (optional prefixes, IGNORECASE) cost ~1 s per 10 MB each.
_ANCHORS = (
    "|".join(DENYLIST),  # the keyword plugin's own words: api_?key, password, secret, ...
    r"""['"][a-z0-9+/=_.~-]{16,}['"]""",  # quoted runs, for the entropy plugins
    r"(?:^|[\s=:\"])(?:akc[a-z0-9]{10}|ap[0-9a-f][a-z0-9]{8})",  # Artifactory
    r"cloudant|softlayer|ibm|sq0csp-|-us[0-9]",  # Cloudant, SoftLayer, IBM, Square, Mailchimp
    r"[mno][a-z0-9_-]{23,25}\.[a-z0-9_-]{6}\.",  # Discord
    r"[0-9]{8,10}:[0-9a-z_-]{35}",  # Telegram
)

_SHORTEST_ENTROPY_RUN = 16
"""Quoted runs shorter than this are not sent to the entropy plugins: a hex string of 9 to 15
characters can pass the hex limit, but carries too few bits to be a credential."""

RULE_PREFIX = "detect-secrets."

FlaggedLine = tuple[int, str, str, frozenset[str]]
"""(line number, line or a window of a long line, the line before it, the plugins whose
patterns flagged it)."""


@dataclass(frozen=True)
class CoreMatch:
    """A secret one detect-secrets plugin reported on one line."""

    rule: RuleMeta
    secret: str
    line: int


def core_rules() -> dict[str, RuleMeta]:
    """Metadata for every rule id the core can report, by secret type."""
    return {
        secret_type: RuleMeta(
            id=RULE_PREFIX + rule_id,
            title=f"{secret_type} (detect-secrets)",
            severity=severity,
            confidence=confidence,
            description=f"Reported by detect-secrets' {secret_type!r} plugin.",
        )
        for secret_type, (rule_id, severity, confidence) in _PLUGINS.items()
    }


_HEURISTIC = "detect_secrets.filters.heuristic."
_FILTERS = (
    # Ours wrap detect-secrets' allowlist filter and is_indirect_reference: same tests, faster.
    f"{__name__}.is_line_allowlisted",
    *(
        _HEURISTIC + name
        for name in (
            "is_sequential_string",
            "is_potential_uuid",
            "is_likely_id_string",
            "is_templated_secret",
            "is_prefixed_with_dollar_sign",
            "is_lock_file",
            "is_not_alphanumeric_string",
            "is_swagger_file",
        )
    ),
    f"{__name__}.is_indirect_reference",
)

_INDIRECT_OPENING = re.compile(r"(?::=?|[!=]{1,3})\s*[\w.-]+[\[(]")


def is_line_allowlisted(filename: str, line: str, context: CodeSnippet) -> bool:
    """detect-secrets' `pragma: allowlist secret` filter. Every form of that comment holds
    "pragma", so lines without it skip the filter's dozen regexes."""
    if "pragma" not in line and "pragma" not in context.previous_line:
        return False
    return bool(allowlist.is_line_allowlisted(filename, line, context))


def is_indirect_reference(line: str) -> bool:
    """`secret = get_secret()`, `key = request.headers['apikey']`: a reference, not a value.

    detect-secrets' own version starts its regex with `([^\\v=!:]*)`, which rescans the rest
    of the line from every position: seconds per thousand long lines. This finds the same
    lines (an operator, a name, an opening bracket, then a closing one before any vertical
    tab) in one pass: the opening by a regular expression that cannot backtrack far, the
    closing by a plain search after it (a regular expression there rescanned the rest of
    the line from every opening, quadratic on a line of them).
    """
    position = 0
    while True:
        opening = _INDIRECT_OPENING.search(line, position)
        if opening is None:
            return False
        tail_end = line.find("\v", opening.end())
        tail = line[opening.end() : len(line) if tail_end < 0 else tail_end]
        if "]" in tail or ")" in tail:
            return True
        if tail_end < 0:
            return False
        position = tail_end  # an opening past the vertical tab may still close


_LONG_LINE = 500
_WINDOW_BEFORE, _WINDOW_AFTER = 120, 280
_REACH_BACK = 1000
"""Where only the end of a possible match is known (a prefilter approximation), the window
of a long line reaches this far back."""


def _prefilters() -> list[re.Pattern[str]]:
    return [re.compile(anchor) for anchor in _ANCHORS]


class SecretsCore:
    """detect-secrets behind one small interface: `scan(text, filename)`."""

    def __init__(self) -> None:
        self._meta = core_rules()
        self._prefilters = _prefilters()
        classes: dict[str, Any] = get_mapping_from_secret_type_to_class()
        self._config = {
            "plugins_used": [{"name": classes[secret_type].__name__} for secret_type in _PLUGINS],
            "filters_used": [{"path": path} for path in _FILTERS],
        }
        self._active = False
        self._limits: dict[str, tuple[frozenset[str], float]] | None = None

    @contextmanager
    def session(self) -> Iterator[SecretsCore]:
        """Install our plugin settings in detect-secrets for the length of a scan."""
        with transient_settings(self._config):
            self._active = True
            try:
                yield self
            finally:
                self._active = False

    def prefilter_patterns(self) -> dict[str, list[PluginPattern]]:
        """For each plugin, patterns that match on every line it could report.

        Provider plugins: their own regexes, in Hyperscan's prefilter mode. The keyword
        plugin's regexes end in an unbounded value that makes Hyperscan report a match at
        every later offset, so it gets what every one of them needs instead: a denylisted
        word followed by an assignment or a quote, or preceded by a comparison. The entropy
        plugins: a quoted run of their charset long enough to pass their limit (n distinct
        characters carry at most log2(n) bits each).
        """
        classes: dict[str, Any] = get_mapping_from_secret_type_to_class()
        deny = "|".join(DENYLIST)
        word = r"[\w?]*"  # '?' stands for any non-ASCII character in the scanned text
        found: dict[str, list[PluginPattern]] = {}
        for secret_type in _PLUGINS:
            plugin = classes[secret_type]()
            if secret_type == "Secret Keyword":
                # Every value the plugin takes starts with a word character (its SECRET
                # opens with (?=\w+)); the quoted form without an operator must end in ';'.
                value = r"\s*@?['\"`]?[\w?]"
                sources = [
                    rf"(?:{deny}){word}(?:[\]'\"]{{0,2}}|\[[0-9]*\]|.assign)"
                    rf"\s*(?::=?|[!=]{{1,3}}|=>|\(){value}",
                    rf"(?:{deny}){word}\S{{0,50}}\s*['\"`][\w?][^'\"]*['\"`];",
                    rf"[!=]{{2,3}}\s*{word}(?:{deny})",
                ]
                found[secret_type] = [
                    PluginPattern(re.compile(source, re.IGNORECASE), exact=True)
                    for source in sources
                ]
            elif hasattr(plugin, "entropy_limit"):
                least = max(math.floor(2**plugin.entropy_limit) + 1, _SHORTEST_ENTROPY_RUN)
                run = f"[{re.escape(plugin.charset)}]{{{least},}}"
                # The charset holds no quote, so a run's opening quote is the last before it.
                assert not set("'\"") & set(plugin.charset)
                found[secret_type] = [
                    PluginPattern(re.compile(f'"{run}"'), exact=True, opener='"'),
                    PluginPattern(re.compile(f"'{run}'"), exact=True, opener="'"),
                ]
            else:
                found[secret_type] = [PluginPattern(pattern) for pattern in plugin.denylist]
        return found

    def flagged_lines(
        self, text: str, plugin_spans: dict[str, list[tuple[int | None, int]]], prefilter: Prefilter
    ) -> list[FlaggedLine] | None:
        """The lines (windows of long lines) where some plugin's pattern may match, each with
        the plugins to run on it; None when a plugin's patterns escaped the prefilter."""
        if prefilter.unfiltered_plugins:
            return None
        lines = LineIndex(text)
        whole: dict[int, tuple[int, int, set[str]]] = {}  # short lines, by number
        windows: list[tuple[int, int, int, str]] = []  # (number, start, end, plugin)
        starts: dict[int, int] = {}  # where each flagged line starts
        limits = self._entropy_limits()
        for plugin, found in plugin_spans.items():
            entropy = limits.get(plugin)
            spans = found if entropy is None else _rich_runs(text, found, *entropy)
            for start, end in spans:
                number, line_start, line_end = lines.line_span(max(end - 1, 0))
                starts[number] = line_start
                if line_end - line_start > _LONG_LINE:
                    first = end - _REACH_BACK if start is None else start - _WINDOW_BEFORE
                    window_start = line_start + max(0, first - line_start)
                    windows.append(
                        (number, window_start, min(line_end, end + _WINDOW_AFTER), plugin)
                    )
                else:
                    whole.setdefault(number, (line_start, line_end, set()))[2].add(plugin)
        pieces = [(number, start, end, plugins) for number, (start, end, plugins) in whole.items()]
        pieces += _merged(windows)
        pieces.sort(key=lambda piece: (piece[0], piece[1]))
        return [
            (number, text[start:end], lines.line_before(starts[number]), frozenset(plugins))
            for number, start, end, plugins in pieces
        ]

    def _entropy_limits(self) -> dict[str, tuple[frozenset[str], float]]:
        """Charset and limit of each entropy plugin, as configured for this session."""
        if self._limits is None:
            self._limits = {
                plugin.secret_type: (frozenset(plugin.charset), plugin.entropy_limit)
                for plugin in get_plugins()
                if hasattr(plugin, "entropy_limit")
            }
        return self._limits

    def anchored_lines(
        self, text: str, plugins: Collection[str] | None = None
    ) -> list[FlaggedLine]:
        """The lines the keyword anchors flag, to run `plugins` on (every plugin by default):
        the path without Hyperscan, and the one for texts too dense for it.

        A long line (minified JS, a one-line JSON document) is cut to windows around its
        flagged spots, joined where they overlap (see _merged): the plugins' regexes slow
        down quadratically on long lines, and a secret sits next to what flagged it anyway.
        """
        wanted = frozenset(self._meta if plugins is None else plugins)
        if not wanted:
            return []
        lowered = text.lower()  # may differ in length from text, never in its line breaks
        lowered_lines, lines = LineIndex(lowered), LineIndex(text)
        whole: set[int] = set()
        windows: list[tuple[int, int, int, str]] = []  # (number, start, end) in `text`
        for prefilter in self._prefilters:
            for match in prefilter.finditer(lowered):
                number, line_start, line_end = lowered_lines.line_span(match.start())
                if number in whole:
                    continue
                if line_end - line_start <= _LONG_LINE:
                    whole.add(number)
                    continue
                column = match.start() - line_start
                start, stop = lines.line_start(number), lines.line_end(number)
                windows.append(
                    (
                        number,
                        start + max(0, column - _WINDOW_BEFORE),
                        min(stop, start + column + _WINDOW_AFTER),
                        "",
                    )
                )
        pieces = [(number, lines.line_start(number), -1) for number in whole]
        pieces += [(number, start, end) for number, start, end, _ in _merged(windows)]
        pieces.sort()
        return [
            (
                number,
                lines.line_text(number) if end < 0 else text[start:end],
                lines.line_before(lines.line_start(number)),
                wanted,
            )
            for number, start, end in pieces
        ]

    def scan(
        self, text: str, filename: str, flagged: list[FlaggedLine] | None = None
    ) -> list[CoreMatch]:
        """Secrets the core finds in text; only prefiltered lines reach its plugins.

        `flagged` (from flagged_lines) names the lines and the plugins to run on each; without
        it, the keyword anchors pick the lines and every plugin runs on them.
        """
        if not self._active:
            raise RuntimeError("SecretsCore.scan() needs an active session()")
        # Two of detect-secrets' file-level filters, which its own scan applies before reading
        # a line (its third, is_invalid_file, asks the host's disk): a package-lock.json's
        # integrity hashes are checksums of public packages, not secrets.
        if is_lock_file(filename) or is_swagger_file(filename):
            return []
        if flagged is None:
            flagged = self.anchored_lines(text)
        found: list[CoreMatch] = []
        for secret_type, value, number in self._run_flagged(flagged, filename):
            meta = self._meta.get(secret_type)
            if meta is None:
                continue
            found.append(CoreMatch(meta, value, number))
        return found

    @staticmethod
    def _run_flagged(flagged: list[FlaggedLine], filename: str) -> Iterator[tuple[str, str, int]]:
        """detect-secrets' own line loop (core.scan._process_line_based_plugins), running on
        each line only the plugins whose patterns flagged it, with the line before it as
        context (the allowlist filter reads `pragma: allowlist nextline` there); yields
        (secret type, secret, line number).

        A line already judged with the same line before it and the same plugins gives the
        same secrets: a file of one line repeated costs one judgement, not one per copy."""
        plugins = get_plugins()
        judged: dict[tuple[str, str, frozenset[str]], list[tuple[str, str]]] = {}
        for number, raw_line, previous, wanted in flagged:
            key = (raw_line, previous, wanted)
            found = judged.get(key)
            if found is None:
                found = judged[key] = list(
                    _judge_line(plugins, raw_line, previous, wanted, filename)
                )
                if len(judged) > _JUDGED_LINES:
                    judged.clear()
            for secret_type, value in found:
                yield secret_type, value, number


_JUDGED_LINES = 4096
"""Distinct lines remembered by one text's line loop (see _run_flagged)."""


def _judge_line(
    plugins: list[Any], raw_line: str, previous: str, wanted: frozenset[str], filename: str
) -> Iterator[tuple[str, str]]:
    """(secret type, secret) for each secret the wanted plugins report on one line."""
    line = raw_line.rstrip()
    context = get_code_snippet(lines=[previous, line], line_number=2)
    if _is_filtered_out(
        required_filter_parameters=["line"], filename=filename, line=line, context=context
    ):
        return
    for plugin in plugins:
        if plugin.secret_type not in wanted:
            continue
        seen = _thin_denylist_runs(line) if plugin.secret_type == _KEYWORD else line
        for secret in _scan_line(
            plugin=plugin, filename=filename, line=seen, line_number=0, context=context
        ):
            if secret.secret_value and not _is_filtered_out(
                required_filter_parameters=["context"],
                filename=secret.filename,
                secret=secret.secret_value,
                plugin=plugin,
                line=line,
                context=context,
            ):
                yield secret.type, secret.secret_value


_KEYWORD = "Secret Keyword"
_DENYLIST_WORD = re.compile("|".join(DENYLIST), re.IGNORECASE)
_WORD_RUN = re.compile(r"\w{24,}")
_DENYLIST_RUN_LIMIT = 8
"""Denylisted words in one run of word characters before the run is thinned (see
_thin_denylist_runs). A real name holds one or two (`db_password_secret`)."""


def _thin_denylist_runs(line: str) -> str:
    """The line with every word run holding _DENYLIST_RUN_LIMIT or more denylisted words cut
    to its last one and what follows it.

    The keyword plugin's patterns start at each denylisted word and read the word characters
    after it (`secretsecret...secret = x`): a 500-character run of them cost 40 ms, and a
    file of such lines minutes. Every one of those starts reads on to the same end of the
    run, so the secret after the run is the same from the last start alone."""
    if len(line) < _WORD_RUN_MIN_LINE:
        return line

    def thinned(run: re.Match[str]) -> str:
        words = [word.start() for word in _DENYLIST_WORD.finditer(run.group())]
        return run.group() if len(words) < _DENYLIST_RUN_LIMIT else run.group()[words[-1] :]

    return _WORD_RUN.sub(thinned, line)


_WORD_RUN_MIN_LINE = 24 * 2


_MERGED_WINDOW = 4096
"""Windows of one long line that overlap are joined up to this length: a line of thousands of
candidates (a crafted file, a minified bundle) is then read by the plugins about once,
rather than once per candidate in each of the windows that overlap it."""


def _merged(windows: list[tuple[int, int, int, str]]) -> list[tuple[int, int, int, set[str]]]:
    """Overlapping windows of the same line joined (see _MERGED_WINDOW), plugins united."""
    merged: list[tuple[int, int, int, set[str]]] = []
    for number, start, end, plugin in sorted(windows):
        if merged:
            last_number, last_start, last_end, plugins = merged[-1]
            if (
                last_number == number
                and start <= last_end
                and max(end, last_end) - last_start <= _MERGED_WINDOW
            ):
                merged[-1] = (number, last_start, max(end, last_end), plugins | {plugin})
                continue
        merged.append((number, start, end, {plugin}))
    return merged


def _rich_runs(
    text: str, spans: list[tuple[int | None, int]], charset: frozenset[str], limit: float
) -> list[tuple[int | None, int]]:
    """The spans an entropy plugin could report on (see _may_exceed). Data files quote the
    same names over and over (botocore's JSON: a quarter of a million runs, a hundred
    thousand distinct, a few hundred rich enough), so each distinct run is judged once."""
    quoted = [None if start is None else text[start:end] for start, end in spans]
    verdicts = {run: _may_exceed(run, charset, limit) for run in set(quoted) if run is not None}
    return [span for span, run in zip(spans, quoted, strict=True) if run is None or verdicts[run]]


def _may_exceed(quoted: str, charset: frozenset[str], limit: float) -> bool:
    """Could an entropy plugin report this quoted run? Only if it is all charset characters
    and its Shannon entropy is above the plugin's limit (what the plugin itself checks)."""
    content = quoted[1:-1]
    if quoted[:1] != quoted[-1:] or not content:
        return True  # quotes that do not pair: let the plugin decide
    if len(set(content)) <= 2**limit or not charset.issuperset(content):
        return False  # too few distinct characters to carry that much entropy
    length = len(content)
    entropy = -sum(n / length * math.log2(n / length) for n in Counter(content).values())
    return entropy > limit
