"""Open a layer blob as its uncompressed tar, whatever the compression.

The compression is told by the blob's magic bytes, never by its media type alone: registries,
skopeo and old engines all label layers loosely (a `.tar` media type on a gzip blob is common).
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, cast

import zstandard

from ..errors import ContentError
from . import deflate

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


class _GzipMembers(io.RawIOBase):
    """gzip, member after member, through layerscan.deflate (ISA-L where it imports); bytes
    after the last member are ignored.

    Python's GzipFile raises on anything after the last member and loses what the same read
    had already inflated; a layer with trailing garbage would then lose its last entries.
    Here the garbage is reported through `on_trailing` and read to the end (so a digest over
    the whole blob can still be checked), but never inflated.
    """

    def __init__(
        self, raw: BinaryIO, on_trailing: Callable[[int], None], use_isal: bool = deflate.ISAL
    ) -> None:
        self._raw = raw
        self._on_trailing = on_trailing
        self._use_isal = use_isal
        self._inflater: deflate.Decompressor | None = None
        """Made when the member's first bytes are there (they pick the decoder)."""
        self._input = b""
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._finished:
            inflater = self._inflater
            if inflater is not None and inflater.eof:
                self._next_member()
                continue
            tail = inflater.unconsumed_tail if inflater is not None else b""
            data = tail or self._input or self._raw.read(READ_SIZE)
            self._input = b""
            if inflater is None:
                inflater = self._inflater = deflate.gzip_decoder(data, self._use_isal)
            # With no input left, the call still drains what the decoder holds.
            out = inflater.decompress(data, len(buffer))
            if out:
                buffer[: len(out)] = out
                return len(out)
            if not data and not inflater.eof:
                raise EOFError("the gzip stream ends before its end-of-stream marker")
        return 0

    def _next_member(self) -> None:
        assert self._inflater is not None
        rest = self._inflater.unused_data
        while len(rest) < 2:
            more = self._raw.read(READ_SIZE)
            if not more:
                break
            rest += more
        if not rest:
            self._finished = True
        elif rest[:2] == b"\x1f\x8b":
            self._inflater = None
            self._input = rest
        else:
            self._finished = True
            trailing = len(rest)
            while chunk := self._raw.read(READ_SIZE):
                trailing += len(chunk)
            self._on_trailing(trailing)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _ignore(_: int) -> None:
    """No one to tell about trailing bytes."""


def open_uncompressed(
    raw: BinaryIO, on_trailing: Callable[[int], None] = _ignore, use_isal: bool = deflate.ISAL
) -> tuple[BinaryIO, Compression]:
    """Wrap a blob stream so that reading it yields the uncompressed bytes.

    `on_trailing` hears of bytes after the end of a gzip stream (ignored, not inflated);
    `use_isal=False` inflates gzip with zlib (what a platform without ISA-L does).
    """
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw))
    kind = sniff(buffered.peek(8)[:8])
    if kind == "none":
        return cast(BinaryIO, buffered), kind
    top: Any
    if kind == "gzip":
        return cast(
            BinaryIO, io.BufferedReader(_GzipMembers(buffered, on_trailing, use_isal), READ_SIZE)
        ), kind
    if kind == "zstd":
        top = zstandard.ZstdDecompressor().stream_reader(
            buffered, read_size=READ_SIZE, read_across_frames=True, closefd=False
        )
    elif kind == "xz":
        top = lzma.LZMAFile(buffered)  # noqa: SIM115 - _Chain closes every decompressor
    else:
        top = bz2.BZ2File(buffered)
    return cast(BinaryIO, io.BufferedReader(_Chain(top, cast(BinaryIO, buffered)), READ_SIZE)), kind


TAIL_BYTES = 64 << 10
"""More than tarfile reads ahead (its 10 KiB records), so a tar's end can be judged."""


class LimitExceeded(ContentError):
    """A layer grew past a configured bound (bytes, or expansion over its compressed size)."""


@dataclass(frozen=True)
class LayerLimits:
    """Bounds on one layer's uncompressed stream: a decompression bomb stops here."""

    max_bytes: int = 16 << 30
    max_ratio: float = 1000.0
    ratio_after: int = 64 << 20
    """The ratio is judged only past this many uncompressed bytes: small layers of zeros or
    text compress very well and are harmless."""


class LayerMeter:
    """Counts and hashes a layer's bytes on both sides of the decompressor, within limits.

    The hashes let the walker check the manifest digest (compressed blob) and the config's
    diff_id (uncompressed tar) on the same single pass that scans the layer.
    """

    def __init__(self, limits: LayerLimits) -> None:
        self.limits = limits
        self.compressed_bytes = 0
        self.uncompressed_bytes = 0
        self._compressed_sha = hashlib.sha256()
        self._uncompressed_sha = hashlib.sha256()
        self.plain = False
        """An uncompressed blob: one hash serves for both digests."""
        self.trailing_bytes = 0
        """Bytes after the end of the compressed stream, ignored."""
        self.tail = b""
        """The last uncompressed bytes: what follows a tar's end-of-archive marker is here."""

    def saw_trailing(self, count: int) -> None:
        self.trailing_bytes += count

    def saw_compressed(self, chunk: bytes | memoryview) -> None:
        self.compressed_bytes += len(chunk)
        if not self.plain:
            self._compressed_sha.update(chunk)

    def saw_uncompressed(self, chunk: bytes | memoryview) -> None:
        self.uncompressed_bytes += len(chunk)
        self._uncompressed_sha.update(chunk)
        # bytes(): a chunk may be a view of a buffer the reader fills again.
        self.tail = (
            (self.tail + chunk)[-TAIL_BYTES:]
            if len(chunk) < TAIL_BYTES
            else bytes(chunk[-TAIL_BYTES:])
        )
        if self.uncompressed_bytes > self.limits.max_bytes:
            raise LimitExceeded(
                f"stopped after {self.uncompressed_bytes} uncompressed bytes: over the "
                f"limit of {self.limits.max_bytes} per layer"
            )
        if (
            self.uncompressed_bytes > self.limits.ratio_after
            and self.uncompressed_bytes > self.limits.max_ratio * max(self.compressed_bytes, 1)
        ):
            raise LimitExceeded(
                f"stopped after {self.uncompressed_bytes} bytes from {self.compressed_bytes} "
                f"compressed: expands more than {self.limits.max_ratio:g} times (a "
                "decompression bomb)"
            )

    @property
    def compressed_digest(self) -> str:
        return (
            self.uncompressed_digest if self.plain else "sha256:" + self._compressed_sha.hexdigest()
        )

    @property
    def uncompressed_digest(self) -> str:
        return "sha256:" + self._uncompressed_sha.hexdigest()


class _Metered(io.RawIOBase):
    """Passes reads through and shows every chunk to a meter callback."""

    def __init__(self, inner: BinaryIO, saw: Callable[[memoryview], None]) -> None:
        self._inner = inner
        self._saw = saw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        # Straight into the caller's buffer: every reader below (file, decompressors) has readinto.
        n = cast(io.RawIOBase, self._inner).readinto(view) or 0
        if n:
            self._saw(view[:n])
        return n

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def open_metered(raw: BinaryIO, meter: LayerMeter) -> tuple[BinaryIO, Compression]:
    """Like open_uncompressed, with both sides of the decompressor counted by `meter`."""
    counted_raw = cast(BinaryIO, io.BufferedReader(_Metered(raw, meter.saw_compressed), READ_SIZE))
    stream, kind = open_uncompressed(counted_raw, meter.saw_trailing)
    meter.plain = kind == "none"
    counted = _Metered(stream, meter.saw_uncompressed)
    return cast(BinaryIO, io.BufferedReader(counted, READ_SIZE)), kind
