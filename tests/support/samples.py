"""Real files for the content tests, built the way their own tools build them.

Archives come from zipfile/tarfile/gzip/lzma/zstandard, the ELF from gcc, the class from javac,
the .pyc from py_compile, the database from sqlite3. Every secret-like string is fabricated
here ("ghp_" and letters that spell what they are) and was never issued by anyone.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import py_compile
import sqlite3
import struct
import subprocess
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import zstandard


def token(tag: str) -> str:
    """A fabricated GitHub-style token: "ghp_" and 36 letters starting with `tag`."""
    letters = (tag + "FabricatedForLayerscanTests" * 2)[:36]
    assert letters.isalpha() and len(letters) == 36
    return "ghp_" + letters


def zip_bytes(
    members: Sequence[tuple[str, bytes | str]], compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(
    members: Sequence[tuple[str, bytes | str]], pax: dict[str, str] | None = None
) -> bytes:
    """A tar with a directory and a symlink besides the given files (only files are read)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        directory = tarfile.TarInfo("./etc")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
        link = tarfile.TarInfo("./etc/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        for name, data in members:
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            if pax:
                info.pax_headers = dict(pax)
            archive.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def tar_with_negative_size() -> bytes:
    """A tar whose first file header has an unknown type and a size of -512 (base-256)."""
    data = bytearray(tar_bytes([("a.txt", "hello"), ("b.txt", "bee")]))
    header = data.index(b"a.txt\x00")
    data[header + 124 : header + 136] = b"\xff" * 10 + b"\xfe\x00"
    data[header + 156] = ord("Q")
    data[header + 148 : header + 156] = b" " * 8
    checksum = sum(data[header : header + 512])
    data[header + 148 : header + 156] = b"%06o\x00 " % checksum
    return bytes(data)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "xz": lzma.compress,
    "zst": zstandard.ZstdCompressor().compress,
    "bz2": bz2.compress,
}


def overlapping_zip() -> bytes:
    """Two central directory entries naming the same local entry: the overlapping-zip bomb."""
    data = zip_bytes([("a.txt", "x" * 100)])
    eocd = data.rindex(b"PK\x05\x06")
    size, offset = struct.unpack_from("<II", data, eocd + 12)
    record = data[offset : offset + size]
    twin = record.replace(b"a.txt", b"b.txt")
    end = bytearray(data[eocd:])
    struct.pack_into("<HHI", end, 8, 2, 2, 2 * size)
    return data[:offset] + record + twin + bytes(end)


def lying_zip(declared: int) -> bytes:
    """One deflated member of 4 MiB of zeros whose headers declare `declared` bytes instead."""
    data = bytearray(zip_bytes([("zeros.bin", b"\x00" * (4 << 20))]))
    real = struct.pack("<I", 4 << 20)
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        position = data.index(signature)
        assert data[position + at : position + at + 4] == real
        struct.pack_into("<I", data, position + at, declared)
    return bytes(data)


def elf_with(secret: str, workdir: Path) -> bytes:
    source = workdir / "prog.c"
    source.write_text(
        "#include <stdio.h>\n"
        f'static const char token[] = "{secret}";\n'
        "int main(void) { puts(token); return 0; }\n"
    )
    binary = workdir / "prog"
    subprocess.run(["gcc", "-O0", "-o", str(binary), str(source)], check=True)
    return binary.read_bytes()


def pyc_with(secret: str, workdir: Path) -> bytes:
    source = workdir / "settings.py"
    source.write_text(
        f'GITHUB_TOKEN = "{secret}"\n'
        'GREETING = "a constant long enough to share a printable run with the token"\n'
        "def password():\n"
        '    return {"user": "admin", "n": 1}\n'
    )
    compiled = workdir / "settings.pyc"
    py_compile.compile(str(source), cfile=str(compiled), doraise=True)
    return compiled.read_bytes()


def class_with(secret: str, workdir: Path) -> bytes:
    source = workdir / "Secret.java"
    source.write_text(
        "public class Secret {\n"
        f'    static final String TOKEN = "{secret}";\n'
        '    static String other() { return "another constant, long enough to be kept"; }\n'
        "    public static void main(String[] args) { System.out.println(TOKEN); }\n"
        "}\n"
    )
    subprocess.run(["javac", "-d", str(workdir), str(source)], check=True)
    return (workdir / "Secret.class").read_bytes()


def sqlite_with(secret: str, workdir: Path, rows: int = 0, wal: bool = False) -> bytes:
    """users (with a password), a view, a trigger, a table with a hostile name; `rows` more."""
    path = workdir / "app.db"
    connection = sqlite3.connect(path)
    if wal:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(
        f"""
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, password TEXT, avatar BLOB);
        INSERT INTO users (name, password, avatar) VALUES ('alice', '{secret}', x'00ff6869');
        INSERT INTO users (name, password, avatar) VALUES ('bob', NULL, NULL);
        CREATE TABLE audit (at TEXT, what TEXT);
        CREATE TRIGGER users_audit AFTER UPDATE ON users
            BEGIN INSERT INTO audit VALUES (datetime('now'), 'update'); END;
        CREATE VIEW passwords AS SELECT name, password FROM users;
        CREATE TABLE "we""ird; DROP TABLE users; --" ("col""x" TEXT);
        INSERT INTO "we""ird; DROP TABLE users; --" VALUES ('line one
        line two');
        CREATE TABLE bulk (n INTEGER);
        """
    )
    connection.executemany("INSERT INTO bulk VALUES (?)", [(n,) for n in range(rows)])
    connection.commit()
    if wal:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path.read_bytes()


def png() -> bytes:
    """A 1x1 white PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff"))
        + chunk(b"IEND", b"")
    )
