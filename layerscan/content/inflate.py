"""Decompress a gzip, xz, bzip2 or zstd stream held in memory, never past a byte cap.

Every decoder is driven with an output bound, so a bomb costs at most `cap + 1` bytes before
it is refused (zstd, which takes no bound, is fed 256 bytes at a time: at most 8 MiB more);
xz and zstd are also denied the huge windows a hostile header can ask for.
Concatenated streams (what `cat a.gz b.gz` makes) are read to the end, as gzip(1) does.
gzip goes through layerscan.deflate (ISA-L where it imports): same bytes, same bounds.
"""

from __future__ import annotations

import bz2
import lzma
from typing import Protocol

import zstandard

from ..errors import LayerscanError
from ..streams import deflate
from .sniff import Kind

_GZIP_MAGIC = b"\x1f\x8b"
_STREAM_ERRORS: tuple[type[Exception], ...] = (
    *deflate.ERRORS,
    lzma.LZMAError,
    OSError,
    EOFError,
    zstandard.ZstdError,
)
_ZSTD_FEED = 256


class StreamError(LayerscanError):
    """The stream is corrupt or truncated; `partial` is what decompressed before that."""

    def __init__(self, message: str, partial: bytes = b"") -> None:
        super().__init__(message)
        self.partial = partial


class Overflow(LayerscanError):
    """The stream expands past the cap it was given."""


class _Decoder(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


def inflate(
    kind: Kind, data: bytes, cap: int, decoder_memory: int, use_isal: bool = deflate.ISAL
) -> bytes:
    """The decompressed bytes of `data`; Overflow past `cap` bytes, StreamError if corrupt.
    `use_isal=False` inflates gzip with zlib (what a platform without ISA-L does)."""
    if kind is Kind.GZIP and use_isal:
        try:
            return _inflate(kind, data, cap, decoder_memory, True)
        except StreamError:
            # Cut short, ISA-L can stop a byte or two before zlib: zlib says how far a
            # damaged stream goes, as it always has (a rare case, so read twice).
            pass
    return _inflate(kind, data, cap, decoder_memory, False)


def _inflate(kind: Kind, data: bytes, cap: int, decoder_memory: int, use_isal: bool) -> bytes:
    out = _Output(cap)
    try:
        if kind is Kind.GZIP:
            _gzip(data, out, use_isal)
        elif kind is Kind.ZSTD:
            _zstd(data, out, decoder_memory)
        elif kind is Kind.XZ:
            _chained(lambda: lzma.LZMADecompressor(memlimit=decoder_memory), data, out)
        elif kind is Kind.BZIP2:
            _chained(bz2.BZ2Decompressor, data, out)
        else:
            raise ValueError(f"{kind} is not a compressed stream")
    except _STREAM_ERRORS as exc:
        raise StreamError(str(exc), out.joined()) from exc
    except _Truncated as exc:
        raise StreamError(str(exc), out.joined()) from exc
    return out.joined()


class _Truncated(Exception):
    """The input ended inside a stream."""


class _Output:
    """Decompressed chunks, refusing to grow past the cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.chunks: list[bytes] = []

    def room(self) -> int:
        """How much one decoder call may return: one byte past the cap tells an overflow."""
        return self.cap + 1 - self.size

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.cap:
            raise Overflow(f"expands past {self.cap} bytes")
        self.chunks.append(chunk)

    def joined(self) -> bytes:
        return b"".join(self.chunks)


def _gzip(data: bytes, out: _Output, use_isal: bool) -> None:
    pending = data
    while True:
        decoder = deflate.gzip_decoder(pending, use_isal)
        while not decoder.eof:
            # max_length bounds the output of this call (room() is never 0, which means "no
            # bound" to zlib). With the input all taken, a call may still drain what the
            # decoder holds: only one that returns nothing means the stream is cut short.
            chunk = decoder.decompress(pending, out.room())
            out.add(chunk)
            pending = decoder.unconsumed_tail
            if not decoder.eof and not pending and not chunk:
                raise _Truncated("truncated gzip stream")
        pending = decoder.unused_data
        if not pending.startswith(_GZIP_MAGIC):
            return  # trailing zeros or garbage are ignored, as gzip(1) does


class _DecoderFactory(Protocol):
    def __call__(self) -> _Decoder: ...


def _chained(factory: _DecoderFactory, data: bytes, out: _Output) -> None:
    """xz and bzip2: one decoder per concatenated stream, each call bounded by max_length."""
    pending = data
    while pending:
        decoder = factory()
        out.add(decoder.decompress(pending, out.room()))
        while not decoder.eof:
            if decoder.needs_input:
                raise _Truncated("truncated stream")
            out.add(decoder.decompress(b"", out.room()))
        pending = decoder.unused_data.lstrip(b"\x00")  # xz allows padding between streams


def _zstd(data: bytes, out: _Output, decoder_memory: int) -> None:
    """zstd: its decompressobj takes no output bound, so it is fed a little input at a time.

    A zstd block expands at most to 128 KiB, and a block costs at least 4 bytes of input, so
    one feed of _ZSTD_FEED bytes yields at most 8 MiB past the cap before it is refused.
    """
    factory = zstandard.ZstdDecompressor(max_window_size=decoder_memory)
    view = memoryview(data)
    position = 0
    while position < len(data):
        decoder = factory.decompressobj()
        while not decoder.eof:
            if position >= len(data):
                raise _Truncated("truncated zstd stream")
            piece = view[position : position + _ZSTD_FEED]
            position += len(piece)
            out.add(decoder.decompress(piece))
        position -= len(decoder.unused_data)  # the next frame started in the last feed
