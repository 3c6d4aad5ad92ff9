"""Printable strings of a binary, one per line, the way strings(1) shows them to a person.

A run is kept when it has at least `min_length` printable ASCII characters (tab included).
Compiled Java and Python store each string behind a length (and, in a .pyc, a type byte) that
is often a printable character itself, and the next object's type byte may be one too: a plain
run would read "(ghp_...N", which no token rule with word boundaries matches. For those two
formats the run is cut back to the string the length announces, from the bytes around the run
alone (no structure is walked, so a hostile file costs one regex pass like any other). Of an
ELF file only the data sections are read, found through its section table.
"""

from __future__ import annotations

import re
import struct
from functools import lru_cache

# marshal type codes (Python/marshal.c): short ASCII strings carry a one-byte length, the
# others a four-byte little-endian one; 0x80 is FLAG_REF.
_SHORT_STRING = frozenset(b"zZ\xfa\xda")
_SHORT_PRINTABLE = frozenset(b"zZ")
_LONG_STRING = frozenset(b"aAuts\xe1\xc1\xf5\xf4\xf3")
_HEAD_GLUE = 12
_CONSTANT_UTF8 = 1  # constant pool tag in a class file (JVMS 4.4.7)


@lru_cache(maxsize=8)
def _runs(min_length: int) -> re.Pattern[bytes]:
    return re.compile(rb"[\t\x20-\x7e]{%d,}" % min_length)


def printable(data: bytes, min_length: int) -> str:
    """Every printable run of a binary, joined by newlines."""
    return b"\n".join(_runs(min_length).findall(data)).decode("ascii")


def elf_strings(data: bytes, min_length: int) -> str:
    """Printable runs of an ELF file's data sections: what strings(1) shows, minus machine code.

    Code (.text and every executable section) and the toolchain's tables are most of a binary's
    bytes and hold no string constants: skipping them makes the regex pass over Debian's
    binaries three times shorter and loses only runs made of opcodes and symbol names. An ELF
    whose section table cannot be trusted is read whole.
    """
    spans = _elf_data_sections(data)
    if spans is None:
        return printable(data, min_length)
    pattern = _runs(min_length)
    found: list[bytes] = []
    for start, end in spans:
        found.extend(pattern.findall(data, start, end))
    return b"\n".join(found).decode("ascii")


_SHF_EXECINSTR = 0x4
_SHT_NOBITS = 8
# Sections of tables the toolchain writes (symbols, relocations, unwinding, DWARF, Go's line
# tables): names and numbers, never a program's string constants, and a third of what is left
# of a binary once its code is set aside. Go's .go.buildinfo, .rodata, .data and the rest are
# read.
_SKIPPED_SECTIONS = (
    b".debug",
    b".zdebug",
    b".gopclntab",
    b".eh_frame",
    b".gcc_except_table",
    b".rela",
    b".rel.",
    b".dynsym",
    b".symtab",
    b".dynstr",
    b".strtab",
    b".gnu.hash",
    b".hash",
    b".gnu.version",
    b".got",
)


def strings_regions(data: bytes) -> list[memoryview]:
    """The parts of a binary its strings are read from (elf_strings reads only an ELF's
    data sections; other formats are read whole), without copying them."""
    whole = memoryview(data)
    spans = _elf_data_sections(data) if data[:4] == b"\x7fELF" else None
    return [whole] if spans is None else [whole[start:end] for start, end in spans]


def _elf_data_sections(data: bytes) -> list[tuple[int, int]] | None:
    """(start, end) of every section worth reading, sorted and merged; None if malformed."""
    if len(data) < 64 or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if wide:
        (table,) = struct.unpack_from(order + "Q", data, 0x28)
        entry_size, count, names_index = struct.unpack_from(order + "HHH", data, 0x3A)
        layout = order + "IIQQQQ"
    else:
        (table,) = struct.unpack_from(order + "I", data, 0x20)
        entry_size, count, names_index = struct.unpack_from(order + "HHH", data, 0x2E)
        layout = order + "IIIIII"
    if (
        count == 0
        or entry_size < struct.calcsize(layout)
        or table + count * entry_size > len(data)
        or names_index >= count
    ):
        return None
    sections = [
        struct.unpack_from(layout, data, table + index * entry_size) for index in range(count)
    ]
    _, _, _, _, names_start, names_size = sections[names_index]
    names_end = names_start + names_size
    if names_end > len(data):
        return None
    spans: list[tuple[int, int]] = []
    for name, kind, flags, _, offset, size in sections:
        if kind == _SHT_NOBITS or flags & _SHF_EXECINSTR or size == 0:
            continue
        if offset + size > len(data):
            return None
        label_start = names_start + name
        if label_start < names_end and data.startswith(_SKIPPED_SECTIONS, label_start):
            continue
        spans.append((offset, offset + size))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def class_strings(data: bytes, min_length: int) -> str:
    """Printable runs of a Java class file, without the length bytes glued to their front."""
    kept: list[bytes] = []
    for match in _runs(min_length).finditer(data):
        start = match.start()
        # The next entry's tag is never printable except 9 (a tab): strip it first.
        run = match.group().rstrip(b"\t")
        # A CONSTANT_Utf8 is tag 1, a big-endian u2 length, then the bytes; the length's low
        # byte is printable for lengths 32..126, and then it heads the run.
        if (
            start >= 2
            and data[start - 2] == _CONSTANT_UTF8
            and data[start - 1] == 0
            and data[start] >= len(run) - 1
        ):
            run = run[1:]
        if len(run) >= min_length:
            kept.append(run)
    return b"\n".join(kept).decode("ascii")


def pyc_strings(data: bytes, min_length: int) -> str:
    """Printable runs of a .pyc, cut at the marshal framing of the strings inside them."""
    kept: list[bytes] = []
    keep = kept.append
    for match in _runs(min_length).finditer(data):
        start, end = match.span()
        first = _first_string(data, start, end)
        if first is None:
            keep(data[start:end])
            continue
        position, length = first
        if position - 2 - start >= min_length:
            keep(data[start : position - 2])
        while True:
            stop = position + length
            if stop >= end:
                # The string ends the run, or goes on past a non-printable character.
                if end - position >= min_length:
                    keep(data[position:end])
                break
            if length >= min_length:
                keep(data[position:stop])
            if data[stop] in _SHORT_PRINTABLE and stop + 2 <= end:
                position, length = stop + 2, data[stop + 1]
                continue
            if end - stop >= min_length:
                keep(data[stop:end])  # the printable head of the next object
            break
    return b"\n".join(kept).decode("ascii")


def _first_string(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Where the first string of a run begins and how long marshal says it is.

    Several framings can explain the bytes around a run; the first whose string fits inside
    the run wins, else the first that applies at all (a string may go on past a control
    character). Inlined rather than elegant: this runs for every run of every .pyc.
    """
    fallback: tuple[int, int] | None = None
    # A long string: type, then a four-byte length that holds a NUL for any real size.
    if start >= 5 and data[start - 5] in _LONG_STRING:
        length = int.from_bytes(data[start - 4 : start], "little")
        if 0 < length <= end - start:
            return start, length
        if 0 < length <= len(data) - start:
            fallback = (start, length)
    if start >= 1:
        before = data[start - 1]
        # A FLAG_REF short string's type byte before the run; its length is the first character.
        if before in _SHORT_STRING:
            if start + 1 + data[start] <= end:
                return start + 1, data[start]
            fallback = fallback or (start + 1, data[start])
        # Type and a non-printable length both before the run.
        if start >= 2 and before and data[start - 2] in _SHORT_STRING:
            if start + before <= end:
                return start, before
            fallback = fallback or (start, before)
    # Type and length both printable, at the head of the run.
    if start + 2 <= end and data[start] in _SHORT_PRINTABLE:
        if start + 2 + data[start + 1] <= end:
            return start + 2, data[start + 1]
        fallback = fallback or (start + 2, data[start + 1])
    if fallback is not None:
        return fallback
    # The run may open with the printable tail of the objects before the string (None is "N",
    # a small tuple ")" and its count): look a few bytes in for a short string's header, and
    # believe it only if the string it announces ends the run or is followed by another one.
    for position in range(start + 1, min(start + _HEAD_GLUE, end - 2)):
        if data[position] in _SHORT_PRINTABLE:
            stop = position + 2 + data[position + 1]
            if stop == end or (stop < end and (data[stop] in _SHORT_PRINTABLE or end - stop <= 4)):
                return position + 2, data[position + 1]
    return None
