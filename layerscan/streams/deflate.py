"""Decoders for deflate streams (bare, as in zips, or gzip): ISA-L's where it imports, else zlib's.

Inflating is a large share of a scan's CPU (gzip layers, wheels and jars, .gz files), and
ISA-L (the isal package) inflates the same streams about twice as fast. Both decoders give
the same bytes and honour the same output bound (`max_length`), so every cap holds with
either. Where they could disagree, zlib decides: a gzip header with reserved flag bits set,
which zlib refuses and ISA-L reads, goes to zlib. They do raise different exceptions, with
different words: catch ERRORS. ISA-L may also hold input it has taken but not yet inflated,
so an empty `unconsumed_tail` does not mean the end: call `decompress(b"", n)` until it
returns nothing before calling a stream truncated.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol, cast

_isal: Any
try:
    from isal import isal_zlib as _isal
except ImportError:  # a platform with no wheel: zlib, same bytes, slower
    _isal = None

ISAL = _isal is not None
"""Whether ISA-L is used (the default of every `use_isal` below)."""

ERRORS: tuple[type[Exception], ...] = (
    (zlib.error,) if _isal is None else (zlib.error, cast(type[Exception], _isal.error))
)
"""What either decoder raises on a corrupt stream."""

_RAW, _GZIP = -15, 31
_GZIP_RESERVED_FLAGS = 0xE0


class Decompressor(Protocol):
    """What zlib's and ISA-L's decompress objects have in common, as used here."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def unconsumed_tail(self) -> bytes: ...

    def decompress(self, data: bytes | memoryview, max_length: int = 0, /) -> bytes: ...


def raw_decoder(use_isal: bool = ISAL) -> Decompressor:
    """A decoder for one bare deflate stream (a zip member's data)."""
    module = _isal if use_isal and _isal is not None else zlib
    return cast(Decompressor, module.decompressobj(_RAW))


def gzip_decoder(head: bytes | memoryview, use_isal: bool = ISAL) -> Decompressor:
    """A decoder for one gzip member, whose first bytes are `head` (4 are enough)."""
    fast = use_isal and _isal is not None
    if len(head) < 4 or head[3] & _GZIP_RESERVED_FLAGS:
        fast = False  # zlib refuses these headers, ISA-L reads them: zlib decides
    module = _isal if fast else zlib
    return cast(Decompressor, module.decompressobj(_GZIP))


def crc32(data: bytes | memoryview, value: int = 0) -> int:
    """zlib's CRC-32, with ISA-L's faster code where it is there."""
    if _isal is not None:
        return cast(int, _isal.crc32(data, value))
    return zlib.crc32(data, value)
