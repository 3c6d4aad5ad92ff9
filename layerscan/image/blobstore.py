"""Where a source's files live: a tar on disk, a tar spooled from a stream, or a directory.

Every lookup is by exact name inside the store; untrusted names from a manifest are never
joined onto a host path. Links inside an image tarball (skopeo writes `<id>/layer.tar` as a
symlink to `<digest>.tar`) are resolved within the tar's own namespace.
"""

from __future__ import annotations

import errno
import io
import lzma
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

import zstandard

from ..errors import ImageFormatError, TargetError
from ..streams.compression import open_uncompressed
from ..streams.deflate import ERRORS as DEFLATE_ERRORS
from ..streams.tarstream import Member, TarFormatError, TarStream
from .model import BlobLocation, Opener, is_digest

MAX_DOCUMENT_BYTES = 16 << 20
"""Manifests, indexes and configs are small; anything larger is refused, not parsed."""

_MAX_LINK_HOPS = 8


class BlobStore(Protocol):
    """The files of an image container, addressed by their exact names."""

    description: str

    def has(self, name: str) -> bool:
        """True if the store holds a regular file (links resolved) of that name."""

    def size(self, name: str) -> int:
        """Size in bytes of a named file the store holds."""

    def opener(self, name: str) -> Opener:
        """A function returning a fresh stream of the named file at each call."""

    def location(self, name: str) -> BlobLocation | None:
        """Where the named file's bytes sit in a file the user gave (None for a copy of our
        own, such as a spooled stream)."""

    def close(self) -> None:
        """Release what the store holds (spooled copies are deleted)."""


def read_document(store: BlobStore, name: str, what: str) -> bytes:
    """Read a small JSON document from a store, refusing oversized ones."""
    if not store.has(name):
        try:
            store.size(name)  # a store that knows why the file is not there says so here
        except ImageFormatError as exc:
            raise ImageFormatError(f"{exc} ({what})") from exc
        raise ImageFormatError(f"{store.description} has no {name} ({what})")
    size = store.size(name)
    if size > MAX_DOCUMENT_BYTES:
        raise ImageFormatError(
            f"{what} {name} in {store.description} is {size} bytes; "
            f"refusing documents over {MAX_DOCUMENT_BYTES} bytes"
        )
    with store.opener(name)() as stream:
        return stream.read(MAX_DOCUMENT_BYTES + 1)


def blob_name(digest: str) -> str:
    """The OCI layout name of a blob, only for a validated digest."""
    if not is_digest(digest):
        raise ImageFormatError(f"{digest!r} is not a valid content digest")
    algorithm, hexdigest = digest.split(":", 1)
    return f"blobs/{algorithm}/{hexdigest}"


def normalise_member_name(name: str) -> str | None:
    """The canonical name of a tar member, or None when it climbs out of the archive."""
    cleaned = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    if cleaned in ("", "."):
        return None
    if any(part == ".." for part in name.replace("\\", "/").split("/")):
        return None
    return cleaned


class _RangeReader(io.RawIOBase):
    """A byte range of a host file, read with its own file handle."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._position = offset
        self._end = offset + size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._end - self._position)
        if wanted <= 0:
            return 0
        read = os.preadv(self._fd, [memoryview(buffer)[:wanted]], self._position)
        self._position += read
        return read

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


@dataclass(frozen=True)
class _Member:
    kind: str  # "file" | "symlink" | "hardlink"
    size: int
    path: str = ""  # host file holding the bytes
    offset: int = 0
    link: str = ""


MAX_MEMBERS = 20_000
"""Members an image tarball may hold: `docker save` writes one to four per layer (a real
image has at most a few hundred layers); past this it is not an image, and reading on would
only grow the index."""
MAX_NAME = 4096
"""A member name or link target longer than this names nothing an image holds: ignored."""
_DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    *DEFLATE_ERRORS,
    EOFError,
    lzma.LZMAError,
    zstandard.ZstdError,
)
SPOOL_FREE_RESERVE = 256 << 20
"""Spooling stops while this much space is still free where it writes (the system needs it
more than the scan does)."""


class _IndexedStore:
    """Shared lookup for tar-backed stores: exact names, links resolved inside the tar."""

    description = ""

    def __init__(self) -> None:
        self._members: dict[str, _Member] = {}
        self._count = 0

    def _add(self, info: Member, path: str, offset: int) -> None:
        self._count += 1
        if self._count > MAX_MEMBERS:
            raise TargetError(
                f"{self.description} holds more than {MAX_MEMBERS} members: not an image "
                "tarball (refused before indexing it all)"
            )
        if len(info.name) > MAX_NAME or len(info.linkname) > MAX_NAME:
            return
        name = normalise_member_name(info.name)
        if name is None:
            return
        if info.type == tarfile.SYMTYPE:
            self._members[name] = _Member("symlink", 0, link=info.linkname)
        elif info.type == tarfile.LNKTYPE:
            self._members[name] = _Member("hardlink", 0, link=info.linkname)
        elif info.isreg() and not info.sparse:
            self._members[name] = _Member("file", info.size, path=path, offset=offset)

    def _resolve(self, name: str) -> _Member | None:
        current = normalise_member_name(name)
        for _ in range(_MAX_LINK_HOPS):
            if current is None:
                return None
            member = self._members.get(current)
            if member is None or member.kind == "file":
                return member
            if member.kind == "symlink":
                base = posixpath.dirname(current)
                joined = member.link if member.link.startswith("/") else f"{base}/{member.link}"
                current = _inside_archive(joined)
            else:
                current = normalise_member_name(member.link)
        return None

    def has(self, name: str) -> bool:
        return self._resolve(name) is not None

    def size(self, name: str) -> int:
        member = self._resolve(name)
        if member is None:
            raise ImageFormatError(f"{self.description} has no member {name!r}")
        return member.size

    def opener(self, name: str) -> Opener:
        member = self._resolve(name)
        if member is None:
            raise ImageFormatError(f"{self.description} has no member {name!r}")

        def open_member() -> BinaryIO:
            reader = _RangeReader(member.path, member.offset, member.size)
            return cast(BinaryIO, io.BufferedReader(reader, 1 << 20))

        return open_member

    def location(self, name: str) -> BlobLocation | None:
        member = self._resolve(name)
        if member is None or not member.path:
            return None
        return BlobLocation(os.path.abspath(member.path), member.offset, member.size)

    def close(self) -> None:
        """Nothing to release for a tar read in place."""


def _inside_archive(path: str) -> str | None:
    """Resolve a symlink target against the archive root; None if it climbs out."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or None


class TarStore(_IndexedStore):
    """An uncompressed tar on disk, read in place: one pass over its headers (member data is
    skipped with seek), no copies. Read with the same bounded reader as layers (tarstream.py):
    extension headers are bounded in size and number, nothing recurses."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.description = path
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as handle:
                for info in TarStream(handle, seekable=True):
                    if info.data_offset + info.data_size > size:
                        break  # cut short: what it names is missing, and said so when read
                    self._add(info, path, info.data_offset)
        except TarFormatError as exc:
            if not self._members:
                raise TargetError(f"{path} is not a readable tar archive ({exc})") from exc
            # Members before the damage are kept: a layer after it is reported missing.
        except OSError as exc:
            raise TargetError(f"cannot read {path}: {exc.strerror or exc}") from exc


class SpoolStore(_IndexedStore):
    """A tar that arrives as a stream (stdin, the engine, a compressed file), spilled once.

    Blobs come before the manifest in every `docker save` layout, so nothing can be scanned
    until the stream ends; each member is written to a private temporary directory under a
    name of our own, and the directory is removed on close. The stream is decompressed by its
    magic bytes and read with the bounded tar reader; spooling stops at `max_bytes` of member
    data and before the disk it writes to is full.
    """

    def __init__(self, stream: BinaryIO, description: str, max_bytes: int | None = None) -> None:
        super().__init__()
        self.description = description
        self._directory = tempfile.mkdtemp(prefix="layerscan-spool-")
        try:
            self._spool(stream, max_bytes)
        except BaseException:
            self.close()
            raise

    def _spool(self, stream: BinaryIO, max_bytes: int | None) -> None:
        total = 0
        try:
            plain, _ = open_uncompressed(stream)
            archive = TarStream(plain)
            for number, info in enumerate(archive):
                if not info.isreg() or info.sparse:
                    self._add(info, "", 0)
                    continue
                total += info.size
                if max_bytes is not None and total > max_bytes:
                    raise TargetError(
                        f"{self.description} is larger than the spool limit of {max_bytes} "
                        "bytes (--max-image-bytes); refused before spooling more"
                    )
                self._check_space(info.size)
                path = os.path.join(self._directory, f"member-{number}")
                with open(path, "xb") as target:
                    for chunk in archive.chunks():
                        target.write(chunk)
                self._add(info, path, 0)
        except TarFormatError as exc:
            raise TargetError(f"{self.description} is not a readable tar stream ({exc})") from exc
        except _DECOMPRESSION_ERRORS as exc:
            raise TargetError(f"{self.description} cannot be decompressed ({exc})") from exc
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise TargetError(
                    f"no space left in {self._directory} while spooling {self.description}; "
                    "free some or point TMPDIR elsewhere"
                ) from exc
            raise TargetError(f"{self.description} is not a readable tar stream ({exc})") from exc

    def _check_space(self, size: int) -> None:
        """Refuse a member the spool's disk cannot take with room to spare."""
        space = os.statvfs(self._directory)
        free = space.f_bavail * space.f_frsize
        if size + SPOOL_FREE_RESERVE > free:
            raise TargetError(
                f"spooling {self.description} needs {size} more bytes in {self._directory}, "
                f"which has {free} free (keeping {SPOOL_FREE_RESERVE} in reserve); free some "
                "space or point TMPDIR elsewhere"
            )

    def location(self, name: str) -> BlobLocation | None:
        return None  # our own spooled copy, new at every run

    def close(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)


_LAYOUT_NAME = re.compile(
    r"^(index\.json|oci-layout|blobs/sha256/[0-9a-f]{64}|blobs/sha512/[0-9a-f]{128})$"
)


class DirStore:
    """An OCI image layout directory; only layout names and digest-named blobs are opened.

    Below the layout's own directory nothing is followed: `blobs/`, `blobs/sha256/` and each
    file are opened one component at a time with O_NOFOLLOW, so an `index.json` or a `blobs/`
    that is a symbolic link (to /etc, to another layout) is refused, not read through; a FIFO
    or device at a blob's name is refused without blocking on it.
    """

    def __init__(self, root: str) -> None:
        if not os.path.isdir(root):
            raise TargetError(f"{root} is not a directory")
        self.description = root
        self._root = root

    def _parts(self, name: str) -> list[str]:
        if not _LAYOUT_NAME.match(name):
            raise ImageFormatError(f"{name!r} is not a name an OCI layout may hold")
        return name.split("/")

    def _open(self, name: str) -> int:
        """A descriptor of the regular file `name`, reached without following any link."""
        parts = self._parts(name)
        directory = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        try:
            for part in parts[:-1]:
                following = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC, dir_fd=directory
                )
                os.close(directory)
                directory = following
            fd = os.open(
                parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=directory
            )
        except OSError as exc:
            raise ImageFormatError(
                f"{self.description} has no regular file {name} ({_why(exc)})"
            ) from exc
        finally:
            os.close(directory)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ImageFormatError(f"{name} in {self.description} is not a regular file")
        os.set_blocking(fd, True)
        return fd

    def has(self, name: str) -> bool:
        try:
            os.close(self._open(name))
        except ImageFormatError:
            return False
        return True

    def size(self, name: str) -> int:
        fd = self._open(name)
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def opener(self, name: str) -> Opener:
        self._parts(name)

        def open_blob() -> BinaryIO:
            return os.fdopen(self._open(name), "rb", buffering=1 << 20)

        return open_blob

    def location(self, name: str) -> BlobLocation | None:
        try:
            size = self.size(name)
        except (ImageFormatError, OSError):
            return None
        return BlobLocation(os.path.abspath(os.path.join(self._root, *name.split("/"))), 0, size)

    def close(self) -> None:
        """Nothing to release for a directory read in place."""


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link there is not followed"
    if exc.errno == errno.ENOTDIR:
        return "a directory on the way is a link, which is not followed, or not a directory"
    return exc.strerror or str(exc)
