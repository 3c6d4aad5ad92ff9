"""Printable strings of a binary, one per line, the way strings(1) shows them to a person.

A run is kept when it has at least `min_length` printable ASCII characters (tab included).
Compiled Java and Python store each string behind a length (and, in a .pyc, a type byte) that
is often a printable character itself, and the next object's type byte may be one too: a plain
run would read "(ghp_...N", which no token rule with word boundaries matches. For those two
formats the run is cut back to the string the length announces; nothing is parsed beyond the
bytes around each run, so a hostile file costs the same single regex pass as any other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

# marshal type codes (Python/marshal.c): short ASCII strings carry a one-byte length, the
# others a four-byte little-endian one; 0x80 is FLAG_REF.
_SHORT_STRING = frozenset(b"zZ\xfa\xda")
_SHORT_PRINTABLE = frozenset(b"zZ")
_LONG_STRING = frozenset(b"aAuts\xe1\xc1\xf5\xf4\xf3")
_CONSTANT_UTF8 = 1  # constant pool tag in a class file (JVMS 4.4.7)


@lru_cache(maxsize=8)
def _runs(min_length: int) -> re.Pattern[bytes]:
    return re.compile(rb"[\t\x20-\x7e]{%d,}" % min_length)


def printable(data: bytes, min_length: int) -> str:
    """Every printable run of an ELF or other binary, joined by newlines."""
    return b"\n".join(_runs(min_length).findall(data)).decode("ascii")


def class_strings(data: bytes, min_length: int) -> str:
    """Printable runs of a Java class file, without the length bytes glued to their front."""
    kept: list[bytes] = []
    for match in _runs(min_length).finditer(data):
        start, end = match.span()
        # A CONSTANT_Utf8 is tag 1, a big-endian u2 length, then the bytes; the length's low
        # byte is printable for lengths 32..126. The next entry's tag is never printable except
        # 9 (a tab), hence the rstrip.
        if (
            start >= 2
            and data[start - 2] == _CONSTANT_UTF8
            and data[start - 1] == 0
            and data[start] >= end - start - 1
        ):
            start += 1
        run = data[start:end].rstrip(b"\t")
        if len(run) >= min_length:
            kept.append(run)
    return b"\n".join(kept).decode("ascii")


def pyc_strings(data: bytes, min_length: int) -> str:
    """Printable runs of a .pyc, cut at the marshal framing of the strings inside them."""
    kept: list[bytes] = []
    for match in _runs(min_length).finditer(data):
        for piece in _marshal_pieces(data, *match.span()):
            if len(piece) >= min_length:
                kept.append(piece)
    return b"\n".join(kept).decode("ascii")


def _marshal_pieces(data: bytes, start: int, end: int) -> Iterator[bytes]:
    """The strings a printable run of a .pyc is made of, by their marshal lengths."""
    first = _first_string(data, start, end)
    if first is None:
        yield data[start:end]
        return
    position, length = first
    while True:
        stop = position + length
        if stop >= end:
            # The string runs to the end of the run, or on past a non-printable character.
            yield data[position:end]
            return
        yield data[position:stop]
        if data[stop] in _SHORT_PRINTABLE and stop + 2 <= end:
            position, length = stop + 2, data[stop + 1]
            continue
        yield data[stop:end]  # the printable head of the next object, usually a byte or two
        return


def _first_string(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Where the first string of a run begins and how long marshal says it is.

    Several framings can explain the bytes around a run; the first that fits inside the run
    wins, else the first that applies at all (a string may go on past a control character).
    """
    applies: tuple[int, int] | None = None
    for candidate in _framings(data, start, end):
        if candidate[0] + candidate[1] <= end:
            return candidate
        if applies is None:
            applies = candidate
    return applies


def _framings(data: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    # A long string: type, then a four-byte length that holds a NUL for any real size.
    if start >= 5 and data[start - 5] in _LONG_STRING:
        length = int.from_bytes(data[start - 4 : start], "little")
        if 0 < length <= len(data) - start:
            yield start, length
    # A FLAG_REF short string's type byte before the run; its length is the first character.
    if start >= 1 and data[start - 1] in _SHORT_STRING:
        yield start + 1, data[start]
    # Type and a non-printable length both before the run.
    if start >= 2 and data[start - 2] in _SHORT_STRING and data[start - 1] > 0:
        yield start, data[start - 1]
    # Type and length both printable, at the head of the run.
    if data[start] in _SHORT_PRINTABLE and start + 2 <= end:
        yield start + 2, data[start + 1]
