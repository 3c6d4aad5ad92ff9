"""Names from an image made safe to create on the host, reversibly.

Linux accepts any byte in a name but `/` and NUL, yet an investigator's shell, terminal and
tools do not: an image can name a file with ESC sequences, with bytes that are not UTF-8, or
longer than the 255 bytes a host filesystem allows. Such a component is written with each
offending byte as `%XX` (and `%` itself as `%25`, so the mapping stays one to one); one too
long keeps its first 200 bytes and a hash of the whole. The manifest keeps the raw bytes of
every escaped path.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re

NAME_MAX = 255
_KEEP = 200


def _unsafe(char: str) -> bool:
    code = ord(char)
    return (
        code < 0x20
        or 0x7F <= code < 0xA0  # DEL and the C1 controls (CSI, OSC...) drive terminals too
        or char == "%"
        or 0xDC80 <= code <= 0xDCFF  # a byte that was not UTF-8 (surrogateescape)
        or 0xD800 <= code <= 0xDFFF
    )


def _escaped(char: str) -> str:
    errors = "surrogateescape" if 0xDC80 <= ord(char) <= 0xDCFF else "surrogatepass"
    raw = char.encode("utf-8", errors)
    return "".join(f"%{byte:02X}" for byte in raw)


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f%\ud800-\udfff]")


@functools.lru_cache(maxsize=1 << 16)
def host_name(component: str, reserved: frozenset[str] = frozenset()) -> str:
    """The name to create for one path component (`reserved`: names the output uses itself
    at this place, which image content gets escaped out of the way of)."""
    if len(component) <= NAME_MAX // 4 and not _UNSAFE.search(component):
        return component if component not in reserved else _escaped(component[0]) + component[1:]
    if component in reserved:
        return _escaped(component[0]) + component[1:]
    if any(_unsafe(char) for char in component):
        name = "".join(_escaped(char) if _unsafe(char) else char for char in component)
    else:
        name = component
    encoded = name.encode("utf-8")  # every surrogate was escaped above
    if len(encoded) <= NAME_MAX:
        return name
    digest = hashlib.sha256(os.fsencode(component)).hexdigest()[:16]
    return encoded[:_KEEP].decode("utf-8", "ignore") + "%~" + digest


def host_parts(parts: list[str], reserved_at_top: frozenset[str] = frozenset()) -> list[str]:
    """host_name of each component; `reserved_at_top` applies to the first one only."""
    return [
        host_name(part, reserved_at_top if depth == 0 else frozenset())
        for depth, part in enumerate(parts)
    ]


_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def raw_hex(path: str) -> str | None:
    """The exact bytes of an image path as hex, when printing it would not show them."""
    if not _HIDDEN.search(path):
        return None
    return os.fsencode(path).hex()
