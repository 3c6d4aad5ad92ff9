"""ISA-L and zlib inflate the same streams to the same bytes, under the same bounds.

Every gzip stream (a .gz file, a gzip layer) and every deflated zip member goes through
layerscan.streams.deflate, which uses ISA-L where the isal package imports. Each test runs both
decoders (`use_isal=False` is what a platform without ISA-L does) on real data: this
repository's own files, compressed by the gzip and zipfile modules.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib

import pytest

from layerscan.content import ContentLimits, Skipped
from layerscan.content.dispatch import units_of
from layerscan.content.inflate import Overflow, StreamError, inflate
from layerscan.content.sniff import Kind
from layerscan.content.zipinflate import read_deflated
from layerscan.streams import deflate
from layerscan.streams.compression import open_uncompressed
from tests.support import samples
from tests.support.paths import ROOT

DECODERS = pytest.mark.parametrize("use_isal", [True, False], ids=["isal", "zlib"])
SOURCES = sorted((ROOT / "layerscan").rglob("*.py"))


def _real_files() -> dict[str, bytes]:
    files = {str(path.name): path.read_bytes() for path in SOURCES}
    assert len(files) > 20 and sum(map(len, files.values())) > 200_000
    return files


def _gzip_with_a_name(data: bytes, name: str) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(name, "wb", fileobj=buffer, mtime=0) as handle:  # FNAME in the header
        handle.write(data)
    return buffer.getvalue()


def test_isal_is_there_where_the_project_is_tested() -> None:
    assert deflate.ISAL  # pyproject depends on it: the fallback is for platforms with no wheel


@DECODERS
def test_gzip_of_real_files_inflates_to_the_same_bytes(use_isal: bool) -> None:
    for name, data in _real_files().items():
        for packed in (gzip.compress(data, 9), _gzip_with_a_name(data, name)):
            assert inflate(Kind.GZIP, packed, 1 << 24, 0, use_isal) == data, name
    everything = b"".join(_real_files().values())
    members = gzip.compress(everything[:100_000]) + gzip.compress(everything[100_000:])
    assert inflate(Kind.GZIP, members + b"\x00" * 512, 1 << 24, 0, use_isal) == everything


@DECODERS
def test_a_truncated_gzip_gives_the_same_partial_bytes(use_isal: bool) -> None:
    data = b"".join(_real_files().values())
    packed = gzip.compress(data)
    with pytest.raises(StreamError) as caught:
        inflate(Kind.GZIP, packed[: len(packed) // 2], 1 << 24, 0, use_isal)
    with pytest.raises(StreamError) as by_zlib:
        inflate(Kind.GZIP, packed[: len(packed) // 2], 1 << 24, 0, False)
    partial = caught.value.partial
    assert len(partial) > len(data) // 4 and data.startswith(partial)
    assert partial == by_zlib.value.partial


@DECODERS
def test_a_corrupt_gzip_is_refused_by_both(use_isal: bool) -> None:
    packed = bytearray(gzip.compress(b"".join(_real_files().values())))
    packed[-6] ^= 0xFF  # the CRC-32 in the trailer
    with pytest.raises(StreamError):
        inflate(Kind.GZIP, bytes(packed), 1 << 24, 0, use_isal)
    flagged = bytearray(gzip.compress(b"hello\n"))
    flagged[3] |= 0x20  # a reserved flag bit: zlib refuses the header, ISA-L would read it
    with pytest.raises(StreamError):
        inflate(Kind.GZIP, bytes(flagged), 1 << 24, 0, use_isal)


@DECODERS
def test_a_gzip_bomb_stops_at_the_cap(use_isal: bool) -> None:
    bomb = gzip.compress(b"\x00" * (64 << 20))
    assert len(bomb) < 100_000
    with pytest.raises(Overflow):
        inflate(Kind.GZIP, bomb, 1 << 20, 0, use_isal)
    assert len(inflate(Kind.GZIP, bomb, 64 << 20, 0, use_isal)) == 64 << 20


def _members(data: bytes) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.infolist()


@DECODERS
def test_zip_members_read_as_zipfile_reads_them(use_isal: bool) -> None:
    files = _real_files()
    data = samples.zip_bytes(list(files.items()))
    infos = _members(data)
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in infos:
            content = read_deflated(data, info, 1 << 24, use_isal)
            assert content == archive.read(info) == files[info.filename]


@DECODERS
def test_a_zip_member_failing_its_crc_is_refused(use_isal: bool) -> None:
    data = bytearray(samples.zip_bytes([("a.py", SOURCES[0].read_bytes())]))
    central = data.index(b"PK\x01\x02")
    data[central + 16] ^= 0xFF  # the CRC-32 the central directory declares
    [info] = _members(bytes(data))
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        read_deflated(bytes(data), info, 1 << 24, use_isal)


@DECODERS
def test_a_zip_member_lying_about_its_size_is_cut_there(use_isal: bool) -> None:
    data = samples.lying_zip(1000)  # 4 MiB of zeros, declared as 1000 bytes
    [info] = _members(data)
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        read_deflated(data, info, 1 << 20, use_isal)
    info.CRC = zlib.crc32(b"\x00" * 1000)  # a liar with a CRC to match its lie
    assert read_deflated(data, info, 1 << 20, use_isal) == b"\x00" * 1000


@DECODERS
def test_a_zip_member_running_past_the_archive_is_an_error(use_isal: bool) -> None:
    content = b"".join(_real_files().values())
    data = samples.zip_bytes([("all.txt", content)])
    [info] = _members(data)
    start = info.header_offset + 30 + len(info.filename)
    cut = data[: start + info.compress_size // 2]
    with pytest.raises(EOFError):
        read_deflated(cut, info, 1 << 24, use_isal)


def test_zip_bombs_are_still_refused() -> None:
    bomb = samples.zip_bytes([("zeros.bin", b"\x00" * (8 << 20))])
    assert list(units_of("bomb.zip", bomb)) == [Skipped("archive ratio limit", "zeros.bin")]
    limits = ContentLimits(max_member_bytes=1 << 20)
    liar = samples.lying_zip(1000)
    assert list(units_of("liar.zip", liar, limits)) == [Skipped("corrupt archive", "zeros.bin")]


@DECODERS
def test_gzip_layers_inflate_to_the_same_bytes(use_isal: bool) -> None:
    everything = b"".join(_real_files().values())
    blob = gzip.compress(everything[:50_000]) + gzip.compress(everything[50_000:]) + b"junk"
    trailing: list[int] = []
    stream, kind = open_uncompressed(io.BytesIO(blob), trailing.append, use_isal)
    assert kind == "gzip"
    assert stream.read() == everything
    assert trailing == [4]


@DECODERS
def test_a_gzip_layer_read_in_small_pieces_loses_nothing(use_isal: bool) -> None:
    """ISA-L takes more input than it has inflated: the last bytes come out of the decoder
    after the blob has no more to give, and must not be taken for a truncated stream."""
    everything = b"".join(_real_files().values())
    stream, _ = open_uncompressed(io.BytesIO(gzip.compress(everything)), use_isal=use_isal)
    raw = stream.raw  # type: ignore[attr-defined]
    pieces = bytearray()
    buffer = bytearray(1000)
    while count := raw.readinto(buffer):
        pieces += buffer[:count]
    assert bytes(pieces) == everything


@DECODERS
def test_a_truncated_gzip_layer_is_an_error(use_isal: bool) -> None:
    blob = gzip.compress(b"".join(_real_files().values()))
    stream, _ = open_uncompressed(io.BytesIO(blob[:-100]), use_isal=use_isal)
    with pytest.raises(EOFError):
        stream.read()


@DECODERS
def test_a_corrupt_gzip_layer_raises_what_the_walk_catches(use_isal: bool) -> None:
    blob = bytearray(gzip.compress(b"".join(_real_files().values())))
    struct.pack_into("<I", blob, len(blob) - 8, 0)  # a wrong CRC-32 in the trailer
    stream, _ = open_uncompressed(io.BytesIO(bytes(blob)), use_isal=use_isal)
    with pytest.raises(deflate.ERRORS):
        stream.read()
