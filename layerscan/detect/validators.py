"""Structural checks a rule can ask for: provider checksums, decodable auths, real key blocks.

A validator looks at a candidate secret and returns a Verdict: drop it (not a secret after
all), keep it, or keep it with a different severity (an encrypted key is less urgent than a
clear one). `checksum=True` means the secret carries a provider checksum that matched: such a
secret is real in shape even inside vendored code, so it is not downgraded there.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from ..model.severity import Severity

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@dataclass(frozen=True)
class Verdict:
    keep: bool
    checksum: bool = False
    severity: Severity | None = None
    note: str | None = None


DROP = Verdict(keep=False)
KEEP = Verdict(keep=True)


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def base62_crc32(secret: str) -> Verdict:
    """GitHub classic and npm tokens: the last 6 characters are base62(crc32(the 30 before))."""
    body = secret.rsplit("_", 1)[-1]
    if len(body) != 36:
        return DROP
    random_part, checksum = body[:30], body[30:]
    if _base62(zlib.crc32(random_part.encode()), 6) == checksum:
        return Verdict(keep=True, checksum=True)
    # A wrong checksum means a made-up or mangled token: still worth a look, not a sure thing.
    return Verdict(keep=True, note="checksum does not match")


def _b64decode(text: str) -> bytes | None:
    cleaned = re.sub(r"\\n|\s", "", text)
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None


def docker_auth(secret: str) -> Verdict:
    """A Docker config `auth` value is base64 of `user:password`."""
    decoded = _b64decode(secret)
    if decoded is None:
        return DROP
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return DROP
    user, sep, password = text.partition(":")
    if not sep or not user or not password or not text.isprintable():
        return DROP
    note = f"decodes to user {user!r} and a {len(password)}-character password"
    return Verdict(keep=True, note=note)


_PEM = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----(?P<body>[\s\S]*?)-----END (?P=label)-----"
)
_OPENSSH_MAGIC = b"openssh-key-v1\x00"


def _openssh_cipher(blob: bytes) -> str | None:
    if not blob.startswith(_OPENSSH_MAGIC) or len(blob) < len(_OPENSSH_MAGIC) + 4:
        return None
    start = len(_OPENSSH_MAGIC)
    length = int.from_bytes(blob[start : start + 4], "big")
    return blob[start + 4 : start + 4 + length].decode("ascii", "replace")


def private_key_block(secret: str) -> Verdict:
    """A real key block decodes; an encrypted one is reported at lower severity."""
    text = secret.replace("\\n", "\n")
    block = _PEM.search(text)
    if block is None:
        return DROP
    label, body = block.group("label"), block.group("body")
    headers, _, payload = body.rpartition("\n\n") if "Proc-Type:" in body else ("", "", body)
    if "PGP" in label:
        lines = payload.strip().splitlines()
        armored = [line for line in lines if line and ":" not in line and not line.startswith("=")]
        decoded = _b64decode("".join(armored))
        return KEEP if decoded and len(decoded) > 32 else DROP
    decoded = _b64decode(payload)
    if decoded is None or len(decoded) < 32:
        return DROP
    encrypted = "ENCRYPTED" in label or "ENCRYPTED" in headers
    if label == "OPENSSH PRIVATE KEY":
        cipher = _openssh_cipher(decoded)
        if cipher is None:
            return DROP
        encrypted = cipher != "none"
    elif not encrypted and not decoded.startswith(b"\x30"):  # DER starts with a SEQUENCE
        return DROP
    if encrypted:
        return Verdict(keep=True, severity=Severity.MEDIUM, note="encrypted with a passphrase")
    return KEEP


def jwt(secret: str) -> Verdict:
    """A JWT's first part is base64url JSON naming an algorithm."""
    header = secret.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return DROP
    if not isinstance(decoded, dict) or "alg" not in decoded:
        return DROP
    return KEEP


_IDENTIFIER = re.compile(
    r"^(?:[a-z_]+(?:\.[A-Za-z_]\w*)*"  # password_field, self.secret
    r"|(?:[A-Z][a-z]+)+"  # NextToken, Password
    r"|[a-z]+(?:[A-Z][a-z]+)+"  # nextToken
    r"|[A-Z][A-Z_]+)$"  # SECRET_NAME
)


def assignment_value(secret: str) -> Verdict:
    """The value of `password = ...` is a secret, unless it is a name of something else.

    Code and API schemas assign identifiers to secret-sounding keys (`"output_token":
    "NextToken"`, `secret = self.secret`); a value made only of letters in identifier shape is
    one of those. Real secrets carry digits, symbols or random case.
    """
    return DROP if is_identifier(secret) else KEEP


def is_identifier(value: str) -> bool:
    """Letters (and underscores, dots) in the shape of a name in code, not of a secret."""
    return bool(_IDENTIFIER.match(value))


def kube_client_key(secret: str) -> Verdict:
    """kubeconfig `client-key-data` is base64 of a PEM private key."""
    decoded = _b64decode(secret)
    if decoded is None:
        return DROP
    return private_key_block(decoded.decode("ascii", "replace"))


VALIDATORS: dict[str, Callable[[str], Verdict]] = {
    "base62-crc32": base62_crc32,
    "docker-auth": docker_auth,
    "private-key-block": private_key_block,
    "jwt": jwt,
    "kube-client-key": kube_client_key,
    "assignment-value": assignment_value,
}
