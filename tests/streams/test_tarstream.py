"""The tar stream reader: what Python's tarfile reads, with the same meaning, and an error
where tarfile would silently stop."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from layerscan.layers.timeline import Timeline
from layerscan.layers.walk import walk
from layerscan.model.walk_log import ProblemKind, WalkLog
from layerscan.streams.tarsafety import GuardedTarInfo
from layerscan.streams.tarstream import (
    MAX_EXTENSION_HEADERS,
    TarFormatError,
    TarStream,
    TarTruncated,
)
from tests.support.synthetic import image

Row = tuple[Any, ...]


def _tarfile_rows(data: bytes) -> tuple[list[Row], int]:
    rows = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|", tarinfo=GuardedTarInfo) as archive:
        for info in archive:
            readable = info.isreg() and not info.issparse()
            body = archive.extractfile(info).read() if readable else None  # type: ignore[union-attr]
            rows.append(_row(info.name, info.type, info.size, info.linkname, info, body))
        return rows, archive.offset


def _our_rows(data: bytes) -> tuple[list[Row], int]:
    rows = []
    stream = TarStream(io.BytesIO(data))
    for member in stream:
        body = stream.read(1 << 40) if member.isreg() and not member.sparse else None
        rows.append(_row(member.name, member.type, member.size, member.linkname, member, body))
    return rows, stream.offset


def _row(name: str, kind: bytes, size: int, link: str, info: Any, body: bytes | None) -> Row:
    return (name, kind, size, link, info.mode, info.uid, info.gid, float(info.mtime), body)


def _random_tar(form: int, seed: int) -> bytes:
    """Files (empty to 600 KB), directories, symlinks and hard links under names long enough
    to need ustar prefixes, GNU long names or pax records, non-ASCII included."""
    rng = random.Random(seed)
    longest = "y" * (40 if form == tarfile.USTAR_FORMAT else 99)  # ustar splits at 100 + 155
    parts = ["a", "bb", "ü", "dir.d", ".wh.z", "x" * 60, longest]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=form) as archive:
        for _ in range(rng.randint(1, 25)):
            info = tarfile.TarInfo("/".join(rng.choice(parts) for _ in range(rng.randint(1, 4))))
            info.mode = rng.choice([0o644, 0o755, 0o4755])
            info.mtime = rng.choice([0, 1_700_000_000])
            info.uid = rng.choice([0, 1000]) if form == tarfile.USTAR_FORMAT else 2**21 + 3
            kind = rng.choice("ffdsl")
            if kind == "f":
                body = rng.randbytes(rng.randint(0, 3000)) if rng.random() < 0.5 else b"x" * 600_001
                info.size = len(body)
                archive.addfile(info, io.BytesIO(body))
                continue
            info.type = {"d": tarfile.DIRTYPE, "s": tarfile.SYMTYPE, "l": tarfile.LNKTYPE}[kind]
            info.linkname = "target/" + "t" * rng.randint(1, len(longest) + 50)
            archive.addfile(info)
    return out.getvalue()


@pytest.mark.parametrize("form", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_reads_what_tarfile_reads(form: int) -> None:
    compared = 0
    for seed in range(40):
        try:
            data = _random_tar(form, seed)
        except ValueError:  # a name ustar cannot hold
            continue
        assert _our_rows(data) == _tarfile_rows(data), f"format {form}, seed {seed}"
        compared += 1
    assert compared >= 20


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
@pytest.mark.parametrize(
    "options",
    [
        ["--format=gnu"],
        ["--format=oldgnu", "--sparse"],
        ["--format=posix"],
        ["--format=posix", "--sparse", "--sparse-version=0.1"],
        ["--format=posix", "--sparse", "--sparse-version=1.0"],
    ],
)
def test_reads_what_gnu_tar_writes(options: list[str], tmp_path: Path) -> None:
    tree = tmp_path / "t"
    deep = tree / ("d" * 90) / ("e" * 90)
    deep.mkdir(parents=True)
    (deep / ("f" * 120)).write_bytes(b"line\n" * 100)
    (tree / "ünï").write_bytes(b"u")
    (tree / "link").symlink_to("x" * 200)
    with open(tree / "sparse", "wb") as handle:
        handle.write(b"head")
        handle.seek(3 << 20)
        handle.write(b"tail")
    data = subprocess.run(
        ["tar", "-c", *options, "-C", str(tmp_path), "t"], capture_output=True, check=True
    ).stdout
    assert _our_rows(data) == _tarfile_rows(data)
    sparse = [m for m in TarStream(io.BytesIO(data)) if m.name == "t/sparse"]
    assert len(sparse) == 1 and sparse[0].size == (3 << 20) + 4
    assert sparse[0].sparse is ("--sparse" in options)


def _header(name: str, body: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    return info.tobuf(tarfile.GNU_FORMAT) + body + bytes(-len(body) % 512)


def test_a_corrupt_header_is_an_error_where_tarfile_stops_silently() -> None:
    broken = bytearray(_header("second", b"2"))
    broken[0:6] = b"garble"  # the checksum no longer matches
    data = _header("first", b"1") + bytes(broken) + _header("third", b"3") + bytes(1024)
    assert [row[0] for row in _tarfile_rows(data)[0]] == ["first"]  # and no error at all
    stream = TarStream(io.BytesIO(data))
    seen = []
    with pytest.raises(TarFormatError, match="bad header checksum at 1024"):
        for member in stream:
            seen.append(member.name)
    assert seen == ["first"]


def test_a_walk_reports_the_corrupt_header_as_damage_and_keeps_what_came_before() -> None:
    broken = bytearray(_header("second", b"2"))
    broken[0:6] = b"garble"
    layer = _header("first", b"1") + bytes(broken) + bytes(1024)
    timeline, log = Timeline(), WalkLog()
    list(walk(image([layer]), timeline, log))
    assert "first" in timeline.versions
    [damage] = [p for p in log.problems if p.kind is ProblemKind.DAMAGED]
    assert "bad header checksum" in damage.message


def test_a_long_name_is_read_to_its_declared_size() -> None:
    """As Go's archive/tar (Docker's reader) does; tarfile reads on into the padding."""
    info = tarfile.TarInfo("n" * 150)
    data = bytearray(info.tobuf(tarfile.GNU_FORMAT) + bytes(1024))
    declared = b"%011o\x00" % 100  # the 'L' header's size field, cut from 151 to 100
    data[124:136] = declared
    data[148:156] = b"%06o\x00 " % (256 + sum(data[:512]) - sum(data[148:156]))
    [member] = list(TarStream(io.BytesIO(bytes(data))))
    assert member.name == "n" * 100


def test_extension_headers_are_bounded() -> None:
    extended = tarfile.TarInfo("p")
    extended.pax_headers = {"comment": "c"}
    chain = extended.tobuf(tarfile.PAX_FORMAT)[:1024] * (MAX_EXTENSION_HEADERS + 1)
    with pytest.raises(TarFormatError, match="extension headers in a row"):
        list(TarStream(io.BytesIO(chain + _header("f", b"x") + bytes(1024))))
    huge = tarfile.TarInfo("././@LongLink")
    huge.type, huge.size = tarfile.GNUTYPE_LONGNAME, 2 << 20
    with pytest.raises(TarFormatError, match="refused an extension header"):
        list(TarStream(io.BytesIO(huge.tobuf(tarfile.USTAR_FORMAT) + bytes(2 << 20))))


def test_a_stream_cut_inside_a_file_gives_its_bytes_and_an_error() -> None:
    body = os.urandom(5000)
    stream = TarStream(io.BytesIO(_header("cut", body)[:3000]))
    member = next(iter(stream))
    with pytest.raises(TarTruncated) as cut:
        stream.read(1 << 20)
    assert cut.value.partial == body[: 3000 - 512]
    assert member.size == 5000


def test_empty_archives_and_empty_streams() -> None:
    assert list(TarStream(io.BytesIO(bytes(1024)))) == []
    with pytest.raises(TarFormatError, match="not a tar stream"):
        list(TarStream(io.BytesIO(b"")))
    with pytest.raises(TarFormatError, match="not a tar stream"):
        list(TarStream(io.BytesIO(b"this is not a tar header" * 30)))


def test_large_members_are_read_in_chunks_and_skipped_when_unread() -> None:
    big, small = os.urandom(3 << 20), b"after"
    data = _header("big", big) + _header("small", small) + bytes(1024)
    stream = TarStream(io.BytesIO(data))
    names, chunks = [], []
    for member in stream:
        names.append(member.name)
        if member.name == "big":
            chunks = list(stream.chunks(1 << 20))
    assert b"".join(chunks) == big and len(chunks) == 3
    stream = TarStream(io.BytesIO(data))
    assert [(m.name, stream.read(10) if m.name == "small" else None) for m in stream] == [
        ("big", None),
        ("small", b"after"),
    ]
    assert stream.offset == len(data) - 1024


def _partial(read: Any, data: bytes) -> tuple[list[Row], bool]:
    """The rows a reader gives before it stops, and whether it stopped on an error."""
    rows: list[Row] = []
    try:
        read(data, rows)
    except Exception:  # tarfile raises many kinds on garbage; ours raises TarFormatError
        return rows, True
    return rows, False


def _tarfile_into(data: bytes, rows: list[Row]) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|", tarinfo=GuardedTarInfo) as archive:
        for info in archive:
            readable = info.isreg() and not info.issparse()
            body = archive.extractfile(info).read() if readable else None  # type: ignore[union-attr]
            rows.append(_row(info.name, info.type, info.size, info.linkname, info, body))


def _ours_into(data: bytes, rows: list[Row]) -> None:
    stream = TarStream(io.BytesIO(data))
    for member in stream:
        body = stream.read(1 << 40) if member.isreg() and not member.sparse else None
        rows.append(_row(member.name, member.type, member.size, member.linkname, member, body))


def test_damaged_headers_read_as_tarfile_reads_them_up_to_the_damage() -> None:
    """Header bytes garbled at random (the checksum often fixed up, so the fields themselves
    are read): where tarfile reads the archive, ours reads the same members; where tarfile
    stops without a word, ours has read the same members and then raises."""
    rng = random.Random(7)
    agreed = stopped = 0
    for _ in range(300):
        form = rng.choice([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
        try:
            data = bytearray(_random_tar(form, rng.randrange(10**6)))
        except ValueError:
            continue
        heads = [m.offset for m in TarStream(io.BytesIO(bytes(data)))]
        head = rng.choice(heads)
        spot = head + rng.choice([rng.randrange(512), rng.randrange(100, 160), 156])
        data[spot] = rng.choice([0, 0x80, 0xFF, ord("7"), ord(" "), ord("x"), rng.randrange(256)])
        if rng.random() < 0.8 and not 148 <= spot - head < 156:
            block = bytes(data[head : head + 512])
            data[head + 148 : head + 156] = b"%06o\x00 " % (256 + sum(block) - sum(block[148:156]))
        theirs, their_error = _partial(_tarfile_into, bytes(data))
        ours, our_error = _partial(_ours_into, bytes(data))
        if their_error or any(row[2] < 0 for row in theirs):
            continue  # tarfile itself failed (or read a negative size, which ours refuses)
        if 329 <= spot - head < 345:  # device numbers: ours reads them for devices only
            assert ours[: len(theirs)] == theirs
            continue
        if theirs and ours and theirs[-1][:2] == ours[-1][:2] and theirs[-1][3] != ours[-1][3]:
            continue  # a GNU long link cut at its declared size, as Go's archive/tar reads it
        if our_error:
            assert ours == theirs
            stopped += 1
        else:
            assert ours == theirs
            agreed += 1
    assert agreed > 20 and stopped > 20


CAPABILITY = "\x01\x00\x00\x02\x00 \x00\x00" + "\x00" * 12
"""A security.capability value (vfs_cap_data revision 2: cap_net_raw, permitted, effective)."""


def _pax_tar(
    members: list[tuple[str, bytes, dict[str, str]]], global_headers: dict[str, str] | None = None
) -> bytes:
    """Members (name, type, own pax records) written by tarfile in PAX format."""
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=tarfile.PAX_FORMAT, pax_headers=global_headers
    ) as archive:
        for name, kind, records in members:
            info = tarfile.TarInfo(name)
            info.type, info.pax_headers = kind, records
            info.linkname = "usr/bin/ping" if kind == tarfile.LNKTYPE else ""
            info.size = 4 if kind == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(b"\x7fELF") if info.size else None)
    return out.getvalue()


def test_a_members_own_pax_header_marks_its_capabilities() -> None:
    """GNU tar's, Docker's and containerd's key (the raw value) and libarchive's (base64);
    another attribute, or the key with an empty value (which Go's archive/tar ignores), does
    not; a hard link's flag is its own header's."""
    data = _pax_tar(
        [
            ("usr/bin/ping", tarfile.REGTYPE, {"SCHILY.xattr.security.capability": CAPABILITY}),
            ("usr/bin/arping", tarfile.REGTYPE, {"LIBARCHIVE.xattr.security.capability": "AQAAAg"}),
            ("usr/bin/tagged", tarfile.REGTYPE, {"SCHILY.xattr.user.comment": "x"}),
            ("usr/bin/emptied", tarfile.REGTYPE, {"SCHILY.xattr.security.capability": ""}),
            ("usr/bin/plain", tarfile.REGTYPE, {}),
            ("usr/bin/link", tarfile.LNKTYPE, {}),
            ("usr/bin/capped-link", tarfile.LNKTYPE, {"SCHILY.xattr.security.capability": "c"}),
        ]
    )
    flags = {m.name: m.capabilities for m in TarStream(io.BytesIO(data))}
    assert flags == {
        "usr/bin/ping": True,
        "usr/bin/arping": True,
        "usr/bin/tagged": False,
        "usr/bin/emptied": False,
        "usr/bin/plain": False,
        "usr/bin/link": False,
        "usr/bin/capped-link": True,
    }
    assert _our_rows(data) == _tarfile_rows(data)  # the other fields as tarfile reads them


def test_a_global_pax_header_gives_no_member_capabilities() -> None:
    """tarfile applies a global header's records to every member after it; Docker and
    containerd skip global headers when they extract, so no file they write gets it."""
    data = _pax_tar(
        [
            ("usr/bin/own", tarfile.REGTYPE, {"comment": "own pax header"}),
            ("plain", tarfile.REGTYPE, {}),
        ],
        global_headers={"SCHILY.xattr.security.capability": CAPABILITY},
    )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|", tarinfo=GuardedTarInfo) as archive:
        assert all("SCHILY.xattr.security.capability" in info.pax_headers for info in archive)
    assert [(m.name, m.capabilities) for m in TarStream(io.BytesIO(data))] == [
        ("usr/bin/own", False),
        ("plain", False),
    ]
