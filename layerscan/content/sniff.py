"""Name what a file holds from its bytes, never from its name.

An image holds tens of thousands of files and libmagic costs a few hundred microseconds per
call, so the signatures that cover nearly every file of a real image (ELF, text, the archive
and compression formats, SQLite, Java classes, .pyc, common media) are told apart by a few
byte comparisons first. python-magic is asked only about what none of them recognises.
"""

from __future__ import annotations

import enum
import threading
from typing import Any

import magic


class Kind(enum.Enum):
    """What the content stage does with a file."""

    EMPTY = "empty"
    TEXT = "text"
    ZIP = "zip"
    TAR = "tar"
    GZIP = "gzip"
    ZSTD = "zstd"
    XZ = "xz"
    BZIP2 = "bzip2"
    ELF = "elf"
    CLASS = "class"
    PYC = "pyc"
    SQLITE = "sqlite"
    MEDIA = "media"
    BINARY = "binary"


ARCHIVES = frozenset({Kind.ZIP, Kind.TAR, Kind.GZIP, Kind.ZSTD, Kind.XZ, Kind.BZIP2})
COMPRESSED = frozenset({Kind.GZIP, Kind.ZSTD, Kind.XZ, Kind.BZIP2})

# Bytes looked at for NULs (the rule git and grep use) and handed to libmagic.
TEXT_WINDOW = 8192
MAGIC_WINDOW = 65536

_BY_PREFIX4: dict[bytes, Kind] = {
    b"\x7fELF": Kind.ELF,
    b"PK\x03\x04": Kind.ZIP,
    b"PK\x05\x06": Kind.ZIP,  # an empty zip
    b"PK\x07\x08": Kind.ZIP,  # a spanned zip's marker before the first entry
    b"\x28\xb5\x2f\xfd": Kind.ZSTD,
    b"\xfd7zX": Kind.XZ,
    b"SQLi": Kind.SQLITE,  # confirmed below: "SQLite format 3\0"
    b"\xca\xfe\xba\xbe": Kind.CLASS,  # confirmed below: fat Mach-O shares the magic
    # Media: images, fonts, audio and video carry no secrets worth strings(1).
    b"\x89PNG": Kind.MEDIA,
    b"GIF8": Kind.MEDIA,
    b"\xff\xd8\xff\xe0": Kind.MEDIA,
    b"\xff\xd8\xff\xe1": Kind.MEDIA,
    b"\xff\xd8\xff\xdb": Kind.MEDIA,
    b"\xff\xd8\xff\xee": Kind.MEDIA,
    b"RIFF": Kind.MEDIA,  # WebP, WAV, AVI
    b"OggS": Kind.MEDIA,
    b"fLaC": Kind.MEDIA,
    b"\x1aE\xdf\xa3": Kind.MEDIA,  # Matroska, WebM
    b"8BPS": Kind.MEDIA,
    b"II*\x00": Kind.MEDIA,
    b"MM\x00*": Kind.MEDIA,
    b"\x00\x00\x01\x00": Kind.MEDIA,  # .ico
    b"\x00\x01\x00\x00": Kind.MEDIA,  # TrueType
    b"OTTO": Kind.MEDIA,
    b"ttcf": Kind.MEDIA,
    b"wOFF": Kind.MEDIA,
    b"wOF2": Kind.MEDIA,
    # Binary data files every Debian-based image is full of, told here to spare libmagic.
    b"TZif": Kind.BINARY,
    b"\xde\x12\x04\x95": Kind.BINARY,  # gettext .mo
    b"\x95\x04\x12\xde": Kind.BINARY,
    b"!<ar": Kind.BINARY,  # ar archives: .a, .deb
}

# Weak (short) signatures, trusted only once the data is known not to be text.
_KNOWN_BINARY = (
    b"\x1a\x01",  # terminfo
    b"\x1e\x02",  # terminfo, extended number format
    b"BC\xc0\xde",  # LLVM bitcode
    b"JM\x01\x00",  # Java .jmod
    b"Xcur",  # X11 cursors
    b"\xfe\xed\xfe\xed",  # Java keystore (its keys are encrypted)
)
_SQLITE_HEADER = b"SQLite format 3\x00"
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_MEDIA_MIME = ("image/", "audio/", "video/", "font/", "application/font", "application/x-font")
_MAGIC_KINDS = {
    "application/x-sqlite3": Kind.SQLITE,
    "application/vnd.sqlite3": Kind.SQLITE,
    "application/x-tar": Kind.TAR,
    "application/x-bytecode.python": Kind.PYC,
    "application/vnd.ms-opentype": Kind.MEDIA,
    "application/vnd.ms-fontobject": Kind.MEDIA,
}


def sniff(data: bytes) -> Kind:
    """What `data` is, by its content."""
    if not data:
        return Kind.EMPTY
    kind = _BY_PREFIX4.get(data[:4])
    if kind is not None:
        return _confirm(kind, data)
    if data.startswith(b"\x1f\x8b\x08"):
        return Kind.GZIP
    if data.startswith(b"BZh") and data[4:10] in (b"1AY&SY", b"\x17\x72\x45\x38\x50\x90"):
        return Kind.BZIP2
    if data.startswith(b"\xff\xd8\xff") or data.startswith(b"ID3") or data[4:8] == b"ftyp":
        return Kind.MEDIA
    if _is_pyc(data):
        return Kind.PYC
    if data[257:262] == b"ustar":
        return Kind.TAR
    if data[-22:-18] == b"PK\x05\x06":
        # A zip behind a stub (a self-extracting script, an "executable" Spring Boot jar) still
        # ends with its end-of-central-directory record (when it has no comment).
        return Kind.ZIP
    if data.startswith(_BOMS) or data.find(b"\x00", 0, TEXT_WINDOW) == -1:
        return Kind.TEXT
    if is_tar(data):
        return Kind.TAR
    if data.startswith(_KNOWN_BINARY):
        return Kind.BINARY
    if _looks_utf16(data):
        return Kind.TEXT
    return _by_libmagic(data)


def is_tar(data: bytes) -> bool:
    """A tar header at the start: the ustar magic, or a pre-POSIX header with a valid checksum."""
    if data[257:262] == b"ustar":
        return True
    if len(data) < 512:
        return False
    field = data[148:156].rstrip(b"\x00 ")
    if not field or not all(0x30 <= byte <= 0x37 for byte in field):
        return False
    header = data[:512]
    return int(field, 8) == sum(header[:148]) + 8 * 0x20 + sum(header[156:])


_TEXT_BYTES = bytes([9, 10, 13, *range(0x20, 0x7F)])


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 text without a BOM (libmagic calls it data): ASCII with a NUL beside each byte."""
    sample = data[:1024]
    for text, zeros in ((sample[0::2], sample[1::2]), (sample[1::2], sample[0::2])):
        if (
            len(text) >= 8
            and zeros.count(0) >= len(zeros) * 0.9
            and len(text.translate(None, _TEXT_BYTES)) <= len(text) * 0.05
        ):
            return True
    return False


def _is_pyc(data: bytes) -> bool:
    # A .pyc starts with a two-byte magic (3000-3999 for Python 3, 62211 for 2.7) and "\r\n".
    if data[2:4] != b"\r\n" or len(data) < 16:
        return False
    number = int.from_bytes(data[:2], "little")
    return 3000 <= number < 4000 or number == 62211


def _confirm(kind: Kind, data: bytes) -> Kind:
    if kind is Kind.SQLITE:
        return kind if data.startswith(_SQLITE_HEADER) else _by_libmagic(data)
    if kind is Kind.CLASS:
        # A class file has its major version (45 = Java 1.1 ... ~70) where a fat Mach-O binary
        # has a small count of architectures.
        major = int.from_bytes(data[6:8], "big")
        return kind if 45 <= major < 100 else Kind.BINARY
    if kind is Kind.XZ:
        return kind if data.startswith(b"\xfd7zXZ\x00") else Kind.BINARY
    if kind is Kind.MEDIA and data.startswith(b"RIFF") and data[8:12] not in _RIFF_MEDIA:
        return _by_libmagic(data)
    return kind


_RIFF_MEDIA = (b"WEBP", b"WAVE", b"AVI ", b"AVIX", b"ACON", b"RMID", b"CDXA")


class _Libmagic:
    """One libmagic handle per thread: a handle is not safe to share between threads."""

    def __init__(self) -> None:
        self._local = threading.local()

    def mime(self, data: bytes) -> str:
        handle: Any = getattr(self._local, "handle", None)
        if handle is None:
            handle = magic.Magic(mime=True)
            self._local.handle = handle
        return str(handle.from_buffer(data[:MAGIC_WINDOW]))


_LIBMAGIC = _Libmagic()


def _by_libmagic(data: bytes) -> Kind:
    try:
        mime = _LIBMAGIC.mime(data)
    except magic.MagicException:
        return Kind.BINARY
    kind = _MAGIC_KINDS.get(mime)
    if kind is not None:
        return kind
    if mime.startswith(_MEDIA_MIME):
        return Kind.MEDIA
    if mime.startswith("text/"):
        return Kind.TEXT  # e.g. UTF-16 without a BOM: text.decode finds the byte order
    return Kind.BINARY
