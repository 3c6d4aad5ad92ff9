"""`hunt`'s matcher on text alone: each form from the secret, each candidate from its sha256."""

from __future__ import annotations

import base64
import hashlib
import textwrap
from urllib.parse import quote, quote_plus

import pytest

from fixtures.credentials import Credentials
from layerscan.detect.known_secret import Needle


@pytest.fixture
def secret(credentials: Credentials) -> bytes:
    """The random string, with characters that base64 writes as `+` and `/`."""
    hunted = credentials.hunted_string
    return (hunted[:20] + "???>>>" + hunted[20:]).encode()


def _both(secret: bytes) -> tuple[Needle, Needle]:
    return Needle.from_secret(secret), Needle.from_sha256(hashlib.sha256(secret).hexdigest())


def _forms(secret: bytes, text: str) -> tuple[str | None, str | None]:
    return tuple(  # type: ignore[return-value]
        None if (hit := needle.search(text)) is None else hit.form for needle in _both(secret)
    )


def test_base64_is_found_inside_a_longer_text_at_every_alignment(secret: bytes) -> None:
    needle = Needle.from_secret(secret)
    for prefix in (b"", b"a", b"ab", b"abc"):
        for encode, form in ((base64.b64encode, "base64"), (base64.urlsafe_b64encode, "base64url")):
            text = encode(prefix + secret + b"tail").decode()
            found = needle.search(f"blob: {text}")
            assert found is not None and found.form == form, (prefix, form)


def test_the_sha256_finds_a_secret_bounded_by_any_one_kind_of_separator(secret: bytes) -> None:
    text = secret.decode()
    for line in (
        f"PASSWORD={text}",
        f"--token={text} --verbose",
        f"https://deploy:{text}@registry.example.com/v2/",
        f"https://hooks.example.com/services/T0/{text}/x",
        f"/var/cache/tokens/{text}.json",
        f'password: "{text}"',
        f"|1 DEPLOY_KEY={text} /bin/sh -c make",
    ):
        assert _forms(secret, line) == ("exact", "exact"), line


def test_encoded_tokens_are_found_by_either_way_of_giving_the_secret(secret: bytes) -> None:
    assert _forms(secret, "t=" + base64.b64encode(secret).decode()) == ("base64", "base64")
    url_safe = base64.urlsafe_b64encode(secret).decode()
    assert _forms(secret, f"t={url_safe}") == ("base64url", "base64url")
    for encoded in (quote(secret, safe=""), quote_plus(secret), quote(secret)):
        assert _forms(secret, f"GET /x?key={encoded}&y=1") == ("url", "url"), encoded


def test_the_sha256_finds_a_token_inside_decoded_base64_text(secret: bytes) -> None:
    basic = base64.b64encode(b"deploy:" + secret).decode()
    assert _forms(secret, f"Authorization: Basic {basic}") == ("base64", "base64")
    config = f'{{"auths": {{"registry.example.com": {{"auth": "{basic}"}}}}}}'
    assert _forms(secret, config) == ("base64", "base64")


def test_base64_wrapped_over_lines_is_found(secret: bytes) -> None:
    blob = base64.b64encode(b"x" * 45 + b"\n" + secret + b"\n" + b"y" * 45).decode()
    assert _forms(secret, "\n".join(textwrap.wrap(blob, 64))) == ("base64", "base64")
    indented = "key: |\n" + "".join(f"  {line}\n" for line in textwrap.wrap(blob, 76))
    assert _forms(secret, indented)[0] == "base64"


def test_near_misses_and_other_texts_are_not_found(secret: bytes) -> None:
    text = secret.decode()
    near = text[:-1] + ("A" if text[-1] != "A" else "B")
    for other in (near, text[:30], text[1:], base64.b64encode(near.encode()).decode(), ""):
        assert _forms(secret, f"KEY={other}\n") == (None, None), other


def test_a_secret_too_short_or_a_digest_not_hex_is_refused() -> None:
    with pytest.raises(ValueError, match="would match everywhere"):
        Needle.from_secret(b"short")
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        Needle.from_sha256("0" * 63 + "g")
