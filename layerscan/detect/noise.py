"""What looks like a secret but is not one: placeholders and documentation examples.

Applied to every match from every detector, so a rule never has to list them itself.
"""

from __future__ import annotations

import functools
import re

_PLACEHOLDER_SHAPES = re.compile(
    r"""^(?:
        \$\{?[A-Za-z_][\w.-]*(?::?[-=?][^}]*)?\}?         # ${VAR}, $VAR, ${VAR:-default}
      | \$\(.*\)                                           # $(command)
      | \{\{.*\}\} | \{%.*%\} | \#\{.*\} | %\(\w+\)s | %s  # templates
      | <[^<>]+> | \[[^\[\]]+\]                             # <password>, [token]
      | @@?[A-Za-z_]+@@?                                    # @TOKEN@
      | (?:your|my|some|insert|replace|enter|put)[-_ ]?.*   # your-api-key-here
      | .*[-_ ](?:goes[-_ ])?here                           # token_here, key-goes-here
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
_PLACEHOLDER_WORDS = re.compile(
    r"(?i)(x{4,}|\*{3,}|\.{3,}|changeme|change[-_]me|placeholder|redacted|dummy|example|"
    r"sample|fake|foobar|todo|tbd|not[-_]?a[-_]?(?:real[-_]?)?(?:secret|key|token)|"
    r"<\w+>|\bnull\b|\bnone\b|\bundefined\b)"
)
_WHOLE_WORDS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "test",
        "testing",
        "admin",
        "root",
        "user",
        "username",
        "pass",
        "key",
        "value",
        "string",
        "true",
        "false",
        "default",
        "required",
        "optional",
        "empty",
        "blank",
        "unknown",
        "invalid",
    }
)
DOCUMENTATION_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "AKIAI44QH8DHBEXAMPLE",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    }
)
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl")


def is_sequential(secret: str) -> bool:
    """abcdef, 123456, qwerty…: keyboard and alphabet runs."""
    lowered = secret.lower()
    return len(lowered) >= 4 and any(lowered in sequence * 2 for sequence in _SEQUENCES)


def is_noise(secret: str) -> bool:
    """True for a placeholder, a template, a documentation example or a trivial value.

    Remembered for short values: the same one comes back many times (a token repeated across
    a file or an image), and the word search is most of what a match costs."""
    return _short_is_noise(secret) if len(secret) <= _REMEMBERED_LENGTH else _is_noise(secret)


_REMEMBERED_LENGTH = 512
"""Longer values are judged again each time: the cache must not hold a key block per entry."""


@functools.lru_cache(maxsize=4096)
def _short_is_noise(secret: str) -> bool:
    return _is_noise(secret)


def _is_noise(secret: str) -> bool:
    stripped = secret.strip().strip("'\"`")
    if stripped in DOCUMENTATION_EXAMPLES or stripped.lower() in _WHOLE_WORDS:
        return True
    if len(set(stripped)) <= 2 and len(stripped) >= 3:
        return True  # aaaa, 0000, xxxx
    tail = re.split(r"[_\-]", stripped)[-1]
    if is_sequential(stripped) or (len(tail) >= 8 and len(set(tail)) <= 2):
        return True  # sk_live_000000000000 and the like
    # Key blocks are long base64: only their exact shape matters, checked by their validator.
    if stripped.startswith("-----BEGIN"):
        return False
    return bool(_PLACEHOLDER_SHAPES.match(stripped) or _PLACEHOLDER_WORDS.search(stripped))
