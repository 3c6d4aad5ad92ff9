"""Strings that every encoder accepts, whatever bytes an image put in its names."""

from __future__ import annotations

from typing import Any


def printable(value: Any) -> Any:
    """Every string valid UTF-8: names that were not (decoded with surrogateescape by tarfile,
    or escaped as lone surrogates in JSON) show their bytes as \\xNN instead of breaking the
    report's encoding."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            raw = value.encode(
                "utf-8", "surrogateescape" if _only_escapes(value) else "surrogatepass"
            )
            return raw.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {key: printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable(item) for item in value]
    return value


def _only_escapes(text: str) -> bool:
    """Lone surrogates that surrogateescape made (U+DC80..U+DCFF) and nothing else."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
