"""Open a layer blob as its uncompressed tar, whatever the compression.

The compression is told by the blob's magic bytes, never by its media type alone: registries,
skopeo and old engines all label layers loosely (a `.tar` media type on a gzip blob is common).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from typing import Any, BinaryIO, Literal, cast

import zstandard

Compression = Literal["gzip", "zstd", "xz", "bzip2", "none"]

_MAGIC: tuple[tuple[bytes, Compression], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
)

READ_SIZE = 1 << 20


def sniff(head: bytes) -> Compression:
    """Name the compression of a blob from its first bytes."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return "none"


class _Chain(io.RawIOBase):
    """A readable stream that closes every stream below it when it is closed.

    Decompressors do not close the file they read from; layer openers hand out fresh file
    handles, so whoever closes the top must close the whole chain.
    """

    def __init__(self, top: BinaryIO, *below: BinaryIO) -> None:
        self._top = top
        self._below = below

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._top.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._top.close()
            finally:
                for stream in self._below:
                    stream.close()
        super().close()


def open_uncompressed(raw: BinaryIO) -> tuple[BinaryIO, Compression]:
    """Wrap a blob stream so that reading it yields the uncompressed bytes."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw))
    kind = sniff(buffered.peek(8)[:8])
    if kind == "none":
        return cast(BinaryIO, buffered), kind
    top: Any
    if kind == "gzip":
        top = gzip.GzipFile(fileobj=buffered, mode="rb")
    elif kind == "zstd":
        top = zstandard.ZstdDecompressor().stream_reader(
            buffered, read_size=READ_SIZE, read_across_frames=True, closefd=False
        )
    elif kind == "xz":
        top = lzma.LZMAFile(buffered)  # noqa: SIM115 - _Chain closes every decompressor
    else:
        top = bz2.BZ2File(buffered)
    return cast(BinaryIO, io.BufferedReader(_Chain(top, cast(BinaryIO, buffered)), READ_SIZE)), kind
