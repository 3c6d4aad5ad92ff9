"""Stream the entries of every layer, base to top, each exactly once.

A layer is read as a tar stream (no seeking, no extraction): each member is normalised,
whiteouts are recognised, and a regular file's bytes can be read while it is the current
member. A layer that breaks part-way is reported with what was read before the break, and
the walk goes on with the next layer.
"""

from __future__ import annotations

import lzma
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, TYPE_CHECKING

import zstandard

from .image import Image, Layer

if TYPE_CHECKING:
    from .timeline import Timeline, Version

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_AUFS_META_PREFIX = ".wh..wh."

READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
    ValueError,
)
"""What a damaged layer raises while it is streamed (gzip's BadGzipFile is an OSError)."""


class EntryKind(StrEnum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    WHITEOUT = "whiteout"
    OPAQUE = "opaque"
    CHAR_DEVICE = "char-device"
    BLOCK_DEVICE = "block-device"
    FIFO = "fifo"
    OTHER = "other"


_TAR_KINDS = {
    tarfile.REGTYPE: EntryKind.FILE,
    tarfile.AREGTYPE: EntryKind.FILE,
    tarfile.CONTTYPE: EntryKind.FILE,
    tarfile.DIRTYPE: EntryKind.DIRECTORY,
    tarfile.SYMTYPE: EntryKind.SYMLINK,
    tarfile.LNKTYPE: EntryKind.HARDLINK,
    tarfile.CHRTYPE: EntryKind.CHAR_DEVICE,
    tarfile.BLKTYPE: EntryKind.BLOCK_DEVICE,
    tarfile.FIFOTYPE: EntryKind.FIFO,
}


def normalise_path(name: str) -> str | None:
    """The image path of a tar member ('' for the root), or None when it must be rejected.

    `./`, leading `/` and `//` are layout noise and are dropped; a `..` component could only
    mean an escape from the image root, so such entries are rejected and reported.
    """
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            return None
        parts.append(part)
    return "/".join(parts)


@dataclass
class Entry:
    """One member of one layer, as the walk saw it."""

    layer_index: int
    path: str
    kind: EntryKind
    size: int = 0
    mode: int = 0
    mtime: float = 0.0
    uid: int = 0
    gid: int = 0
    link_target: str | None = None
    version: Version | None = None
    _reader: Callable[[int], bytes] | None = field(default=None, repr=False)

    @property
    def display_path(self) -> str:
        return "/" + self.path

    def read(self, limit: int) -> bytes:
        """Up to `limit` bytes of a regular file; only valid while it is the current entry."""
        if self._reader is None:
            return b""
        return self._reader(limit)


@dataclass
class LayerProblem:
    """Something in a layer that could not be read or was refused."""

    layer_index: int
    message: str
    path: str | None = None
    fatal: bool = False  # the rest of the layer could not be read


class _LayerState:
    def __init__(self) -> None:
        self.failure: BaseException | None = None


def _classify(info: tarfile.TarInfo, path: str) -> tuple[EntryKind, str]:
    """Kind of a member; whiteouts name the path they delete (or the dir they make opaque)."""
    base = posixpath.basename(path)
    parent = posixpath.dirname(path)
    if base == OPAQUE_MARKER:
        return EntryKind.OPAQUE, parent
    if base.startswith(_AUFS_META_PREFIX):
        return EntryKind.OTHER, path
    if base.startswith(WHITEOUT_PREFIX):
        return EntryKind.WHITEOUT, posixpath.join(parent, base[len(WHITEOUT_PREFIX) :])
    return _TAR_KINDS.get(info.type, EntryKind.OTHER), path


def iter_layer(layer: Layer, problems: list[LayerProblem]) -> Iterator[Entry]:
    """Every member of one layer, in tar order; damage is appended to `problems`."""
    state = _LayerState()
    try:
        stream = layer.open()
    except READ_ERRORS as exc:
        problems.append(
            LayerProblem(layer.index, f"cannot open the layer: {_describe(exc)}", fatal=True)
        )
        return
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for info in archive:
                entry = _entry(layer.index, archive, info, state, problems)
                if entry is not None:
                    yield entry
                if state.failure is not None:
                    break
    except READ_ERRORS as exc:
        state.failure = state.failure or exc
    finally:
        stream.close()
    if state.failure is not None:
        problems.append(
            LayerProblem(
                layer.index, f"the layer is damaged: {_describe(state.failure)}", fatal=True
            )
        )


def _entry(
    layer_index: int,
    archive: tarfile.TarFile,
    info: tarfile.TarInfo,
    state: _LayerState,
    problems: list[LayerProblem],
) -> Entry | None:
    path = normalise_path(info.name)
    if path is None:
        problems.append(
            LayerProblem(layer_index, "entry path climbs out of the image root; skipped", info.name)
        )
        return None
    if not path:
        return None  # the layer's own root directory entry
    kind, subject = _classify(info, path)
    if kind is EntryKind.WHITEOUT and posixpath.basename(subject) in ("", ".", ".."):
        problems.append(LayerProblem(layer_index, "whiteout names no file; ignored", info.name))
        return None
    link_target: str | None = None
    if kind is EntryKind.SYMLINK:
        link_target = info.linkname
    elif kind is EntryKind.HARDLINK:
        link_target = normalise_path(info.linkname)
        if not link_target:
            problems.append(
                LayerProblem(
                    layer_index, "hard link target climbs out of the image root", info.name
                )
            )
            return None
    entry = Entry(
        layer_index=layer_index,
        path=subject,
        kind=kind,
        size=info.size if kind is EntryKind.FILE else 0,
        mode=info.mode,
        mtime=float(info.mtime),
        uid=info.uid,
        gid=info.gid,
        link_target=link_target,
    )
    if kind is EntryKind.FILE:
        entry._reader = _member_reader(archive, info, state)
    return entry


def _member_reader(
    archive: tarfile.TarFile, info: tarfile.TarInfo, state: _LayerState
) -> Callable[[int], bytes]:
    consumed = False

    def read(limit: int) -> bytes:
        nonlocal consumed
        if consumed:
            raise RuntimeError("a layer entry can only be read once, while it is current")
        consumed = True
        handle: IO[bytes] | None = None
        chunks: list[bytes] = []
        remaining = limit
        try:
            handle = archive.extractfile(info)
            if handle is None:
                return b""
            while remaining > 0:
                chunk = handle.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except READ_ERRORS as exc:
            state.failure = exc  # what was read so far is still returned and scanned
        return b"".join(chunks)

    return read


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"


def walk(image: Image, timeline: Timeline, problems: list[LayerProblem]) -> Iterator[Entry]:
    """Every entry of every layer, base to top, each applied to the timeline before it is seen."""
    for layer in image.layers:
        timeline.begin_layer(layer.index)
        for entry in iter_layer(layer, problems):
            timeline.apply(entry, problems)
            yield entry
