"""A redacted private key shows its BEGIN header and its length, never key material, in every
shape a key takes in an image (issue 13): with its line breaks, in a binary, in JSON with
escaped line breaks, as a one-line PEM, in a YAML block scalar, and quoted in history text."""

from __future__ import annotations

import json
import random
import re

import pytest

from fixtures.credentials import ec_private_key_pem, rsa_private_key_pem
from layerscan.content import ContentLimits
from layerscan.detect.engine import Engine
from layerscan.detect.rules import builtin_rules
from layerscan.detect.secrets_core import SecretsCore
from layerscan.engine.file_scan import scan_file
from layerscan.model.findings import redact, redact_known

ENGINE = Engine(builtin_rules(), SecretsCore())
RNG = random.Random(13)
EC_KEY = ec_private_key_pem(RNG)
RSA_KEY = rsa_private_key_pem(RNG, bits=1024)


def _body_pieces(key: str) -> set[str]:
    """Every 8-character piece of the key's base64 body: none may be shown."""
    body = "".join(line for line in key.splitlines() if not line.startswith("-----"))
    return {body[start : start + 8] for start in range(0, len(body) - 8)}


def _one_line(key: str) -> str:
    return key.replace("\n", "")


SHAPES = {
    "pem file": ("srv/key.pem", EC_KEY.encode()),
    "binary": (
        "usr/bin/agent",
        b"\x7fELF\x02\x01\x01" + bytes(64) + _one_line(EC_KEY).encode() + bytes(64),
    ),
    "json escapes": ("srv/sa.json", json.dumps({"private_key": EC_KEY}).encode()),
    "one-line pem": ("srv/one.txt", f"key={_one_line(RSA_KEY)}\n".encode()),
    "yaml block scalar": (
        "etc/app.yaml",
        ("tls:\n  key: |\n" + "".join(f"    {line}\n" for line in RSA_KEY.splitlines())).encode(),
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_private_key_shows_its_header_alone(shape: str) -> None:
    path, data = SHAPES[shape]
    with ENGINE.session():
        found, _ = scan_file("/" + path, data, ENGINE, ContentLimits())
    keys = [match for match, _ in found if match.rule.id == "private-key"]
    assert keys, f"no private-key finding in the {shape}"
    pieces = _body_pieces(EC_KEY) | _body_pieces(RSA_KEY)
    for match in keys:
        shown = redact(match.secret)
        assert re.fullmatch(r"-----BEGIN [A-Z ]+-----…\[\d+ chars\]", shown), shown
        assert not any(piece in shown for piece in pieces)


def test_a_private_key_quoted_in_history_text_shows_its_header_alone() -> None:
    line = f"|1 TLS_KEY={_one_line(EC_KEY)} /bin/sh -c install-key"
    with ENGINE.session():
        secrets = [m.secret for m in ENGINE.scan_text(line, "Dockerfile")]
    assert any(secret.startswith("-----BEGIN PRIVATE KEY-----") for secret in secrets)
    shown = redact_known(line, secrets)
    assert "-----BEGIN PRIVATE KEY-----…[" in shown
    assert not any(piece in shown for piece in _body_pieces(EC_KEY))


def test_a_block_without_a_well_formed_header_shows_only_its_first_word() -> None:
    assert redact("-----BEGIN" + "A" * 100) == "-----BEGIN…[110 chars]"
