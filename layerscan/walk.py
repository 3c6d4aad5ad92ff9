"""Stream the entries of every layer, base to top, each exactly once.

A layer is read as a tar stream (no seeking, no extraction): each member is normalised,
whiteouts are recognised, and a regular file's bytes can be read while it is the current
member. The same pass counts and hashes the layer, so its digests are checked against the
manifest and the config without a second read, and a decompression bomb is stopped by its
size or ratio. A layer that breaks part-way is reported with what was read before the break,
and the walk goes on with the next layer.
"""

from __future__ import annotations

import lzma
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, TYPE_CHECKING

import zstandard

from .compression import LayerLimits, LayerMeter, LimitExceeded, open_metered
from .deflate import ERRORS as DEFLATE_ERRORS
from .image import BlobLocation, Image, Layer
from .tarsafety import TAR_ERRORS
from .tarstream import Member, TarFormatError, TarStream, TarTruncated

if TYPE_CHECKING:
    from .timeline import Timeline, Version

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_AUFS_META_PREFIX = ".wh..wh."
_DRAIN_CHUNK = 1 << 20

READ_ERRORS: tuple[type[BaseException], ...] = (
    *TAR_ERRORS,
    TarFormatError,
    OSError,
    *DEFLATE_ERRORS,  # zlib's or ISA-L's
    lzma.LZMAError,
    zstandard.ZstdError,
    LimitExceeded,
)
"""What a damaged or hostile layer raises while it is streamed (BadGzipFile is an OSError)."""


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
    tarfile.GNUTYPE_SPARSE: EntryKind.FILE,
    tarfile.DIRTYPE: EntryKind.DIRECTORY,
    tarfile.SYMTYPE: EntryKind.SYMLINK,
    tarfile.LNKTYPE: EntryKind.HARDLINK,
    tarfile.CHRTYPE: EntryKind.CHAR_DEVICE,
    tarfile.BLKTYPE: EntryKind.BLOCK_DEVICE,
    tarfile.FIFOTYPE: EntryKind.FIFO,
}


def normalise_path(name: str) -> str | None:
    """The image path of a tar member ('' for the root), or None when it must be rejected.

    `./`, a leading `/` and `//` are layout noise and are dropped; a `..` component could only
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


@dataclass(slots=True)
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
    stored_at: BlobLocation | None = None
    """Where the file's bytes sit, as they are, in a file on this host (an uncompressed
    layer of a tarball or layout): workers read them there instead of being sent a copy."""
    _reader: Callable[[int], bytes] | None = field(default=None, repr=False)

    @property
    def display_path(self) -> str:
        return "/" + self.path

    def read(self, limit: int) -> bytes:
        """Up to `limit` bytes of a regular file; only valid while it is the current entry."""
        if self._reader is None:
            return b""
        return self._reader(limit)

    def release(self) -> None:
        """Drop the reader: an entry kept after its layer must not keep the layer's tar."""
        self._reader = None


class ProblemKind(StrEnum):
    DAMAGED = "damaged"
    """The rest of the layer could not be read."""
    SKIPPED = "skipped"
    """One entry was refused or unreadable; the rest of the layer was read."""
    WARNING = "warning"
    """Odd or hostile but handled; nothing was lost."""


@dataclass
class LayerProblem:
    """Something in a layer that could not be read, was refused, or looked hostile."""

    layer_index: int
    message: str
    path: str | None = None
    kind: ProblemKind = ProblemKind.SKIPPED

    @property
    def fatal(self) -> bool:
        return self.kind is ProblemKind.DAMAGED

    @property
    def lost_content(self) -> bool:
        return self.kind is not ProblemKind.WARNING


@dataclass(frozen=True)
class LayerCheck:
    """The layer's digests as read, compared with what the manifest and config say."""

    digest_actual: str | None
    diff_id_actual: str | None
    verified: bool | None
    """True: both match; False: one differs (tampered or corrupt); None: not fully read."""


@dataclass(frozen=True)
class WalkLimits:
    """Bounds on the whole walk: per-layer bytes and ratio, image bytes, entries."""

    layer: LayerLimits = field(default_factory=LayerLimits)
    max_image_bytes: int = 64 << 30
    max_layer_entries: int = 500_000
    max_entries: int = 2_000_000
    """Tar headers cost ~30 µs each to parse and ~250 bytes each to remember: these bound a
    layer of millions of empty files to seconds and the whole walk to half a gigabyte. Real
    layers hold tens of thousands of entries, a large node_modules a few hundred thousand."""


@dataclass
class WalkLog:
    """What the walk learnt besides the entries: problems and each layer's digest check."""

    problems: list[LayerProblem] = field(default_factory=list)
    checks: dict[int, LayerCheck] = field(default_factory=dict)
    entries: int = 0
    uncompressed_bytes: int = 0

    def report(self, layer: int, message: str, path: str | None, kind: ProblemKind) -> None:
        self.problems.append(LayerProblem(layer, message, path, kind))


class _LayerState:
    def __init__(self) -> None:
        self.failure: BaseException | None = None


def _classify(info: Member, path: str) -> tuple[EntryKind, str]:
    """Kind of a member; whiteouts name the path they delete (or the dir they make opaque).

    Only non-directories are whiteouts: a directory named `.wh.etc` is ordinary content.
    """
    kind = _TAR_KINDS.get(info.type, EntryKind.OTHER)
    if kind is EntryKind.DIRECTORY:
        return kind, path
    base = posixpath.basename(path)
    parent = posixpath.dirname(path)
    if base == OPAQUE_MARKER:
        return EntryKind.OPAQUE, parent
    if base.startswith(_AUFS_META_PREFIX):
        return EntryKind.OTHER, path
    if base.startswith(WHITEOUT_PREFIX):
        return EntryKind.WHITEOUT, posixpath.join(parent, base[len(WHITEOUT_PREFIX) :])
    return kind, path


def iter_layer(layer: Layer, log: WalkLog, limits: WalkLimits) -> Iterator[Entry]:
    """Every member of one layer, in tar order; damage and digests go to `log`."""
    state = _LayerState()
    drained = False
    budget = min(limits.layer.max_bytes, max(limits.max_image_bytes - log.uncompressed_bytes, 0))
    meter = LayerMeter(LayerLimits(budget, limits.layer.max_ratio, limits.layer.ratio_after))
    try:
        stream, compression = open_metered(layer.opener(), meter)
    except READ_ERRORS as exc:
        log.report(
            layer.index, f"cannot open the layer: {_describe(exc)}", None, ProblemKind.DAMAGED
        )
        return
    try:
        archive = TarStream(stream)
        # An uncompressed blob in a host file: its tar's offsets are the file's, from its start.
        in_place = layer.location if compression == "none" else None
        for in_layer, info in enumerate(archive):
            if in_layer >= limits.max_layer_entries:
                raise LimitExceeded(
                    f"stopped at {in_layer} entries: over the limit of "
                    f"{limits.max_layer_entries} per layer"
                )
            if log.entries >= limits.max_entries:
                raise LimitExceeded(
                    f"stopped at {log.entries} entries: over the limit of "
                    f"{limits.max_entries} per image"
                )
            log.entries += 1
            entry = _entry(layer.index, archive, info, state, log)
            if entry is not None:
                if in_place is not None and entry.kind is EntryKind.FILE and not info.sparse:
                    entry.stored_at = BlobLocation(
                        in_place.path, in_place.offset + info.data_offset, info.size
                    )
                yield entry
            if state.failure is not None:
                break
        drained = state.failure is None and _drain(stream, layer, log, meter, archive.offset)
    except READ_ERRORS as exc:
        state.failure = state.failure or exc
    finally:
        stream.close()
        log.uncompressed_bytes += meter.uncompressed_bytes
    if state.failure is not None:
        log.report(
            layer.index,
            f"the layer is damaged: {_describe(state.failure)}",
            None,
            ProblemKind.DAMAGED,
        )
    log.checks[layer.index] = _check(layer, meter, log) if drained else LayerCheck(None, None, None)


def _drain(stream: IO[bytes], layer: Layer, log: WalkLog, meter: LayerMeter, tar_end: int) -> bool:
    """Read past the tar's end-of-archive marker, so the digests cover the whole blob.

    False when the bytes after the tar cannot be read (garbage after a zstd stream): every
    entry was read, but the digests cannot be checked. A bomb there still stops the walk.
    Data after the marker (anything but zero padding) is reported: it hides from tar readers.
    """
    try:
        while stream.read(_DRAIN_CHUNK):
            continue
    except LimitExceeded:
        raise
    except READ_ERRORS as exc:
        log.report(
            layer.index,
            f"unreadable bytes after the end of the layer's tar ({_describe(exc)}); every "
            "entry was read, the digests cannot be checked",
            None,
            ProblemKind.WARNING,
        )
        return False
    after = meter.uncompressed_bytes - tar_end
    seen = meter.tail[-after:] if 0 < after <= len(meter.tail) else meter.tail
    if after > 0 and seen.strip(b"\0"):
        log.report(
            layer.index,
            f"{after} bytes after the end-of-archive marker of the layer's tar are not padding; "
            "they were ignored",
            None,
            ProblemKind.WARNING,
        )
    return True


def _check(layer: Layer, meter: LayerMeter, log: WalkLog) -> LayerCheck:
    """Compare what was read with the manifest digest and the config's diff_id."""
    digest_actual = meter.compressed_digest
    diff_id_actual = meter.uncompressed_digest
    mismatches = []
    if layer.digest and layer.digest.startswith("sha256:") and layer.digest != digest_actual:
        mismatches.append(f"its blob hashes to {digest_actual}, the manifest says {layer.digest}")
    if layer.diff_id and layer.diff_id.startswith("sha256:") and layer.diff_id != diff_id_actual:
        mismatches.append(f"its tar hashes to {diff_id_actual}, the config says {layer.diff_id}")
    for mismatch in mismatches:
        log.report(layer.index, f"layer digest mismatch: {mismatch}", None, ProblemKind.WARNING)
    if meter.trailing_bytes:
        log.report(
            layer.index,
            f"{meter.trailing_bytes} bytes after the end of the compressed stream were ignored",
            None,
            ProblemKind.WARNING,
        )
    checked = bool(layer.digest or layer.diff_id)
    return LayerCheck(digest_actual, diff_id_actual, (not mismatches) if checked else None)


def _entry(
    layer_index: int,
    archive: TarStream,
    info: Member,
    state: _LayerState,
    log: WalkLog,
) -> Entry | None:
    path = normalise_path(info.name)
    if path is None:
        log.report(
            layer_index,
            "entry path climbs out of the image root; skipped",
            info.name,
            ProblemKind.SKIPPED,
        )
        return None
    if not path:
        if info.name not in (".", "./", "/"):
            log.report(
                layer_index, "entry with an empty name; ignored", info.name, ProblemKind.WARNING
            )
        return None
    if info.name.startswith("/") or "//" in info.name:
        log.report(layer_index, f"entry name normalised to /{path}", info.name, ProblemKind.WARNING)
    kind, subject = _classify(info, path)
    if kind is EntryKind.WHITEOUT and posixpath.basename(subject) in ("", ".", ".."):
        log.report(
            layer_index, "whiteout names no file; not applied", info.name, ProblemKind.WARNING
        )
        return None
    link_target: str | None = None
    if kind is EntryKind.SYMLINK:
        link_target = info.linkname
    elif kind is EntryKind.HARDLINK:
        link_target = normalise_path(info.linkname)
        if not link_target:
            log.report(
                layer_index,
                "hard link target climbs out of the image root; skipped",
                info.name,
                ProblemKind.SKIPPED,
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
        if info.sparse:
            log.report(
                layer_index,
                "sparse file: its stored bytes are scanned, without the holes between them",
                info.name,
                ProblemKind.WARNING,
            )
    return entry


def _member_reader(archive: TarStream, info: Member, state: _LayerState) -> Callable[[int], bytes]:
    consumed = False

    def read(limit: int) -> bytes:
        nonlocal consumed
        if consumed:
            raise RuntimeError("a layer entry can only be read once, while it is current")
        consumed = True
        try:
            return archive.read(limit)
        except TarTruncated as exc:
            state.failure = exc  # what was read is still returned and scanned
            return exc.partial
        except READ_ERRORS as exc:
            state.failure = exc
            return b""

    return read


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"


def layer_within_image_limits(index: int, log: WalkLog, limits: WalkLimits) -> bool:
    """False (and the layer reported as not read) once the image's byte or entry budget is
    spent by the layers below."""
    if log.uncompressed_bytes >= limits.max_image_bytes or log.entries >= limits.max_entries:
        log.report(
            index, "not read: the image already exceeded its limits", None, ProblemKind.DAMAGED
        )
        return False
    return True


def walk(
    image: Image, timeline: Timeline, log: WalkLog, limits: WalkLimits | None = None
) -> Iterator[Entry]:
    """Every entry of every layer, base to top, each applied to the timeline before it is seen."""
    limits = limits or WalkLimits()
    for layer in image.layers:
        timeline.begin_layer(layer.index)
        if not layer_within_image_limits(layer.index, log, limits):
            continue
        for entry in iter_layer(layer, log, limits):
            timeline.apply(entry, log)
            yield entry
