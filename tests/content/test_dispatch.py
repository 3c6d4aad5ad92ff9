"""layerscan.content: real files in, exact units and skip reasons out."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscan.content import ContentLimits, Reason, Skipped, Unit
from layerscan.content import sqlite as content_sqlite
from layerscan.content.dispatch import units_of
from layerscan.content.sniff import Kind, sniff
from tests.support import samples
from tests.support.samples import token, zip_bytes


def units(path: str, data: bytes, limits: ContentLimits | None = None) -> list[Unit | Skipped]:
    return list(units_of(path, data, limits))


def placed(result: list[Unit | Skipped]) -> list[tuple[str, str | None]]:
    """(filename, nested_path) of every unit, and no skips."""
    assert all(isinstance(item, Unit) for item in result), result
    return [(item.filename, item.nested_path) for item in result if isinstance(item, Unit)]


def only_text(result: list[Unit | Skipped]) -> str:
    assert len(result) == 1 and isinstance(result[0], Unit), result
    return result[0].text


# -- text -----------------------------------------------------------------------------------------


def test_text_is_one_unit_named_by_its_file() -> None:
    secret = token("Text")
    data = f"url: https://example.invalid\ntoken: {secret}\n".encode()
    assert units("srv/app/config.yml", data) == [
        Unit(f"url: https://example.invalid\ntoken: {secret}\n", "config.yml")
    ]


def test_invalid_utf8_costs_a_character_not_the_file() -> None:
    secret = token("Latin")
    assert only_text(units("notes.txt", b"caf\xe9 " + secret.encode())) == f"caf\ufffd {secret}"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_text_with_a_byte_order_mark(encoding: str) -> None:
    secret = token("Sixteen")
    text = f"[auth]\r\ntoken = {secret}\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    assert units("C/Users/app/settings.ini", data) == [Unit(text, "settings.ini")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_without_a_byte_order_mark(encoding: str) -> None:
    secret = token("Bomless")
    text = f"[auth]\r\ntoken = {secret}\r\n"
    assert units("settings.ini", text.encode(encoding)) == [Unit(text, "settings.ini")]


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        (b"token: x\n", True),  # ASCII: its bytes are the text, one byte a character
        ("caf\u00e9 \u20ac\n".encode(), True),  # valid UTF-8: the text's exact encoding
        (b"caf\xe9\n", False),  # a replacement character: the text no longer encodes to it
        (b"\xef\xbb\xbftoken: x\n", False),  # the BOM is not in the text
        ("token: x\n".encode("utf-16"), False),
    ],
)
def test_a_text_unit_keeps_the_bytes_it_was_decoded_from_only_when_they_are_its_utf8(
    data: bytes, kept: bool
) -> None:
    [unit] = units("notes.txt", data)
    assert isinstance(unit, Unit)
    assert (unit.utf8 is data) is kept
    if kept:
        assert unit.text.encode("utf-8") == data


def test_empty_file_yields_nothing() -> None:
    assert units("empty", b"") == []


def test_over_size_limit() -> None:
    assert units("big.log", b"x" * 11, ContentLimits(max_file_bytes=10)) == [
        Skipped("over size limit")
    ]
    assert units("big.log", b"x" * 10, ContentLimits(max_file_bytes=10)) == [
        Unit("x" * 10, "big.log")
    ]


# -- zip ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("app.jar", "BOOT-INF/classes/application.properties"),
        ("ROOT.war", "WEB-INF/classes/application.properties"),
        ("pkg-1.0-py3-none-any.whl", "pkg/application.properties"),
        ("bundle.zip", "application.properties"),
    ],
)
def test_zip_members_are_units_named_by_their_path(name: str, member: str) -> None:
    secret = token("Zip")
    data = zip_bytes([("META-INF/", ""), (member, f"github.token={secret}\n")])
    assert units(f"srv/{name}", data) == [
        Unit(f"github.token={secret}\n", "application.properties", member)
    ]


def test_jar_nested_in_a_zip_is_read_two_levels_deep() -> None:
    secret = token("Nested")
    inner = zip_bytes([("config/x.properties", f"token={secret}\n")])
    outer = zip_bytes([("README", "hello\n"), ("lib/inner.jar", inner)], zipfile.ZIP_STORED)
    assert units("opt/dist.zip", outer) == [
        Unit("hello\n", "README", "README"),
        Unit(f"token={secret}\n", "x.properties", "lib/inner.jar!config/x.properties"),
    ]


def test_archives_deeper_than_the_limit_are_skipped_with_the_reason() -> None:
    c = zip_bytes([("c.txt", "level four\n")])
    b = zip_bytes([("b.txt", "level three\n"), ("c.jar", c)])
    a = zip_bytes([("a.txt", "level two\n"), ("b.jar", b)])
    top = zip_bytes([("top.txt", "level one\n"), ("a.jar", a)])
    assert units("top.zip", top) == [
        Unit("level one\n", "top.txt", "top.txt"),
        Unit("level two\n", "a.txt", "a.jar!a.txt"),
        Unit("level three\n", "b.txt", "a.jar!b.jar!b.txt"),
        Skipped("archive depth limit", "a.jar!b.jar!c.jar"),
    ]
    assert units("top.zip", top, ContentLimits(max_depth=1)) == [
        Unit("level one\n", "top.txt", "top.txt"),
        Skipped("archive depth limit", "a.jar"),
    ]


def test_zip_bomb_is_refused_by_its_ratio_before_it_is_inflated() -> None:
    bomb = zip_bytes([("notes.txt", "fine\n"), ("zeros.bin", b"\x00" * (8 << 20))])
    assert len(bomb) < 64 << 10
    assert units("bomb.zip", bomb) == [
        Unit("fine\n", "notes.txt", "notes.txt"),
        Skipped("archive ratio limit", "zeros.bin"),
    ]


def test_zip_member_over_the_size_limit() -> None:
    data = zip_bytes([("big.txt", "y" * 4096), ("small.txt", "ok\n")], zipfile.ZIP_STORED)
    limits = ContentLimits(max_member_bytes=1024)
    assert units("a.zip", data, limits) == [
        Skipped("archive size limit", "big.txt"),
        Unit("ok\n", "small.txt", "small.txt"),
    ]


def test_total_expansion_is_shared_by_every_member() -> None:
    data = zip_bytes([(f"{n}.txt", "z" * 600) for n in range(3)], zipfile.ZIP_STORED)
    limits = ContentLimits(max_total_bytes=1300)
    assert units("a.zip", data, limits) == [
        Unit("z" * 600, "0.txt", "0.txt"),
        Unit("z" * 600, "1.txt", "1.txt"),
        Skipped("archive size limit", "2.txt"),
    ]


def test_huge_declared_size_is_refused_without_reading() -> None:
    assert units("liar.zip", samples.lying_zip(0xFFFF0000)) == [
        Skipped("archive ratio limit", "zeros.bin")
    ]


def test_small_declared_size_stops_the_read_and_fails_the_crc() -> None:
    assert units("liar.zip", samples.lying_zip(1000)) == [Skipped("corrupt archive", "zeros.bin")]


def test_zip_with_overlapping_entries_is_refused() -> None:
    assert units("overlap.zip", samples.overlapping_zip()) == [Skipped("archive overlap")]


def test_zip_listing_more_members_than_allowed_is_not_opened() -> None:
    data = zip_bytes([(f"{n}.txt", "a\n") for n in range(5)])
    assert units("many.zip", data, ContentLimits(max_members=4)) == [
        Skipped("archive member limit")
    ]
    assert len(units("many.zip", data, ContentLimits(max_members=5))) == 5


def test_corrupt_zip() -> None:
    assert units("broken.jar", b"PK\x03\x04" + b"\x01" * 200) == [Skipped("corrupt archive")]


def test_zip_behind_a_script_stub() -> None:
    secret = token("Stub")
    data = b'#!/bin/sh\nexec java -jar "$0"\n' + zip_bytes([("app.properties", secret)])
    assert units("usr/bin/app", data) == [Unit(secret, "app.properties", "app.properties")]


def test_encrypted_zip_member() -> None:
    data = bytearray(zip_bytes([("secret.txt", "hidden\n")]))
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + at] |= 0x1  # the "encrypted" flag bit
    assert units("enc.zip", bytes(data)) == [Skipped("encrypted archive member", "secret.txt")]


# -- tar and compressed streams -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "compression"),
    [
        ("rootfs.tar", None),
        ("rootfs.tar.gz", "gz"),
        ("rootfs.tgz", "gz"),
        ("rootfs.tar.xz", "xz"),
        ("rootfs.tar.zst", "zst"),
        ("rootfs.tar.bz2", "bz2"),
    ],
)
def test_tar_members_in_every_compression(name: str, compression: str | None) -> None:
    secret = token("Tar")
    data = samples.tar_bytes(
        [("./etc/app/config.yml", f"token: {secret}\n"), ("./etc/motd", "welcome\n")]
    )
    if compression is not None:
        data = samples.COMPRESSORS[compression](data)
    assert units(f"backups/{name}", data) == [
        Unit(f"token: {secret}\n", "config.yml", "etc/app/config.yml"),
        Unit("welcome\n", "motd", "etc/motd"),
    ]


def test_tar_long_names_through_pax_headers() -> None:
    name = "srv/" + "deep/" * 30 + "app.env"
    secret = token("Pax")
    data = samples.tar_bytes([(name, secret)], pax={"comment": "build 20240101"})
    assert units("t.tar", data) == [Unit(secret, "app.env", name)]


def test_tar_pax_header_that_would_backtrack_is_refused() -> None:
    # tarfile 3.11.7 searches pax headers with `\d+ hdrcharset=`: quadratic in a digit run.
    data = samples.tar_bytes([("a.txt", "a\n")], pax={"comment": "7" * 60_000})
    assert units("t.tar", data) == [Skipped("corrupt archive")]


def test_tar_header_with_a_negative_size_does_not_loop() -> None:
    # A base-256 size of -512 sends tarfile back to the same header, forever.
    data = samples.tar_with_negative_size()
    assert units("t.tar", data) == [Skipped("corrupt archive", "a.txt")]


def test_tar_member_limit_counts_members() -> None:
    data = samples.tar_bytes([(f"{n}.txt", f"{n}\n") for n in range(5)])
    assert units("t.tar", data, ContentLimits(max_members=3)) == [
        Unit("0\n", "0.txt", "0.txt"),
        Unit("1\n", "1.txt", "1.txt"),
        Unit("2\n", "2.txt", "2.txt"),
        Skipped("archive member limit"),
    ]


def test_truncated_tar() -> None:
    data = samples.tar_bytes([("a.txt", "a" * 2000)])
    assert units("t.tar", data[:1800]) == [Skipped("corrupt archive", "a.txt")]


@pytest.mark.parametrize("suffix", ["gz", "xz", "zst", "bz2"])
def test_single_compressed_file_is_named_without_its_suffix(suffix: str) -> None:
    secret = token("Gzip")
    data = samples.COMPRESSORS[suffix](f"token={secret}\n".encode())
    assert units(f"var/log/app.log.{suffix}", data) == [
        Unit(f"token={secret}\n", "app.log", "app.log")
    ]


def test_compressed_file_inside_a_zip() -> None:
    secret = token("Inner")
    member = samples.COMPRESSORS["gz"](secret.encode())
    assert units("logs.zip", zip_bytes([("logs/app.log.gz", member)])) == [
        Unit(secret, "app.log", "logs/app.log.gz!app.log")
    ]


def test_truncated_gzip_is_scanned_as_far_as_it_goes() -> None:
    data = samples.COMPRESSORS["gz"](b"line one\n" * 2000)
    result = units("app.log.gz", data[:-30])
    assert [type(item) for item in result] == [Unit, Skipped]
    assert isinstance(result[0], Unit) and result[0].text.startswith("line one\nline one\n")
    assert result[1] == Skipped("corrupt archive", "app.log")


def test_gzip_bomb() -> None:
    assert units("zeros.gz", samples.COMPRESSORS["gz"](b"\x00" * (16 << 20))) == [
        Skipped("archive ratio limit", "zeros")
    ]


# -- binaries -------------------------------------------------------------------------------------


def test_elf_binary_through_its_printable_strings(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    secret = token("Elf")
    result = units("usr/local/bin/prog", samples.elf_with(secret, tmp_path))
    assert [(type(item), getattr(item, "origin", None)) for item in result] == [(Unit, "strings")]
    lines = only_text(result).split("\n")
    assert secret in lines
    assert all(len(line) >= 8 for line in lines)


def test_pyc_strings_are_cut_at_their_marshal_lengths(tmp_path: Path) -> None:
    secret = token("Pyc")
    lines = only_text(units("settings.pyc", samples.pyc_with(secret, tmp_path))).split("\n")
    # Alone on their lines: not glued to their length byte or the next object's type byte.
    assert secret in lines
    assert "a constant long enough to share a printable run with the token" in lines


def test_java_class_strings(tmp_path: Path) -> None:
    if shutil.which("javac") is None:
        pytest.skip("javac is not installed (a JDK is needed to compile the sample class)")
    secret = token("Class")
    data = samples.class_with(secret, tmp_path)
    lines = only_text(units("Secret.class", data)).split("\n")
    assert secret in lines
    assert "another constant, long enough to be kept" in lines  # no "(" length byte in front
    jar = zip_bytes([("com/example/Secret.class", data)])
    assert placed(units("app.jar", jar)) == [("Secret.class", "com/example/Secret.class")]


def test_min_string_length(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    data = samples.elf_with(token("Short"), tmp_path)
    text = only_text(units("prog", data, ContentLimits(min_string_length=30)))
    assert all(len(line) >= 30 for line in text.split("\n"))


def test_png_is_media() -> None:
    assert units("static/logo.png", samples.png()) == [Skipped("media")]


def test_unknown_binary() -> None:
    assert units("data.bin", bytes(range(1, 256)) * 8 + b"\x00") == [Skipped("binary")]


# -- sqlite ---------------------------------------------------------------------------------------


def test_sqlite_tables_row_by_row(tmp_path: Path) -> None:
    secret = token("Sqlite")
    data = samples.sqlite_with(secret, tmp_path)
    # Tables only, in schema order: the view is never run, empty tables give nothing, and a
    # hostile table name is quoted, not executed (users still has its rows).
    assert units("var/lib/app/app.db", data) == [
        Unit(
            f"users: id=1 name=alice password={secret} avatar=\n"
            "users: id=2 name=bob password=NULL avatar=NULL",
            "app.db",
            "users",
            "rows",
        ),
        Unit(
            'we"ird; DROP TABLE users; --: col"x=line one\\n        line two',
            "app.db",
            'we"ird; DROP TABLE users; --',
            "rows",
        ),
    ]


def test_sqlite_in_wal_mode(tmp_path: Path) -> None:
    data = samples.sqlite_with(token("Wal"), tmp_path, wal=True)
    assert data[18:20] == b"\x02\x02"
    assert [unit.nested_path for unit in units("app.db", data)] == [
        "users",
        'we"ird; DROP TABLE users; --',
    ]


def test_sqlite_inside_a_zip(tmp_path: Path) -> None:
    data = zip_bytes([("data/app.db", samples.sqlite_with(token("Zipped"), tmp_path))])
    assert placed(units("backup.zip", data)) == [
        ("app.db", "data/app.db!users"),
        ("app.db", 'data/app.db!we"ird; DROP TABLE users; --'),
    ]


def test_sqlite_row_limit(tmp_path: Path) -> None:
    data = samples.sqlite_with(token("Rows"), tmp_path, rows=5)
    result = units("app.db", data, ContentLimits(sqlite_max_rows=3))
    assert result[-2:] == [
        Unit("bulk: n=0\nbulk: n=1\nbulk: n=2", "app.db", "bulk", "rows"),
        Skipped("sqlite row limit", "bulk"),
    ]


def test_sqlite_time_limit(tmp_path: Path) -> None:
    data = samples.sqlite_with(token("Slow"), tmp_path, rows=20_000)
    # SQLite looks at the clock every 1000 VM steps: the two small tables are read before it
    # does, the 20,000-row one is cut off.
    assert placed(units("app.db", data, ContentLimits(sqlite_seconds=0.0))[:2]) == [
        ("app.db", "users"),
        ("app.db", 'we"ird; DROP TABLE users; --'),
    ]
    assert units("app.db", data, ContentLimits(sqlite_seconds=0.0))[2:] == [
        Skipped("sqlite time limit", "bulk")
    ]


def test_corrupt_sqlite() -> None:
    data = b"SQLite format 3\x00" + b"\x10\x00\x01\x01" + b"\xee" * 4000
    assert units("broken.db", data) == [Skipped("sqlite error")]


def test_sqlite_copy_is_private_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[tuple[str, int, bytes]] = []
    read_copy = content_sqlite._read_copy

    def spy(path: str, limits: ContentLimits) -> list[content_sqlite.Table | Skipped]:
        mode = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
        seen.append((path, mode, Path(path).read_bytes()[:16]))
        return read_copy(path, limits)

    monkeypatch.setattr(content_sqlite, "_read_copy", spy)
    data = samples.sqlite_with(token("Private"), tmp_path)
    stream: Iterator[Unit | Skipped] = units_of("app.db", data)
    first = next(stream)  # the copy is gone before the first unit is handed out
    assert isinstance(first, Unit) and first.nested_path == "users"
    assert len(seen) == 1
    path, mode, head = seen[0]
    assert Path(path).parent.parent == scratch and mode == 0o700
    assert head == b"SQLite format 3\x00"
    assert list(scratch.iterdir()) == []
    assert units("broken.db", b"SQLite format 3\x00" + b"\xee" * 100) == [Skipped("sqlite error")]
    assert list(scratch.iterdir()) == []


# -- sniffing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, Kind.ELF),
        (samples.COMPRESSORS["gz"](b"x"), Kind.GZIP),
        (samples.COMPRESSORS["xz"](b"x"), Kind.XZ),
        (samples.COMPRESSORS["zst"](b"x"), Kind.ZSTD),
        (samples.COMPRESSORS["bz2"](b"x"), Kind.BZIP2),
        (samples.tar_bytes([("a", "b")]), Kind.TAR),
        (zip_bytes([("a", "b")]), Kind.ZIP),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x3d" + b"\x00" * 32, Kind.CLASS),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + b"\x00" * 32, Kind.BINARY),  # fat Mach-O
        (b"\xa7\x0d\x0d\x0a" + b"\x00" * 32, Kind.PYC),
        (b"SQLite format 3\x00" + b"\x00" * 84, Kind.SQLITE),
        (b"BZh91AY&SY", Kind.BZIP2),
        (b"BZh is how this text starts\n", Kind.TEXT),
        (b"plain text\n", Kind.TEXT),
        (samples.png(), Kind.MEDIA),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", Kind.MEDIA),
        (b"\x1a\x01\x30\x00" + b"\x00" * 64, Kind.BINARY),  # terminfo
    ],
)
def test_sniff_fast_paths(data: bytes, kind: Kind) -> None:
    assert sniff(data) is kind


def test_reasons_are_the_documented_keys() -> None:
    keys = {value for name, value in vars(Reason).items() if not name.startswith("_")}
    assert keys == {
        "over size limit",
        "binary",
        "media",
        "archive depth limit",
        "archive ratio limit",
        "archive member limit",
        "archive size limit",
        "archive overlap",
        "corrupt archive",
        "encrypted archive member",
        "unsupported archive member",
        "sqlite error",
        "sqlite time limit",
        "sqlite row limit",
    }
