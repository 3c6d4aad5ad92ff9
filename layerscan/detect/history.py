"""Secrets in the build history and the config: ARG values, ENV, LABEL, CMD and friends.

History lines are parsed per builder (see model/instruction.py) so that an ARG passed to a RUN,
or an ENV/LABEL pair whose key names a secret, is reported with its key. The same detectors
that read files also read every line and config value, for tokens with a known shape.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..image.model import Image
from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity
from .engine import Engine, Match
from .secrets_core import RULE_PREFIX as CORE_PREFIX

SECRET_KEY_NAME = re.compile(
    r"(?i)(pass(?:word|wd|phrase)?|pwd|secret|token|api[_.-]?key|access[_.-]?key|"
    r"private[_.-]?key|credential|auth|client[_.-]?key|signing[_.-]?key|encryption[_.-]?key)"
)
_NOT_SECRET_VALUES = frozenset(
    {"", "true", "false", "yes", "no", "none", "null", "nil", "0", "1", "on", "off"}
)
_PLACEHOLDER = re.compile(
    r"(?i)^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*\}\}|<[^>]*>|x{3,}|\*{3,}|"
    r"changeme|change[_-]?me|your[_-].*|example.*|placeholder|dummy|redacted|secret|password)$"
)

BUILD_ARG_RULE = RuleMeta(
    "build-arg-secret",
    "Secret passed as a build argument (kept in the image history)",
    Severity.HIGH,
    Confidence.MEDIUM,
    "ARG values used by a RUN step are written into the image history in clear text.",
)
ENV_RULE = RuleMeta(
    "env-secret",
    "Secret in an ENV variable",
    Severity.HIGH,
    Confidence.MEDIUM,
    "ENV values are stored in the image config and visible to anyone who can pull the image.",
)
LABEL_RULE = RuleMeta(
    "label-secret",
    "Secret in a LABEL",
    Severity.HIGH,
    Confidence.MEDIUM,
    "LABEL values are stored in the image config and visible to anyone who can pull the image.",
)
METADATA_RULES = (BUILD_ARG_RULE, ENV_RULE, LABEL_RULE)


@dataclass(frozen=True)
class MetadataHit:
    """A match in the history (by entry index) or in the config (by key)."""

    match: Match
    source: str  # "history" | "config"
    key: str
    history_index: int | None = None


def looks_like_secret_value(value: str) -> bool:
    """A value worth reporting under a secret-sounding key (not a path, flag or placeholder)."""
    stripped = value.strip().strip("'\"")
    if stripped.lower() in _NOT_SECRET_VALUES or len(stripped) < 4:
        return False
    return not (stripped.startswith(("/", "./", "~/", "file:")) or _PLACEHOLDER.match(stripped))


def _pairs(arguments: str) -> Iterator[tuple[str, str]]:
    """KEY=VALUE pairs of an ENV or LABEL line (also the legacy `ENV KEY value` form)."""
    try:
        tokens = shlex.split(arguments)
    except ValueError:
        tokens = arguments.split()
    if tokens and "=" not in tokens[0]:
        yield tokens[0], " ".join(tokens[1:])
        return
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep:
            yield key, value


def _is_heuristic(match: Match) -> bool:
    """Generic rules and the core's heuristics: less telling than a key that names a secret."""
    return match.rule.generic or match.rule.id.startswith(CORE_PREFIX)


def _assignment(rule: RuleMeta, name: str, value: str, engine: Engine) -> list[Match]:
    """Secrets in one KEY=VALUE pair: a provider rule's match, else the key-name rule's.

    A token with a known shape is reported by its own rule; a value whose only evidence is
    its key (API_PASSWORD=...) is reported by the ENV/LABEL/ARG rule; heuristics come last.
    """
    found = engine.scan_text(f"{name}={value}", "Dockerfile")
    specific = [match for match in found if not _is_heuristic(match)]
    if specific:
        return specific
    cleaned = value.strip().strip("'\"")
    if SECRET_KEY_NAME.search(name) and looks_like_secret_value(cleaned):
        return [Match(rule, cleaned, 1)]
    return found


_CONTAINMENT_CHECKS = 1 << 20
"""Match-by-reported-value comparisons one history entry may cost (see _without)."""


def _without(matches: list[Match], reported: list[str]) -> list[Match]:
    """Drop matches on text that a KEY=VALUE pair already reported.

    Comparing every match with every reported value is quadratic: an ENV line of a hundred
    thousand pairs would take hours. Past _CONTAINMENT_CHECKS comparisons only equal values
    are dropped, so the worst a crafted line gets is a finding reported twice."""
    if len(matches) * len(reported) > _CONTAINMENT_CHECKS:
        exact = set(reported)
        return [match for match in matches if match.secret not in exact]
    return [
        match
        for match in matches
        if not any(match.secret in value or value in match.secret for value in reported)
    ]


def scan_history(image: Image, engine: Engine) -> list[MetadataHit]:
    """Secrets in every history entry's created_by, comment and author."""
    hits: list[MetadataHit] = []
    for entry in image.history:
        parsed = entry.parsed
        pairs: list[tuple[str, str, RuleMeta]] = [
            (f"ARG {name}", f"{name}={value}", BUILD_ARG_RULE)
            for name, value in parsed.build_args.items()
        ]
        if parsed.keyword in ("ENV", "LABEL"):
            rule = ENV_RULE if parsed.keyword == "ENV" else LABEL_RULE
            pairs.extend(
                (f"{parsed.keyword} {name}", f"{name}={value}", rule)
                for name, value in _pairs(parsed.arguments)
            )
        reported: list[str] = []
        for key, assignment, rule in pairs:
            name, _, value = assignment.partition("=")
            for match in _assignment(rule, name, value, engine):
                hits.append(MetadataHit(match, "history", key, entry.index))
                reported.append(match.secret)
        key = parsed.keyword or "created_by"
        for text in (entry.created_by, entry.comment or "", entry.author or ""):
            if text:
                hits.extend(
                    MetadataHit(match, "history", key, entry.index)
                    for match in _without(engine.scan_text(text, "Dockerfile"), reported)
                )
    return hits


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


def _config_values(config: Mapping[str, Any]) -> Iterator[tuple[str, str, RuleMeta | None]]:
    """(key, value, key-name rule) for every config field that can carry a secret."""
    # `container_config` (legacy engines) only repeats the last build step, which the history
    # already holds; it is left out so that every source of the same image reports the same.
    block = config.get("config")
    if isinstance(block, dict):
        for item in block.get("Env") or []:
            name, _, value = str(item).partition("=")
            yield f"Env.{name}", str(item), ENV_RULE
        labels = block.get("Labels") or {}
        if isinstance(labels, dict):
            for name, value in labels.items():
                yield f"Labels.{name}", f"{name}={value}", LABEL_RULE
        for field_name in ("Cmd", "Entrypoint", "User", "WorkingDir", "OnBuild", "Shell"):
            if block.get(field_name):
                yield field_name, _as_text(block[field_name]), None
        healthcheck = block.get("Healthcheck")
        if isinstance(healthcheck, dict) and healthcheck.get("Test"):
            yield "Healthcheck", _as_text(healthcheck["Test"]), None


def scan_config(image: Image, engine: Engine) -> list[MetadataHit]:
    """Secrets in Env, Labels, Cmd, Entrypoint, Healthcheck, User, WorkingDir and OnBuild."""
    hits: list[MetadataHit] = []
    for key, text, key_rule in _config_values(image.config):
        if key_rule is not None:
            name, _, value = text.partition("=")
            matches = _assignment(key_rule, name, value, engine)
        else:
            matches = engine.scan_text(text, "config")
        hits.extend(MetadataHit(match, "config", key) for match in matches)
    return hits
