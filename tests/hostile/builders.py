"""Bytes of hostile images, written by hand so that every name, size, link and digest is ours.

tarfile, gzip, zstandard, zipfile and sqlite3 are used as encoders only; wherever they would
refuse or tidy up what an attacker can write (raw non-UTF-8 names, sizes that are holes, zip
entries that overlap, a gzip stream of 10 GiB) the headers are assembled here instead. Nothing
in this module runs layerscan.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import sqlite3
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import zstandard

from fixtures.credentials import checksummed_token

BLOCK = 512
MIB = 1 << 20
GIB = 1 << 30
TAR_LAYER = "application/vnd.oci.image.layer.v1.tar"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"


def token(label: str) -> str:
    """A fabricated GitHub-format token (valid CRC32), the same for the same label every run."""
    seed = int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big")
    return checksummed_token("ghp_", random.Random(seed))


def secret_file(label: str) -> bytes:
    """File content holding one planted token, shaped the way a leaked env file is."""
    return f"export GITHUB_TOKEN={token(label)}\n".encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    return "sha256:" + sha256_hex(data)


# --- tar entries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TarEntry:
    """One tar member exactly as written: raw name bytes allowed, any type, any claimed size."""

    name: str | bytes
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    link: str | bytes = ""
    mode: int = 0o644
    devmajor: int = 0
    devminor: int = 0
    claimed_size: int | None = None
    """The size the header states when the bytes written are fewer (the rest is a hole)."""


def regular(name: str | bytes, data: bytes = b"", mode: int = 0o644) -> TarEntry:
    return TarEntry(name, data, mode=mode)


def directory(name: str | bytes) -> TarEntry:
    return TarEntry(name, kind=tarfile.DIRTYPE, mode=0o755)


def symlink(name: str | bytes, target: str | bytes) -> TarEntry:
    return TarEntry(name, kind=tarfile.SYMTYPE, link=target, mode=0o777)


def hardlink(name: str | bytes, target: str | bytes) -> TarEntry:
    return TarEntry(name, kind=tarfile.LNKTYPE, link=target)


def char_device(name: str, major: int, minor: int) -> TarEntry:
    return TarEntry(name, kind=tarfile.CHRTYPE, mode=0o666, devmajor=major, devminor=minor)


def block_device(name: str, major: int, minor: int) -> TarEntry:
    return TarEntry(name, kind=tarfile.BLKTYPE, mode=0o660, devmajor=major, devminor=minor)


def fifo(name: str) -> TarEntry:
    return TarEntry(name, kind=tarfile.FIFOTYPE, mode=0o644)


def _text(value: str | bytes) -> str:
    """Raw bytes survive tarfile's encoder through surrogateescape, byte for byte."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _padding(size: int) -> int:
    return -size % BLOCK


def tar_header(entry: TarEntry) -> bytes:
    """The header block(s) of an entry (GNU long-name records included), never its data."""
    info = tarfile.TarInfo(_text(entry.name))
    info.type = entry.kind
    info.mode = entry.mode
    info.mtime = 1
    info.linkname = _text(entry.link)
    info.devmajor, info.devminor = entry.devmajor, entry.devminor
    carries_data = entry.kind in (tarfile.REGTYPE, tarfile.AREGTYPE)
    info.size = (
        entry.claimed_size if entry.claimed_size is not None else len(entry.data)
    ) * carries_data
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def tar_bytes(entries: Iterable[TarEntry | bytes], end: bool = True) -> bytes:
    """An uncompressed tar in memory; a `bytes` item is copied in raw (hand-made headers)."""
    out = io.BytesIO()
    for entry in entries:
        if isinstance(entry, bytes):
            out.write(entry)
            continue
        out.write(tar_header(entry))
        out.write(entry.data)
        out.write(bytes(_padding(len(entry.data))))
    if end:
        out.write(bytes(2 * BLOCK))
    return out.getvalue()


def write_tar(path: Path, entries: Iterable[TarEntry]) -> Path:
    """A tar on disk; an entry with a claimed size larger than its data is left a sparse hole."""
    with path.open("wb") as out:
        for entry in entries:
            out.write(tar_header(entry))
            out.write(entry.data)
            size = len(entry.data)
            if entry.claimed_size is not None and entry.claimed_size > size:
                out.seek(entry.claimed_size - size, os.SEEK_CUR)
                size = entry.claimed_size
            out.seek(_padding(size), os.SEEK_CUR)
        out.write(bytes(2 * BLOCK))
    return path


def _checksummed(header: bytearray) -> bytes:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def pax_sparse_member(name: str, real_size: int, data_offset: int, data: bytes) -> bytes:
    """A GNU sparse 1.0 member (what `tar --sparse --format=posix` writes): a hole, then data.

    The header claims `real_size` bytes; the archive holds only a sparse map and `data`.
    """
    sparse_map = f"1\n{data_offset}\n{len(data)}\n".encode()
    body = sparse_map + bytes(_padding(len(sparse_map))) + data
    info = tarfile.TarInfo(f"GNUSparseFile.0/{name}")
    info.size = len(body)
    info.mtime = 1
    info.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": name,
        "GNU.sparse.realsize": str(real_size),
    }
    header = info.tobuf(tarfile.PAX_FORMAT)
    return header + body + bytes(_padding(len(body)))


def gnu_old_sparse_member(name: str, real_size: int, data_offset: int, data: bytes) -> bytes:
    """An old-GNU sparse member (type 'S'): one map entry in the header, realsize in base-256."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[386:398] = _number_field(data_offset)
    header[398:410] = _number_field(len(data))
    header[482] = 0  # no extension blocks
    header[483:495] = _number_field(real_size)
    return _checksummed(header) + data + bytes(_padding(len(data)))


def _number_field(value: int) -> bytes:
    """A 12-byte numeric header field: octal while it fits, GNU base-256 beyond 8 GiB."""
    return b"%011o\0" % value if value < 8**11 else b"\x80" + value.to_bytes(11, "big")


# --- layers and image layouts --------------------------------------------------------------


@dataclass(frozen=True)
class StoredLayer:
    """A layer as the image stores it, and the diff_id its config claims."""

    stored: bytes
    diff_id: str
    media_type: str = TAR_LAYER


def plain_layer(entries: Sequence[TarEntry | bytes]) -> StoredLayer:
    data = tar_bytes(entries)
    return StoredLayer(data, digest(data))


def gzip_layer(entries: Sequence[TarEntry | bytes]) -> StoredLayer:
    data = tar_bytes(entries)
    return StoredLayer(gzip.compress(data, mtime=0), digest(data), GZIP_LAYER)


def zstd_layer(entries: Sequence[TarEntry | bytes]) -> StoredLayer:
    data = tar_bytes(entries)
    return StoredLayer(zstandard.ZstdCompressor().compress(data), digest(data), ZSTD_LAYER)


def history_entries(count: int) -> list[dict[str, object]]:
    """One COPY step per layer, the shape the classic builder writes."""
    return [
        {"created_by": f"/bin/sh -c #(nop) COPY file:hostile{index} in / "}
        for index in range(count)
    ]


def image_config(
    diff_ids: Sequence[str], history: Sequence[dict[str, object]] | None = None
) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": list(history if history is not None else history_entries(len(diff_ids))),
    }
    return json.dumps(config).encode()


def default_layer_name(index: int) -> str:
    return f"{sha256_hex(f'layer {index}'.encode())}/layer.tar"


def docker_save(
    layers: Sequence[StoredLayer],
    *,
    manifest_layers: Sequence[str] | None = None,
    diff_ids: Sequence[str] | None = None,
    history: Sequence[dict[str, object]] | None = None,
    config_bytes: bytes | None = None,
    repo_tag: str = "hostile:1",
) -> list[TarEntry]:
    """The members of a legacy `docker save` tarball; each override is what the attacker wrote."""
    config = config_bytes or image_config(
        diff_ids if diff_ids is not None else [layer.diff_id for layer in layers], history
    )
    config_name = f"{sha256_hex(config)}.json"
    names = [default_layer_name(index) for index in range(len(layers))]
    manifest = [
        {
            "Config": config_name,
            "RepoTags": [repo_tag],
            "Layers": list(manifest_layers if manifest_layers is not None else names),
        }
    ]
    members = [regular(config_name, config)]
    for name, layer in zip(names, layers, strict=True):
        members += [directory(name.split("/")[0] + "/"), regular(name, layer.stored)]
    members.append(regular("manifest.json", json.dumps(manifest).encode()))
    return members


def oci_layout(
    layers: Sequence[StoredLayer],
    *,
    claimed_digests: Sequence[str | None] | None = None,
    config_bytes: bytes | None = None,
    manifest_digest: str | None = None,
    ref: str = "hostile:1",
) -> dict[str, bytes]:
    """The files of an OCI image layout; a claimed digest names a blob that hashes otherwise."""
    config = config_bytes or image_config([layer.diff_id for layer in layers])
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}
    claimed = list(claimed_digests or [None] * len(layers))
    descriptors = []
    for layer, claim in zip(layers, claimed, strict=True):
        name = claim or digest(layer.stored)
        descriptors.append(
            {"mediaType": layer.media_type, "digest": name, "size": len(layer.stored)}
        )
        if name.startswith("sha256:") and len(name) == 71:
            files[f"blobs/sha256/{name[7:]}"] = layer.stored
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config),
            "size": len(config),
        },
        "layers": descriptors,
    }
    manifest_bytes = json.dumps(manifest).encode()
    files[f"blobs/sha256/{sha256_hex(config)}"] = config
    files[f"blobs/sha256/{sha256_hex(manifest_bytes)}"] = manifest_bytes
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": manifest_digest or digest(manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": ref},
            }
        ],
    }
    files["index.json"] = json.dumps(index).encode()
    return files


def as_tar_entries(files: dict[str, bytes]) -> list[TarEntry]:
    return [regular(name, data) for name, data in files.items()]


def write_layout_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# --- decompression bombs -------------------------------------------------------------------

_CRC_POLY = 0xEDB88320


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[row]) for row in range(32)]


def _crc32_shift(crc: int, length: int) -> int:
    """zlib's crc32_combine without the final xor: `crc` advanced over `length` zero bytes."""
    if length <= 0:
        return crc
    odd = [_CRC_POLY] + [1 << row for row in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if length & 1:
            crc = _gf2_times(even, crc)
        length >>= 1
        if not length:
            return crc
        odd = _gf2_square(even)
        if length & 1:
            crc = _gf2_times(odd, crc)
        length >>= 1
        if not length:
            return crc


def crc32_combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """The CRC32 of A+B from the CRC32s of A and B: a bomb's trailer without inflating it."""
    return _crc32_shift(crc_a, length_b) ^ crc_b


def crc32_of_zeros(length: int) -> int:
    crc, block_crc, block_length = 0, zlib.crc32(b"\0"), 1
    while length:
        if length & 1:
            crc = crc32_combine(crc, block_crc, block_length)
        block_crc = crc32_combine(block_crc, block_crc, block_length)
        block_length *= 2
        length >>= 1
    return crc


def _flushed_deflate(data: bytes) -> bytes:
    """Raw deflate blocks for `data`, byte-aligned and independent of what comes before."""
    encoder = zlib.compressobj(9, zlib.DEFLATED, -15)
    return encoder.compress(data) + encoder.flush(zlib.Z_FULL_FLUSH)


FINAL_EMPTY_BLOCK = b"\x03\x00"


def deflate_zeros(length: int) -> bytes:
    """Non-final raw deflate blocks that inflate to `length` zero bytes, built from one MiB."""
    whole, rest = divmod(length, MIB)
    return _flushed_deflate(bytes(MIB)) * whole + (_flushed_deflate(bytes(rest)) if rest else b"")


def gzip_bomb_layer(zero_bytes: int) -> StoredLayer:
    """A gzip layer holding one member of `zero_bytes` zeros: about 1000:1, never inflated here.

    The config's diff_id cannot be computed without hashing every byte, so the layer claims
    a placeholder; it is the bound on inflating the layer that this case is about.
    """
    header = tar_header(TarEntry("zeros.bin", claimed_size=zero_bytes))
    trailing_zeros = zero_bytes + _padding(zero_bytes) + 2 * BLOCK
    crc = crc32_combine(zlib.crc32(header), crc32_of_zeros(trailing_zeros), trailing_zeros)
    total = len(header) + trailing_zeros
    stream = (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        + _flushed_deflate(header)
        + deflate_zeros(trailing_zeros)
        + FINAL_EMPTY_BLOCK
        + struct.pack("<II", crc, total & 0xFFFFFFFF)
    )
    return StoredLayer(stream, digest(b"uncomputed diff_id of a %d byte bomb" % total), GZIP_LAYER)


def many_entries_layer(count: int) -> StoredLayer:
    """A zstd layer of `count` empty files: headers built from one template, streamed."""
    template = bytearray(tar_header(TarEntry("f/0000000")))
    template[148:156] = b" " * 8
    base = sum(template) - sum(b"0000000")
    head, middle, tail = bytes(template[:2]), bytes(template[9:148]), bytes(template[156:])
    hasher = hashlib.sha256()
    compressed = io.BytesIO()
    writer = zstandard.ZstdCompressor(level=1).stream_writer(compressed, closefd=False)
    batch: list[bytes] = []
    for number in range(count):
        digits = b"%07d" % number
        batch.append(head + digits + middle + b"%06o\0 " % (base + sum(digits)) + tail)
        if len(batch) == 8192:
            chunk = b"".join(batch)
            hasher.update(chunk)
            writer.write(chunk)
            batch.clear()
    chunk = b"".join(batch) + bytes(2 * BLOCK)
    hasher.update(chunk)
    writer.write(chunk)
    writer.close()
    return StoredLayer(compressed.getvalue(), "sha256:" + hasher.hexdigest(), ZSTD_LAYER)


# --- zip archives ---------------------------------------------------------------------------


def _zip_local(name: bytes, method: int, crc: int, compressed: int, size: int) -> bytes:
    return (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, compressed, size, len(name), 0
        )
        + name
    )


def _zip_central(
    name: bytes, method: int, crc: int, compressed: int, size: int, offset: int
) -> bytes:
    return (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            method,
            0,
            0x21,
            crc,
            compressed,
            size,
            len(name),
            0,
            0,
            0,
            0,
            0o644 << 16,
            offset,
        )
        + name
    )


def _zip_end(count: int, directory_size: int, directory_offset: int) -> bytes:
    return struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, count, count, directory_size, directory_offset, 0
    )


def zip_bomb(zero_bytes: int) -> bytes:
    """One deflated member of `zero_bytes` zeros (a 1 GiB member is about 1 MB)."""
    name = b"zeros.bin"
    data = deflate_zeros(zero_bytes) + FINAL_EMPTY_BLOCK
    crc = crc32_of_zeros(zero_bytes)
    local = _zip_local(name, 8, crc, len(data), zero_bytes)
    central = _zip_central(name, 8, crc, len(data), zero_bytes, 0)
    return local + data + central + _zip_end(1, len(central), len(local) + len(data))


def overlapping_zip(files: int, kernel_zeros: int) -> bytes:
    """David Fifield's overlapping-entry zip bomb: every entry re-reads one shared kernel.

    Entry i's compressed data is a stored deflate block quoting entry i+1's local header,
    followed by entry i+1's data; the last entry's data is a deflate kernel of zeros. So every
    local header lies inside the previous entry's data and each entry inflates to the kernel.
    """
    kernel = deflate_zeros(kernel_zeros) + FINAL_EMPTY_BLOCK
    names = [b"%04d.bin" % number for number in range(files)]
    data, size, crc = kernel, kernel_zeros, crc32_of_zeros(kernel_zeros)
    headers: list[bytes] = [b""] * files
    records: list[tuple[int, int, int]] = [(0, 0, 0)] * files
    for number in range(files - 1, -1, -1):
        header = _zip_local(names[number], 8, crc, len(data), size)
        headers[number], records[number] = header, (crc, len(data), size)
        if number:
            quote = b"\x00" + struct.pack("<HH", len(header), len(header) ^ 0xFFFF) + header
            crc = crc32_combine(zlib.crc32(header), crc, size)
            data, size = quote + data, size + len(header)
    body = headers[0] + data
    offsets, position = [], 0
    for number in range(files):
        offsets.append(position)
        position += len(headers[number]) + 5
    central = b"".join(_zip_central(names[n], 8, *records[n], offsets[n]) for n in range(files))
    return body + central + _zip_end(files, len(central), len(body))


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tgz_of(members: dict[str, bytes]) -> bytes:
    return gzip.compress(
        tar_bytes([regular(name, data) for name, data in members.items()]), mtime=0
    )


def nested_archive(depth: int, name: str, payload: bytes) -> bytes:
    """`payload` wrapped `depth` times, alternating zip and tar.gz (the innermost is a zip)."""
    data, inner_name = payload, name
    for level in range(depth):
        if level % 2 == 0:
            data, inner_name = zip_of({inner_name: data}), f"level{level}.zip"
        else:
            data, inner_name = tgz_of({inner_name: data}), f"level{level}.tar.gz"
    return data


# --- SQLite ---------------------------------------------------------------------------------


def _database(
    path: Path,
    statements: Sequence[str],
    rows: Sequence[tuple[str, str]],
    after_rows: Sequence[str] = (),
) -> None:
    """A database from a schema and rows; `after_rows` (triggers) must not fire while building."""
    connection = sqlite3.connect(path)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.executemany("INSERT INTO tokens (name, value) VALUES (?, ?)", rows)
        for statement in after_rows:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


HOSTILE_TABLE = "\x1b[31mred\nname"
HOSTILE_SCHEMA = (
    "CREATE TABLE tokens (name TEXT, value TEXT)",
    "CREATE TABLE audit (entry TEXT)",
    # A view that never ends: reading it would spin until killed.
    "CREATE VIEW forever AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
    "SELECT x FROM n",
    # A view asking for a 900 MB blob: reading it would exhaust memory.
    "CREATE VIEW huge AS SELECT zeroblob(900000000) AS blob",
    f'CREATE TABLE "{HOSTILE_TABLE}" (value TEXT)',
)
HOSTILE_TRIGGERS = (
    # Would write 100 MB if anything ever inserted through the reader's connection.
    "CREATE TRIGGER stamp AFTER INSERT ON tokens BEGIN "
    "INSERT INTO audit (entry) VALUES (randomblob(100000000)); END",
)


def sqlite_hostile_schema(work: Path, secret: str, table_secret: str) -> bytes:
    """A database whose views never end or exhaust memory, with a trigger and a hostile name.

    `table_secret` sits in the table whose name carries an escape sequence and a newline.
    """
    path = work / "hostile.db"
    fill = f"INSERT INTO \"{HOSTILE_TABLE}\" (value) VALUES ('GITHUB_TOKEN={table_secret}')"
    rows = [("deploy", f"GITHUB_TOKEN={secret}")]
    _database(path, HOSTILE_SCHEMA, rows, (fill, *HOSTILE_TRIGGERS))
    return path.read_bytes()


def sqlite_corrupt(work: Path, secret: str, seed: int = 7) -> bytes:
    """A database whose interior pages are overwritten with random bytes (header kept)."""
    path = work / "corrupt.db"
    rows = [(f"row{n}", f"value {n} " + "x" * 200) for n in range(400)]
    rows.append(("deploy", f"GITHUB_TOKEN={secret}"))
    _database(path, ("CREATE TABLE tokens (name TEXT, value TEXT)",), rows)
    data = bytearray(path.read_bytes())
    noise = random.Random(seed)
    for page_start in range(4096, len(data), 4096 * 3):
        data[page_start + 8 : page_start + 600] = noise.randbytes(592)
    return bytes(data)


def sqlite_with_wal(work: Path, committed: str, in_wal: str) -> tuple[bytes, bytes]:
    """A database and its `-wal` file, copied while the last write is still only in the WAL."""
    path = work / "wal.db"
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA wal_autocheckpoint=0")
        connection.execute("CREATE TABLE tokens (name TEXT, value TEXT)")
        connection.execute("INSERT INTO tokens VALUES ('a', ?)", (f"GITHUB_TOKEN={committed}",))
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("INSERT INTO tokens VALUES ('b', ?)", (f"GITHUB_TOKEN={in_wal}",))
        connection.commit()
        database = path.read_bytes()
        wal = Path(f"{path}-wal").read_bytes()
    finally:
        connection.close()
    return database, wal
