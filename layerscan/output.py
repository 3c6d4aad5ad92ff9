"""Write a file the user named (a report, a baseline) without ever writing through a link.

The name may sit in a shared or attacker-writable directory (a CI workspace, /tmp), where a
symbolic link or a FIFO planted at that name would redirect or block the write. So the file
is written to a new temporary file beside it (created exclusively, never through a link) and
renamed over the name, which replaces a link rather than following it; a name that already is
a link, a FIFO, a device, a socket or a directory is refused. Links in the directories above
the name are the user's own choice and are followed. The one device allowed is the null device
(`-o /dev/null`): what is written there is discarded, as the user asked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from .errors import OutputError

# What a name that is not a regular file is, for the message that refuses it.
SPECIAL_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def _is_null_device(info: os.stat_result) -> bool:
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == null.st_rdev


def refuse_special(path: Path) -> None:
    """Raise OutputError if `path` exists and is anything but a regular file (or the null
    device)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if _is_null_device(info):
        return
    kind = SPECIAL_KINDS.get(stat.S_IFMT(info.st_mode))
    if kind is not None:
        raise OutputError(f"refusing to write {path}: it is {kind}; remove it or choose another")


def write_output(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` atomically, never through a link or into a special file."""
    refuse_special(path)
    try:
        if _is_null_device(os.lstat(path)):
            return  # never renamed over: /dev/null must stay the null device
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # what open() would have created
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def refuse_existing(path: Path, force: bool) -> None:
    """An existing file is replaced only when the user said so (`--force`); a link, FIFO,
    device or directory never is."""
    refuse_special(path)
    if not force and os.path.lexists(path):
        raise OutputError(f"{path} already exists; pass --force to replace it")


def _space_message(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"cannot write {path}: the disk is full; nothing was written"
    return f"cannot write {path}: {exc.strerror or exc}; nothing was written"


class PendingFile(NamedTuple):
    """The file being written, and its temporary name (to read it back before it is kept)."""

    handle: BinaryIO
    path: Path


@contextlib.contextmanager
def atomic_file(path: Path, *, force: bool = False) -> Iterator[PendingFile]:
    """A new file that appears at `path` only whole: written beside it under a temporary
    name (created exclusively, never through a link), fsynced, then renamed over `path`.

    An error inside the block (a layer that fails its digest, a full disk, Ctrl-C) removes the
    temporary file: nothing half-written is ever left at `path` or beside it.
    """
    refuse_existing(path, force)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=directory)
    except OSError as exc:
        raise OutputError(_space_message(path, exc)) from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w+b") as handle:
            yield PendingFile(handle, Path(temporary))
            handle.flush()
            os.fsync(handle.fileno())
        refuse_existing(path, force)  # nothing planted there while it was written
        os.replace(temporary, path)
    except OSError as exc:  # the block reports its sources' failures as our errors, not these
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise OutputError(_space_message(path, exc)) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (a crash after it must not lose the file)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
