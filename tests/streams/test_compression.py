"""Layers are decompressed by magic bytes, whatever their media type says."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest
import zstandard

from layerscan.streams.compression import open_uncompressed

PAYLOAD = b"a layer tar would be here\n" * 1000


@pytest.mark.parametrize(
    ("compress", "kind"),
    [
        (lambda data: data, "none"),
        (gzip.compress, "gzip"),
        (lambda data: zstandard.ZstdCompressor().compress(data), "zstd"),
        (lzma.compress, "xz"),
        (bz2.compress, "bzip2"),
    ],
)
def test_magic_bytes_pick_the_decompressor(compress: object, kind: str) -> None:
    stream, found = open_uncompressed(io.BytesIO(compress(PAYLOAD)))  # type: ignore[operator]
    assert found == kind
    assert stream.read() == PAYLOAD
    stream.close()


def test_multi_frame_zstd_is_read_across_frames() -> None:
    frames = zstandard.ZstdCompressor().compress(PAYLOAD) + zstandard.ZstdCompressor().compress(
        PAYLOAD
    )
    stream, _ = open_uncompressed(io.BytesIO(frames))
    assert stream.read() == PAYLOAD * 2


def test_closing_the_stream_closes_the_blob() -> None:
    blob = io.BytesIO(gzip.compress(PAYLOAD))
    stream, _ = open_uncompressed(blob)
    stream.close()
    assert blob.closed
