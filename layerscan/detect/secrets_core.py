"""The only module that imports detect-secrets: our adapter to its plugins and filters.

detect-secrets keeps its plugin and filter settings in process-wide caches, so the adapter
installs them for the duration of a scan (`session()`) and restores them afterwards. Calling
its plugins costs about 0.3 ms a line, so lines reach it only when a cheap prefilter, built
from the plugins' own patterns and keywords, says one of them could fire.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import _process_line_based_plugins
from detect_secrets.plugins.keyword import DENYLIST
from detect_secrets.settings import transient_settings

from ..severity import Confidence, Severity
from .lines import LineIndex
from .rules import RuleMeta

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

RULE_PREFIX = "detect-secrets."


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
    "detect_secrets.filters.allowlist.is_line_allowlisted",
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
    # Ours instead of detect-secrets' is_indirect_reference: same test, linear time.
    f"{__name__}.is_indirect_reference",
)

_INDIRECT_REFERENCE = re.compile(r"(?::=?|[!=]{1,3})\s*[\w.-]+[\[(][^\v]*[\])]")


def is_indirect_reference(line: str) -> bool:
    """`secret = get_secret()`, `key = request.headers['apikey']`: a reference, not a value.

    detect-secrets' own version starts its regex with `([^\\v=!:]*)`, which rescans the rest
    of the line from every position: seconds per thousand long lines. Searching from the
    operator finds the same lines.
    """
    return bool(_INDIRECT_REFERENCE.search(line))


_LONG_LINE = 500
_WINDOW_BEFORE, _WINDOW_AFTER = 120, 280


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

    @contextmanager
    def session(self) -> Iterator[SecretsCore]:
        """Install our plugin settings in detect-secrets for the length of a scan."""
        with transient_settings(self._config):
            self._active = True
            try:
                yield self
            finally:
                self._active = False

    def candidate_lines(self, text: str) -> list[tuple[int, str]]:
        """(line number, line) for each line the prefilter flags.

        A long line (minified JS, a one-line JSON document) is cut to a window around each
        flagged spot: the core's filters are regexes that slow down quadratically on long
        lines, and a secret sits next to the keyword that flagged it anyway.
        """
        flagged: dict[tuple[int, int], str] = {}
        lowered = text.lower()  # may differ in length from text, never in its line breaks
        lowered_lines, lines = LineIndex(lowered), LineIndex(text)
        for prefilter in self._prefilters:
            for match in prefilter.finditer(lowered):
                number = lowered_lines.line_of(match.start())
                line = lines.line_text(number)
                if len(line) <= _LONG_LINE:
                    flagged.setdefault((number, 0), line)
                    continue
                column = match.start() - lowered_lines.line_start(number)
                window = max(0, column - _WINDOW_BEFORE)
                flagged.setdefault((number, window), line[window : column + _WINDOW_AFTER])
        return [(number, line) for (number, _), line in sorted(flagged.items())]

    def scan(self, text: str, filename: str) -> list[CoreMatch]:
        """Secrets the core finds in text; only prefiltered lines reach its plugins."""
        if not self._active:
            raise RuntimeError("SecretsCore.scan() needs an active session()")
        candidates = self.candidate_lines(text)
        if not candidates:
            return []
        found: list[CoreMatch] = []
        for secret in _process_line_based_plugins(lines=candidates, filename=filename):
            meta = self._meta.get(secret.type)
            if meta is None or not secret.secret_value:
                continue
            found.append(CoreMatch(meta, secret.secret_value, secret.line_number))
        return found
