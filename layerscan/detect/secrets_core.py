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
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.keyword import DENYLIST
from detect_secrets.settings import transient_settings

from ..severity import Confidence, Severity
from .lines import LineIndex
from .rules import RuleMeta

_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

# secret_type -> (rule id, severity, confidence). Plugins not listed are not enabled:
# public IPs are not secrets, and private keys are matched as whole blocks by our own rule.
_PLUGINS: dict[str, tuple[str, Severity, Confidence]] = {
    "Artifactory Credentials": ("artifactory-token", _H, Confidence.MEDIUM),
    "AWS Access Key": ("aws-access-key-id", _H, Confidence.HIGH),
    "Azure Storage Account access key": ("azure-storage-key", _H, Confidence.MEDIUM),
    "Basic Auth Credentials": ("url-credentials", _H, Confidence.MEDIUM),
    "Cloudant Credentials": ("cloudant-credentials", _M, Confidence.LOW),
    "Discord Bot Token": ("discord-bot-token", _H, Confidence.MEDIUM),
    "GitHub Token": ("github-token", _C, Confidence.HIGH),
    "GitLab Token": ("gitlab-token", _C, Confidence.HIGH),
    "Base64 High Entropy String": ("high-entropy-base64", _L, Confidence.LOW),
    "Hex High Entropy String": ("high-entropy-hex", _L, Confidence.LOW),
    "IBM Cloud IAM Key": ("ibm-cloud-iam-key", _M, Confidence.LOW),
    "IBM COS HMAC Credentials": ("ibm-cos-hmac", _M, Confidence.LOW),
    "JSON Web Token": ("jwt", _M, Confidence.MEDIUM),
    "Secret Keyword": ("secret-assignment", _M, Confidence.MEDIUM),
    "Mailchimp Access Key": ("mailchimp-key", _H, Confidence.MEDIUM),
    "NPM tokens": ("npm-token", _C, Confidence.HIGH),
    "OpenAI Token": ("openai-key", _C, Confidence.HIGH),
    "PyPI Token": ("pypi-token", _C, Confidence.HIGH),
    "SendGrid API Key": ("sendgrid-key", _H, Confidence.HIGH),
    "Slack Token": ("slack-token", _H, Confidence.HIGH),
    "SoftLayer Credentials": ("softlayer-credentials", _M, Confidence.LOW),
    "Square OAuth Secret": ("square-oauth-secret", _H, Confidence.MEDIUM),
    "Stripe Access Key": ("stripe-key", _C, Confidence.HIGH),
    "Telegram Bot Token": ("telegram-bot-token", _H, Confidence.MEDIUM),
    "Twilio API Key": ("twilio-key", _H, Confidence.MEDIUM),
}

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


def _prefilter() -> re.Pattern[str]:
    """One pattern that matches wherever any enabled plugin could report something."""
    classes: dict[str, Any] = get_mapping_from_secret_type_to_class()
    alternatives: list[str] = [f"(?:{word})" for word in DENYLIST]
    # Quoted runs the entropy plugins look at (shorter ones cannot reach their limits).
    alternatives.append(r"""['"][A-Za-z0-9+/=_.~-]{16,}['"]""")
    for secret_type in _PLUGINS:
        plugin = classes[secret_type]
        if issubclass(plugin, RegexBasedDetector):
            alternatives.extend(f"(?:{regex.pattern})" for regex in plugin.denylist)
    return re.compile("|".join(alternatives), re.IGNORECASE)


class SecretsCore:
    """detect-secrets behind one small interface: `scan(text, filename)`."""

    def __init__(self) -> None:
        self._meta = core_rules()
        self._prefilter = _prefilter()
        classes: dict[str, Any] = get_mapping_from_secret_type_to_class()
        self._config = {
            "plugins_used": [{"name": classes[secret_type].__name__} for secret_type in _PLUGINS],
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
        """(line number, line) for each line the prefilter flags."""
        flagged: dict[int, str] = {}
        index = LineIndex(text)
        for match in self._prefilter.finditer(text):
            number = index.line_of(match.start())
            if number not in flagged:
                flagged[number] = index.line_text(number)
        return sorted(flagged.items())

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
