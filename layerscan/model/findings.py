"""Findings: what was found, where, in which layer, and whether it is still there.

A finding keeps the clear secret only in memory; every output goes through `redact()` unless
the user asked for --show-secrets. Its fingerprint hashes the rule, the secret and the place
(path or config key), never a layer digest, so a rebuilt image keeps its baseline.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum

from .rule_meta import RuleMeta
from .severity import Confidence, Severity


class Status(StrEnum):
    """Where a file version stands in the final image (history and config are present)."""

    PRESENT = "present"
    DELETED = "deleted"
    OVERWRITTEN = "overwritten"


class Kind(StrEnum):
    """What a finding reports: a secret, or an image hygiene problem (docs/checks.md)."""

    SECRET = "secret"
    MISCONFIG = "misconfig"


class Source(StrEnum):
    FILE = "file"
    HISTORY = "history"
    CONFIG = "config"


@dataclass(frozen=True)
class LayerRef:
    """The layer (or, for history findings, the build step) a finding belongs to."""

    index: int | None
    diff_id: str | None
    instruction: str | None
    history_index: int | None


@dataclass(frozen=True)
class RemovedBy:
    """The layer that deleted or overwrote the file version holding a finding."""

    index: int
    instruction: str | None


@dataclass
class Finding:
    rule: RuleMeta
    source: Source
    secret: str
    layer: LayerRef | None
    path: str | None = None
    nested_path: str | None = None
    line: int | None = None
    key: str | None = None
    status: Status = Status.PRESENT
    removed_by: RemovedBy | None = None
    severity: Severity | None = None
    confidence: Confidence | None = None
    also_in_history: list[int] = field(default_factory=list)
    reason: str | None = None
    """Why severity or confidence were lowered (e.g. "vendored")."""
    note: str | None = None
    """What a validator or the pairing of two matches found out."""
    also_matched: list[str] = field(default_factory=list)
    """Other rules that matched the same secret at the same place (one finding is kept)."""
    kind: Kind = Kind.SECRET
    evidence: str | None = None
    """For a misconfig: what was seen (`User=root`, a file's mode), not secret; its secret
    is empty."""

    def __post_init__(self) -> None:
        self.severity = self.severity or self.rule.severity
        self.confidence = self.confidence or self.rule.confidence

    @property
    def secret_sha256(self) -> str:
        return sha256_text(self.secret)

    @property
    def place(self) -> str:
        """Where the secret sits, independent of layer digests (the fingerprint's anchor)."""
        if self.source is Source.FILE:
            return f"file:{self.path}" + (f"!{self.nested_path}" if self.nested_path else "")
        return f"{self.source.value}:{self.key or ''}"

    @property
    def fingerprint(self) -> str:
        seen = (
            sha256_text(self.evidence or "") if self.kind is Kind.MISCONFIG else self.secret_sha256
        )
        material = "\0".join((self.rule.id, seen, self.place))
        return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def shown_secret(self, show: bool) -> str:
        if self.kind is Kind.MISCONFIG:
            return ""  # nothing secret: what was seen is its evidence
        return self.secret if show else redact(self.secret)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_PEM_HEADER = re.compile(r"-----BEGIN [A-Z0-9 ]{1,40}-----")


def redact(secret: str) -> str:
    """A short prefix and the length: enough to recognise a secret, not to use it.

    A key block shows its BEGIN header alone, whatever follows it on the same line (a key
    pulled from a binary, a one-line PEM, a JSON string with escaped line breaks)."""
    if secret.startswith("-----BEGIN"):
        header = _PEM_HEADER.match(secret)
        return f"{header.group() if header else '-----BEGIN'}…[{len(secret)} chars]"
    keep = 4 if len(secret) >= 16 else 2 if len(secret) >= 8 else 0
    return f"{secret[:keep]}…[{len(secret)} chars]"


def redact_known(text: str, secrets: list[str]) -> str:
    """Replace every known secret inside free text (instructions quote ARG values)."""
    for secret in sorted({s for s in secrets if len(s) >= 4 and s in text}, key=len, reverse=True):
        text = text.replace(secret, redact(secret))
    return text
