"""One directory tree inside an output directory, written only through directory descriptors.

Every component is entered with O_NOFOLLOW from the descriptor of its parent and every file
is created with O_EXCL | O_NOFOLLOW, so no symbolic link — planted by the image (with
`--symlinks`) or by anyone else in the output directory — is ever followed, and no path string
long enough to pass PATH_MAX is ever built. A name that already holds something the write
cannot replace (a directory where a file goes, a file where a directory goes) is a `Conflict`,
recorded by the caller, never resolved by writing somewhere else.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from ..errors import OutputError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_DIRS = 256
"""Directory descriptors kept open (most recently used): extraction writes a layer's files
in tar order, which is mostly directory by directory."""


class Conflict(OutputError):
    """The name is taken by something this write may not replace; `reason` says what. The
    extraction records it against the entry and goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _as_output_error(exc: OSError, what: str) -> OutputError:
    if exc.errno == errno.ENOSPC:
        return OutputError(f"the disk is full while writing {what}")
    return OutputError(f"cannot write {what}: {exc.strerror or exc}")


def open_directory_at(parent_fd: int, name: str, shown: str) -> int:
    """Create (if needed) and enter `name` below parent_fd, refusing anything but a directory."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise OutputError(f"{shown} is not a directory layerscan made; refusing it") from exc
        raise _as_output_error(exc, shown) from exc


class DirTree:
    """A tree rooted at `name` below parent_fd; paths are lists of host-safe components."""

    def __init__(self, parent_fd: int, name: str, shown: str) -> None:
        self.shown = shown
        self.root_fd = open_directory_at(parent_fd, name, shown)
        self._open: OrderedDict[tuple[str, ...], int] = OrderedDict()
        self._made: set[tuple[str, ...]] = set()
        """Directories entered before: re-entered without a mkdir first."""
        self._written: set[tuple[str, ...]] = set()
        """Files and links this run created in the tree."""

    # -- directories -------------------------------------------------------------------------

    def directory(self, parts: Sequence[str]) -> int:
        """The descriptor of the directory at `parts`, created as needed. It stays valid
        until the next call (it is cached, not the caller's to close)."""
        key = tuple(parts)
        if not key:
            return self.root_fd
        cached = self._open.get(key)
        if cached is not None:
            self._open.move_to_end(key)
            return cached
        depth = len(key) - 1
        while depth > 0 and key[:depth] not in self._open:
            depth -= 1
        current = self._open[key[:depth]] if depth else self.root_fd
        for index in range(depth, len(key)):  # a loop, not recursion: trees can be 1,000s deep
            current = self._enter(current, key[index], key[: index + 1])
            self._remember(key[: index + 1], current)
        return current

    def _enter(self, parent: int, name: str, key: tuple[str, ...]) -> int:
        """Open the directory `name` below parent, creating it first unless this tree made
        it already (one mkdir and one open for a new directory, one open to re-enter)."""
        if key not in self._made:
            try:
                os.mkdir(name, 0o700, dir_fd=parent)
            except FileExistsError:
                pass  # there before this run (the tree's root), or a link or a file: see below
            except OSError as exc:
                raise _as_output_error(exc, self._show(key)) from exc
        try:
            fd = self._open_dir(parent, name, key)
        except FileNotFoundError as exc:
            raise _as_output_error(exc, self._show(key)) from exc
        self._made.add(key)
        return fd

    def _open_dir(self, parent: int, name: str, key: tuple[str, ...]) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Conflict(f"{self._show(key)} is not a directory here") from exc
            raise _as_output_error(exc, self._show(key)) from exc

    def _remember(self, key: tuple[str, ...], fd: int) -> None:
        self._open[key] = fd
        while len(self._open) > _OPEN_DIRS:
            _, old = self._open.popitem(last=False)
            os.close(old)

    def _show(self, key: Sequence[str]) -> str:
        return self.shown + "/" + "/".join(key)

    # -- files and links ---------------------------------------------------------------------

    def _clear(self, parent: int, name: str, key: Sequence[str]) -> None:
        """Make room for a new file: an earlier file or link of the same name goes (tar's last
        one wins); a directory stays, and the new entry is a Conflict. The tree is this run's
        own (its directory was empty), so only names it wrote itself are looked at."""
        entry = tuple(key)
        if entry in self._made:
            raise Conflict(f"{self._show(key)} is a directory here")
        if entry not in self._written:
            return
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            raise Conflict(f"{self._show(key)} is a directory here")
        os.unlink(name, dir_fd=parent)

    def _create(self, parent: int, name: str, key: Sequence[str], mode: int) -> int:
        try:
            return os.open(name, _NEW_FILE, mode, dir_fd=parent)
        except FileExistsError as exc:  # not written by this run: never replaced
            raise Conflict(f"{self._show(key)} is taken by something else") from exc
        except OSError as exc:
            raise _as_output_error(exc, self._show(key)) from exc

    def write_file(
        self, parts: Sequence[str], chunks: Iterable[bytes], mode: int, mtime: float
    ) -> tuple[str, int]:
        """A new regular file from `chunks`: (sha256, size). Permission bits only (set-id and
        sticky dropped, owner may always read and write); a copy cut short by a write
        error is removed."""
        parent = self.directory(parts[:-1])
        name = parts[-1]
        self._clear(parent, name, parts)
        fd = self._create(parent, name, parts, (mode & 0o777) | 0o600)
        self._written.add(tuple(parts))
        digest = hashlib.sha256()
        size = 0
        try:
            try:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                os.utime(fd, ns=(_ns(mtime), _ns(mtime)))
            finally:
                os.close(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=parent)
            raise _as_output_error(exc, self._show(parts)) from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=parent)
            raise
        return digest.hexdigest(), size

    def link_from(self, source: DirTree, source_parts: Sequence[str], parts: Sequence[str]) -> None:
        """A hard link to a regular file this run wrote (in this tree or another of the same
        output directory): the same bytes at a second name, never a link to anything outside
        (linkat without AT_SYMLINK_FOLLOW: even a link in its place would not be followed)."""
        if tuple(source_parts) not in source._written:
            raise Conflict(f"{source._show(source_parts)} was not written by this run")
        source_parent = source.directory(source_parts[:-1])
        if source is self:  # entering the target's directories may evict the cached one
            source_parent = os.dup(source_parent)
        try:
            parent = self.directory(parts[:-1])
            self._clear(parent, parts[-1], parts)
            os.link(
                source_parts[-1],
                parts[-1],
                src_dir_fd=source_parent,
                dst_dir_fd=parent,
                follow_symlinks=False,
            )
            self._written.add(tuple(parts))
        except FileNotFoundError as exc:
            raise Conflict(f"{source._show(source_parts)} is gone") from exc
        except FileExistsError as exc:
            raise Conflict(f"{self._show(parts)} is taken by something else") from exc
        except OSError as exc:
            raise _as_output_error(exc, self._show(parts)) from exc
        finally:
            if source is self:
                os.close(source_parent)

    def symlink(self, parts: Sequence[str], target: str, mtime: float) -> None:
        """A symbolic link as the image has it (created, never followed by any write)."""
        parent = self.directory(parts[:-1])
        self._clear(parent, parts[-1], parts)
        try:
            os.symlink(target, parts[-1], dir_fd=parent)
            self._written.add(tuple(parts))
            os.utime(parts[-1], ns=(_ns(mtime), _ns(mtime)), dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            raise _as_output_error(exc, self._show(parts)) from exc

    def finish_directories(self, directories: Iterable[tuple[Sequence[str], int, float]]) -> None:
        """Give directories their image's permission bits (owner rwx kept, set-id and sticky
        dropped) and mtimes, deepest first, once nothing more is written below them."""
        for parts, mode, mtime in sorted(directories, key=lambda item: -len(item[0])):
            with contextlib.suppress(OSError, Conflict):
                fd = self.directory(parts) if parts else self.root_fd
                os.chmod(fd, (mode & 0o777) | 0o700)
                os.utime(fd, ns=(_ns(mtime), _ns(mtime)))

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1


def _ns(seconds: float) -> int:
    """An mtime as nanoseconds, clamped to what utimensat accepts (a header can say anything)."""
    try:
        value = int(seconds * 1_000_000_000)
    except (OverflowError, ValueError):
        return 0
    return max(-(1 << 62), min(value, 1 << 62))


def remove_tree(parent_fd: int, name: str) -> None:
    """rm -rf of one directory below parent_fd, iteratively and through descriptors (a tree
    thousands deep, links inside it never followed)."""
    stack: list[tuple[int, str, int | None]] = []
    try:
        top = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return
    stack.append((parent_fd, name, top))
    while stack:
        parent, entry, fd = stack[-1]
        assert fd is not None
        descended = False
        with os.scandir(fd) as entries:
            for item in entries:
                if item.is_dir(follow_symlinks=False):
                    child = os.open(item.name, _DIR_FLAGS, dir_fd=fd)
                    stack.append((fd, item.name, child))
                    descended = True
                    break
                os.unlink(item.name, dir_fd=fd)
        if descended:
            continue
        stack.pop()
        os.close(fd)
        os.rmdir(entry, dir_fd=parent)
