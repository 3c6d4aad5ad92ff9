"""One known secret, looked for as it is and as it is usually encoded: `hunt`'s matcher.

Given the secret itself (from a file, never the command line), its forms are searched
directly: the exact text, its base64 (standard and URL-safe alphabets, also inside a longer
base64 text at any of the three byte alignments: the characters that depend on the secret
alone are the same whatever surrounds it, and also when that text is wrapped over lines) and
its URL-encoded forms. Given only its sha256, each text is cut into candidate tokens (whole
lines, words, the parts between separators, KEY=VALUE values, quoted strings, runs of
base64 lines joined), and each candidate, and its base64- and URL-decoded forms, is hashed;
a decoded form that is text is cut into candidates in turn, once (the password inside a
Basic auth `user:password`). No rule has to match: a random string no rule would flag is
found all the same.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MIN_SECRET = 8
"""Shorter secrets would be found everywhere (and their sha256 guessed by brute force)."""
_MAX_TOKEN = 4096
_MAX_BLOCK = 1 << 16
"""Joined base64 lines hashed as one candidate, at most (a wrapped key, not a whole file)."""
_WORDS = re.compile(r"[^\s\"'`]+")
_PARTS = re.compile(r"[^\s\"'`=:,;@<>()\[\]{}|&/?#]+")
_SEPARATORS = frozenset("=:,;@&/|.")
"""A word is also cut between any two of these: a secret holding `/` and `=` between two `:`
is still one piece, and a file named by its token (`TOKEN.json`) gives it."""
_QUOTED = re.compile(r"\"([^\"\n]+)\"|'([^'\n]+)'")
_BASE64ISH = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_MIN_WRAP = 16
_MAX_CUTS = 18
_WRAP = re.compile(r"[\r\n]+[ \t]*")
_URL_SAFE = str.maketrans("+/", "-_")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


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


def _url_forms(secret: bytes) -> set[str]:
    """Percent-encodings as encoders write them: Python's quote (keeping `/` or not) and
    quote_plus, JavaScript's encodeURIComponent, each also with lower-case hex digits."""
    forms = {
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret, safe=""),
        quote(secret, safe="!'()*~"),
    }
    return forms | {_PERCENT.sub(lambda m: m.group().lower(), form) for form in forms}


class Needle:
    """A secret to hunt: its sha256 always, its bytes when they were given."""

    def __init__(self, sha256: str, secret: bytes | None = None) -> None:
        self.sha256 = sha256
        self.secret = secret
        self._digest = bytes.fromhex(sha256)
        self.forms: list[tuple[str, str]] = []
        if secret is not None:
            text = secret.decode("utf-8", "surrogateescape")
            self.forms.append(("exact", text))
            raw = secret.decode("latin-1")  # as a binary's raw bytes read (engine/hunt.py)
            if raw != text:
                self.forms.append(("exact", raw))
            for core in _base64_cores(secret):
                self.forms.append(("base64", core))
                url_safe = core.translate(_URL_SAFE)
                if url_safe != core:
                    self.forms.append(("base64url", url_safe))
            for encoded in sorted(_url_forms(secret)):
                if encoded != text:
                    self.forms.append(("url", encoded))
        self._base64 = [(form, core) for form, core in self.forms if form.startswith("base64")]

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

    @property
    def longest_form(self) -> int:
        """The longest text a form can be: what a search in pieces must carry over."""
        return max((len(encoded) for _, encoded in self.forms), default=_MAX_TOKEN)

    def search(self, text: str) -> Hit | None:
        """The first form of the secret this text holds, or None."""
        if self.secret is None:
            return self._search_digest(text, nested=False)
        for form, encoded in self.forms:
            if encoded in text:
                return Hit(form, encoded)
        if "\n" in text and self._base64:
            # Wrapped base64 (PEM, MIME, YAML blocks): the core may straddle a line break.
            joined = _WRAP.sub("", text)
            for form, core in self._base64:
                if core in joined:
                    return Hit(form, core)
        return None

    def _search_digest(self, text: str, nested: bool) -> Hit | None:
        # Every candidate as it is first, then decoded: a line holding the secret and a `+`
        # must say `exact`, not `url` because its URL-decoded copy holds it too.
        candidates = list(dict.fromkeys(_candidates(text)))
        for candidate in candidates:
            raw = candidate.encode("utf-8", "surrogateescape")
            if hashlib.sha256(raw).digest() == self._digest:
                return Hit("exact", candidate)
        for candidate in candidates:
            for form, decoded in _decodings(candidate):
                if hashlib.sha256(decoded).digest() == self._digest:
                    return Hit(form, candidate)
                inner = None if nested else _as_text(decoded)
                if inner is not None and self._search_digest(inner, nested=True) is not None:
                    return Hit(form, candidate)
        return None


def _as_text(data: bytes) -> str | None:
    """Decoded bytes worth cutting into candidates: printable UTF-8 with a separator in it
    (a single token was hashed already)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.isprintable() and not all(c.isprintable() or c in "\t\r\n" for c in text):
        return None
    return None if _PARTS.fullmatch(text) else text


def _candidates(text: str) -> Iterator[str]:
    """Tokens a secret may be: each line, each word, each part between separators (all of
    them, or one kind of them), each value after a word's first `=` or `:`, each quoted
    string, and each run of base64 lines joined."""
    lines = text.splitlines()
    for line in lines:
        stripped = line.strip()
        if MIN_SECRET <= len(stripped) <= _MAX_TOKEN:
            yield stripped
        for match in _QUOTED.finditer(line):
            token = match.group(match.lastindex or 0)
            if MIN_SECRET <= len(token) <= _MAX_TOKEN:
                yield token
        for pattern in (_WORDS, _PARTS):
            for match in pattern.finditer(line):
                word = match.group()
                if MIN_SECRET <= len(word) <= _MAX_TOKEN:
                    yield word
                    yield from _pieces(word)
    yield from _base64_blocks(lines)


def _pieces(word: str) -> Iterator[str]:
    """Each part of a word between two separators, whichever they are and whatever lies
    between them (`user:pass@host`, `KEY=a/b=c`, `TOKEN.json`); a word with very many
    separators is cut at one kind at a time only."""
    cuts = [-1, *(i for i, c in enumerate(word) if c in _SEPARATORS), len(word)]
    if len(cuts) == 2:
        return
    if len(cuts) <= _MAX_CUTS:
        for n, start in enumerate(cuts):
            for end in cuts[n + 1 :]:
                if end - start > MIN_SECRET and (start, end) != (-1, len(word)):
                    yield word[start + 1 : end]
        return
    for separator in _SEPARATORS:
        for piece in word.split(separator):
            if len(piece) >= MIN_SECRET:
                yield piece


def _base64_blocks(lines: list[str]) -> Iterator[str]:
    """Base64 wrapped over lines (as base64(1), PEM and MIME write it), joined: lines of one
    width, and a last one as long or shorter."""
    block: list[str] = []
    for line in lines:
        stripped = line.strip()
        if block and len(stripped) <= len(block[0]) and _BASE64ISH.fullmatch(stripped):
            block.append(stripped)
            if len(stripped) < len(block[0]):  # a shorter line ends the block
                yield from _joined(block)
                block = []
            continue
        yield from _joined(block)
        wide = len(stripped) >= _MIN_WRAP and _BASE64ISH.fullmatch(stripped)
        block = [stripped] if wide else []
    yield from _joined(block)


def _joined(block: list[str]) -> Iterator[str]:
    if len(block) > 1:
        yield "".join(block)[:_MAX_BLOCK]


def _decodings(token: str) -> Iterator[tuple[str, bytes]]:
    """The token's URL- and base64-decoded forms (as it is: hashed before these)."""
    raw = token.encode("utf-8", "surrogateescape")
    if "%" in token:
        for decode in (unquote, unquote_plus):
            decoded = decode(token).encode("utf-8", "surrogateescape")
            if decoded != raw:
                yield "url", decoded
    elif "+" in token:
        yield "url", raw.replace(b"+", b" ")
    if len(token) >= 12 and _BASE64ISH.fullmatch(token):
        bare = token.rstrip("=")
        padded = bare + "=" * (-len(bare) % 4)
        for form, alphabet in (("base64", None), ("base64url", b"-_")):
            try:
                yield form, base64.b64decode(padded, altchars=alphabet, validate=True)
            except (binascii.Error, ValueError):
                continue
