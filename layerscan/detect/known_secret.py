"""One known secret, looked for as it is and as it is usually encoded: `hunt`'s matcher.

Given the secret itself (from a file, never the command line), its forms are searched
directly: the exact text, its base64 (standard and URL-safe alphabets, also inside a longer
base64 text at any of the three byte alignments: the characters that depend on the secret
alone are the same whatever surrounds it) and its URL-encoded forms. Given only its sha256,
each text is cut into candidate tokens (words, KEY=VALUE values, quoted strings, whole
lines), and each candidate, and its base64- and URL-decoded forms, is hashed. No rule has to
match: a random string no rule would flag is found all the same.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote_plus

MIN_SECRET = 8
"""Shorter secrets would be found everywhere (and their sha256 guessed by brute force)."""
_MAX_TOKEN = 4096
_WORDS = re.compile(r"[^\s\"'`]+")
_PARTS = re.compile(r"[^\s\"'`=:,;@<>()\[\]{}|&]+")
_BASE64ISH = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_URL_SAFE = str.maketrans("+/", "-_")


@dataclass(frozen=True)
class Hit:
    form: str
    """How the secret was written: exact, base64, base64url, url."""
    found: str
    """The text that matched (to redact it wherever it is shown; never printed itself)."""


def _base64_cores(secret: bytes) -> list[str]:
    """The base64 characters that only the secret's bytes decide, at each of the three
    alignments it can have inside a longer base64 text."""
    cores = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret).decode("ascii")
        first = -(-8 * shift // 6)  # characters that hold bits of the padding before it
        last = (8 * (shift + len(secret))) // 6  # characters wholly within the secret
        core = encoded[first:last]
        if core:
            cores.append(core)
    return cores


class Needle:
    """A secret to hunt: its sha256 always, its bytes when they were given."""

    def __init__(self, sha256: str, secret: bytes | None = None) -> None:
        self.sha256 = sha256
        self.secret = secret
        self.forms: list[tuple[str, str]] = []
        if secret is not None:
            text = secret.decode("utf-8", "surrogateescape")
            self.forms.append(("exact", text))
            for core in _base64_cores(secret):
                self.forms.append(("base64", core))
                url_safe = core.translate(_URL_SAFE)
                if url_safe != core:
                    self.forms.append(("base64url", url_safe))
            for encoded in {quote(secret, safe=""), quote_plus(secret, safe="")}:
                if encoded != text:
                    self.forms.append(("url", encoded))

    @classmethod
    def from_secret(cls, secret: bytes) -> Needle:
        if len(secret) < MIN_SECRET:
            raise ValueError(f"a secret of {len(secret)} bytes would match everywhere")
        return cls(hashlib.sha256(secret).hexdigest(), secret)

    @classmethod
    def from_sha256(cls, digest: str) -> Needle:
        digest = digest.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("--sha256 takes the 64 hexadecimal digits of a sha256")
        return cls(digest)

    @property
    def given(self) -> str:
        return "secret" if self.secret is not None else "sha256"

    def search(self, text: str) -> Hit | None:
        """The first form of the secret this text holds, or None."""
        if self.secret is not None:
            for form, encoded in self.forms:
                if encoded in text:
                    return Hit(form, encoded)
            return None
        for candidate in _candidates(text):
            for form, decoded in _decodings(candidate):
                if hashlib.sha256(decoded).hexdigest() == self.sha256:
                    return Hit(form, candidate)
        return None


def _candidates(text: str) -> Iterator[str]:
    """Tokens a secret may be: each line, each word, each part between separators."""
    for line in text.splitlines():
        stripped = line.strip()
        if MIN_SECRET <= len(stripped) <= _MAX_TOKEN:
            yield stripped
        for pattern in (_WORDS, _PARTS):
            for match in pattern.finditer(line):
                token = match.group()
                if MIN_SECRET <= len(token) <= _MAX_TOKEN and token != stripped:
                    yield token


def _decodings(token: str) -> Iterator[tuple[str, bytes]]:
    raw = token.encode("utf-8", "surrogateescape")
    yield "exact", raw
    if "%" in token or "+" in token:
        decoded = unquote_plus(token).encode("utf-8", "surrogateescape")
        if decoded != raw:
            yield "url", decoded
    if len(token) >= 12 and _BASE64ISH.match(token):
        padded = token + "=" * (-len(token) % 4)
        for form, alphabet in (("base64", None), ("base64url", b"-_")):
            try:
                yield form, base64.b64decode(padded, altchars=alphabet, validate=True)
            except (binascii.Error, ValueError):
                continue
