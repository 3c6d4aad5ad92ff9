"""Bytes of a text file -> str, whatever its encoding claims.

UTF-8 is decoded with replacement characters, so a stray Latin-1 byte costs one character and
never the file. UTF-16 and UTF-32 are recognised by their byte order mark, and UTF-16 without
one by where its NUL bytes fall (libmagic calls such files text; they have NULs everywhere).
"""

from __future__ import annotations

import codecs

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAMPLE = 4096


def decode(data: bytes) -> str:
    """The text of a file, as well as it can be read."""
    return decode_keeping_utf8(data)[0]


def decode_keeping_utf8(data: bytes) -> tuple[str, bytes | None]:
    """The text of a file, and `data` itself when it is exactly that text in UTF-8 (most
    files are): the engine then uses those bytes rather than encoding the text again."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), None
    if data.find(b"\x00", 0, _SAMPLE) != -1:
        sample = data[:_SAMPLE]
        odd_nuls = sample[1::2].count(0)
        even_nuls = sample[0::2].count(0)
        if odd_nuls > len(sample) // 4 and odd_nuls > 2 * even_nuls:
            return data.decode("utf-16-le", errors="replace"), None
        if even_nuls > len(sample) // 4 and even_nuls > 2 * odd_nuls:
            return data.decode("utf-16-be", errors="replace"), None
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError:  # replacement characters: the text no longer encodes to data
        return data.decode("utf-8", errors="replace"), None
