"""Where a source's files live: a tar on disk, a tar spooled from a stream, or a directory.

Every lookup is by exact name inside the store; untrusted names from a manifest are never
joined onto a host path. Links inside an image tarball (skopeo writes `<id>/layer.tar` as a
symlink to `<digest>.tar`) are resolved within the tar's own namespace.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

from ..errors import ImageFormatError, TargetError
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


class _IndexedStore:
    """Shared lookup for tar-backed stores: exact names, links resolved inside the tar."""

    description = ""

    def __init__(self) -> None:
        self._members: dict[str, _Member] = {}

    def _add(self, info: tarfile.TarInfo, path: str, offset: int) -> None:
        name = normalise_member_name(info.name)
        if name is None:
            return
        if info.issym():
            self._members[name] = _Member("symlink", 0, link=info.linkname)
        elif info.islnk():
            self._members[name] = _Member("hardlink", 0, link=info.linkname)
        elif info.isreg() and not info.issparse():
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
    """An uncompressed tar on disk, read in place: one pass over its headers, no copies."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.description = path
        try:
            with tarfile.open(path, mode="r:") as archive:
                for info in archive:
                    self._add(info, path, info.offset_data)
        except (tarfile.TarError, EOFError) as exc:
            raise TargetError(f"{path} is not a readable tar archive ({exc})") from exc
        except OSError as exc:
            raise TargetError(f"cannot read {path}: {exc.strerror or exc}") from exc


class SpoolStore(_IndexedStore):
    """A tar that arrives as a stream (stdin, the engine, a compressed file), spilled once.

    Blobs come before the manifest in every `docker save` layout, so nothing can be scanned
    until the stream ends; each member is written to a private temporary directory under a
    name of our own, and the directory is removed on close.
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
            with tarfile.open(fileobj=stream, mode="r|*") as archive:
                for number, info in enumerate(archive):
                    if not info.isreg():
                        self._add(info, "", 0)
                        continue
                    total += info.size
                    if max_bytes is not None and total > max_bytes:
                        raise TargetError(
                            f"{self.description} is larger than the spool limit of "
                            f"{max_bytes} bytes"
                        )
                    path = os.path.join(self._directory, f"member-{number}")
                    source = archive.extractfile(info)
                    if source is None:
                        continue
                    with source, open(path, "xb") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
                    self._add(info, path, 0)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise TargetError(f"{self.description} is not a readable tar stream ({exc})") from exc

    def location(self, name: str) -> BlobLocation | None:
        return None  # our own spooled copy, new at every run

    def close(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)


_LAYOUT_NAME = re.compile(
    r"^(index\.json|oci-layout|blobs/sha256/[0-9a-f]{64}|blobs/sha512/[0-9a-f]{128})$"
)


class DirStore:
    """An OCI image layout directory; only layout names and digest-named blobs are opened."""

    def __init__(self, root: str) -> None:
        if not os.path.isdir(root):
            raise TargetError(f"{root} is not a directory")
        self.description = root
        self._root = root

    def _path(self, name: str) -> str:
        if not _LAYOUT_NAME.match(name):
            raise ImageFormatError(f"{name!r} is not a name an OCI layout may hold")
        return os.path.join(self._root, *name.split("/"))

    def has(self, name: str) -> bool:
        try:
            return os.path.isfile(self._path(name))
        except ImageFormatError:
            return False

    def size(self, name: str) -> int:
        return os.stat(self._path(name)).st_size

    def opener(self, name: str) -> Opener:
        path = self._path(name)

        def open_blob() -> BinaryIO:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
            return os.fdopen(fd, "rb", buffering=1 << 20)

        return open_blob

    def location(self, name: str) -> BlobLocation | None:
        try:
            return BlobLocation(os.path.abspath(self._path(name)), 0, self.size(name))
        except (ImageFormatError, OSError):
            return None

    def close(self) -> None:
        """Nothing to release for a directory read in place."""
