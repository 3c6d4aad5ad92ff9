"""The members of a zip, a tar or a compressed stream held in memory, within the limits.

Nothing is extracted: zip members are read through `ZipFile.open`, tar members are slices of
the tar's own bytes (never `extract*()`, whose path filters in this Python predate the 2025
fixes). This module opens one level; `dispatch` decides what a member is and whether to go
deeper, so the depth limit lives in one place.

Defences beyond the byte caps, for the Python 3.11 stdlib as it is:
- a zip's central directory is counted before zipfile parses it (it makes one object per
  entry), and entries whose data overlap are refused (the "overlapping zip bomb"; zipfile
  learnt to refuse them only in 3.11.8);
- tar headers go through layerscan.tarsafety, as layer streams do (CVE-2024-6232 pax
  headers, recursive header chains).
"""

from __future__ import annotations

import io
import itertools
import lzma
import struct
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from ..streams import deflate
from ..streams.tarsafety import TAR_ERRORS, GuardedTarInfo
from .inflate import Overflow, StreamError, inflate
from .limits import Budget, ContentLimits
from .model import Reason, Skipped
from .shard import shard_of
from .sniff import COMPRESSED, Kind, is_tar
from .zipinflate import read_deflated


@dataclass(frozen=True, slots=True)
class Member:
    """One file read out of an archive: its name inside the archive and its bytes."""

    name: str
    data: bytes


def members(
    kind: Kind, data: bytes, name: str, limits: ContentLimits, budget: Budget
) -> Iterator[Member | Skipped]:
    """Every regular file in the archive `data` (whose own file name is `name`)."""
    if kind is Kind.ZIP:
        yield from _zip_members(data, limits, budget)
    elif kind is Kind.TAR:
        yield from _tar_members(data, limits, budget)
    elif kind in COMPRESSED:
        yield from _stream_members(kind, data, name, limits, budget)
    else:
        raise ValueError(f"{kind} is not an archive")


def _cap(limits: ContentLimits, budget: Budget, compressed: int) -> tuple[int, str]:
    """The most a member may expand to, and the reason to give when it would expand further."""
    size_cap = min(limits.max_member_bytes, max(budget.bytes_left, 0))
    ratio_cap = max(limits.ratio_floor_bytes, limits.max_ratio * compressed)
    if ratio_cap < size_cap:
        return ratio_cap, Reason.RATIO
    return size_cap, Reason.SIZE


# -- compressed streams -------------------------------------------------------------------------

_SUFFIXES = {
    Kind.GZIP: (".gz", ".gzip", ".z"),
    Kind.XZ: (".xz", ".lzma"),
    Kind.ZSTD: (".zst", ".zstd"),
    Kind.BZIP2: (".bz2", ".bzip2"),
}
_TAR_SUFFIXES = (".tgz", ".tbz", ".tbz2", ".txz", ".tzst")


def inner_name(kind: Kind, name: str) -> str:
    """What a compressed file holds, by name: "app.log.gz" holds "app.log"."""
    lowered = name.lower()
    for suffix in _SUFFIXES.get(kind, ()):
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    if lowered.endswith(_TAR_SUFFIXES):
        return name.rsplit(".", 1)[0] + ".tar"
    return name


def _stream_members(
    kind: Kind, data: bytes, name: str, limits: ContentLimits, budget: Budget
) -> Iterator[Member | Skipped]:
    """A compressed stream: a tar inside is this archive's members; anything else is one."""
    cap, reason = _cap(limits, budget, len(data))
    name = inner_name(kind, name)
    corrupt = False
    try:
        inner = inflate(kind, data, cap, limits.decoder_memory)
    except Overflow:
        yield Skipped(reason, name)
        return
    except StreamError as exc:
        inner = exc.partial  # a truncated log is still worth scanning as far as it goes
        corrupt = True
    budget.bytes_left -= len(inner)
    if is_tar(inner):
        yield from _tar_members(inner, limits, budget)
    elif inner:
        if budget.members_left <= 0:
            yield Skipped(Reason.MEMBERS)
            return
        budget.members_left -= 1
        yield Member(name, inner)
    if corrupt:
        yield Skipped(Reason.CORRUPT, name)


# -- zip ----------------------------------------------------------------------------------------

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_CENTRAL_ENTRY = b"PK\x01\x02"
_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    *deflate.ERRORS,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    IndexError,
    struct.error,
)
_OPEN_ERRORS: tuple[type[Exception], ...] = (*_ZIP_ERRORS, NotImplementedError)
_MEMBER_ERRORS: tuple[type[Exception], ...] = (*_ZIP_ERRORS, RuntimeError)


def zip_members(
    data: bytes, limits: ContentLimits, budget: Budget, shard: tuple[int, int] | None = None
) -> Iterator[Member | Skipped]:
    """A zip's members; with a shard (k, n), only those dispatch.shard_of gives to k (and the
    archive's own problems only in shard 0, so that they are reported once)."""
    first = shard is None or shard[0] == 0
    for item in _zip_members(data, limits, budget, shard):
        if first or not (isinstance(item, Skipped) and item.nested_path is None):
            yield item


def _zip_members(
    data: bytes, limits: ContentLimits, budget: Budget, shard: tuple[int, int] | None = None
) -> Iterator[Member | Skipped]:
    span = _central_directory(data)
    if span is None:
        yield Skipped(Reason.CORRUPT)
        return
    # zipfile builds a ZipInfo per central directory record, and each record starts with this
    # signature: counting it bounds the work before any of it is done.
    if data.count(_CENTRAL_ENTRY, *span) > limits.max_members:
        yield Skipped(Reason.MEMBERS)
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _OPEN_ERRORS:
        yield Skipped(Reason.CORRUPT)
        return
    with archive:
        infos = archive.infolist()
        if _overlapping(data, infos):
            yield Skipped(Reason.OVERLAP)
            return
        for info in infos:
            if info.filename.endswith("/"):
                continue  # a directory (ZipInfo.is_dir() fails on an empty name)
            if budget.members_left <= 0:
                yield Skipped(Reason.MEMBERS)
                return
            budget.members_left -= 1
            if shard is not None and shard_of(info.filename, shard[1]) != shard[0]:
                continue  # another process reads this one
            yield _zip_member(data, archive, info, limits, budget)


def _zip_member(
    data: bytes,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: ContentLimits,
    budget: Budget,
) -> Member | Skipped:
    name = info.filename
    if info.flag_bits & 0x1:
        return Skipped(Reason.ENCRYPTED, name)
    cap, reason = _cap(limits, budget, info.compress_size)
    if info.file_size > cap:
        return Skipped(reason, name)
    try:
        # zipfile stops at the declared size and checks the CRC there, so a member that lies
        # about its size is cut at `cap` at worst, and fails its CRC. open() checks the local
        # header; a deflated member is then inflated from `data` the same way, only faster.
        with archive.open(info) as handle:
            if info.compress_type == zipfile.ZIP_DEFLATED:
                content = read_deflated(data, info, cap + 1)
            else:
                content = handle.read(cap + 1)
    except NotImplementedError:  # a compression method zipfile does not know
        return Skipped(Reason.UNSUPPORTED, name)
    except _MEMBER_ERRORS:
        return Skipped(Reason.CORRUPT, name)
    if len(content) > cap:
        return Skipped(reason, name)
    budget.bytes_left -= len(content)
    return Member(name, content)


def _central_directory(data: bytes) -> tuple[int, int] | None:
    """Bytes that hold the central directory (a superset is fine), from the end record."""
    eocd = data.rfind(_EOCD, max(0, len(data) - 22 - 0xFFFF))
    if eocd < 0 or eocd + 22 > len(data):
        return None
    (size,) = struct.unpack_from("<I", data, eocd + 12)
    locator = eocd - 20
    if locator >= 0 and data.startswith(_ZIP64_LOCATOR, locator):
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if record + 56 <= len(data) and data.startswith(_ZIP64_EOCD, record):
            (size,) = struct.unpack_from("<Q", data, record + 40)
        else:
            size = len(data)
    # The directory ends where the (zip64) end records start: at most 76 bytes before eocd.
    return max(0, eocd - size - 76), eocd


def _overlapping(data: bytes, infos: list[zipfile.ZipInfo]) -> bool:
    """Whether two entries share bytes: many names for one deflate stream make a zip bomb."""
    spans: list[tuple[int, int]] = []
    for info in infos:
        offset = info.header_offset
        if offset < 0 or not data.startswith(_LOCAL_HEADER, offset) or offset + 30 > len(data):
            continue  # zipfile refuses this entry when it is opened
        name_length, extra_length = struct.unpack_from("<HH", data, offset + 26)
        spans.append((offset, offset + 30 + name_length + extra_length + info.compress_size))
    spans.sort()
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


# -- tar ----------------------------------------------------------------------------------------


def _tar_members(data: bytes, limits: ContentLimits, budget: Budget) -> Iterator[Member | Skipped]:
    try:
        archive = tarfile.TarFile(fileobj=io.BytesIO(data), tarinfo=GuardedTarInfo)
    except TAR_ERRORS:
        yield Skipped(Reason.CORRUPT)
        return
    with archive:
        position = -1
        while True:
            try:
                info = archive.next()
            except TAR_ERRORS:
                yield Skipped(Reason.CORRUPT)
                return
            if info is None:
                return
            # tarfile moves on by the header's size, which base-256 can make negative: it would
            # read the same header forever. Every header must move forward.
            if info.size < 0 or archive.offset <= position:
                yield Skipped(Reason.CORRUPT, _tar_name(info.name))
                return
            position = archive.offset
            if not info.isreg() or info.issparse():
                continue
            if budget.members_left <= 0:
                yield Skipped(Reason.MEMBERS)
                return
            budget.members_left -= 1
            name = _tar_name(info.name)
            if info.size > limits.max_member_bytes:
                yield Skipped(Reason.SIZE, name)
                continue
            stop = info.offset_data + info.size
            if stop > len(data):
                yield Skipped(Reason.CORRUPT, name)  # truncated
                return
            # A slice of bytes already in memory: nothing is inflated, so the budget is not
            # charged (the tar itself was, when it was decompressed or read out of a zip).
            yield Member(name, data[info.offset_data : stop])


def _tar_name(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")
