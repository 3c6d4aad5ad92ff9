"""Stream the entries of one layer, each exactly once.

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
from typing import IO

import zstandard

from ..image.model import BlobLocation, Layer
from ..model.walk_log import LayerCheck, ProblemKind, WalkLog
from ..streams.compression import LayerLimits, LayerMeter, LimitExceeded, open_metered
from ..streams.deflate import ERRORS as DEFLATE_ERRORS
from ..streams.tarsafety import TAR_ERRORS
from ..streams.tarstream import Member, TarFormatError, TarStream, TarTruncated
from .entries import Entry, EntryKind, normalise_path

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
                entry.ordinal = in_layer  # recovery finds the member by it (recover.py)
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
        capabilities=info.capabilities,
    )
    if kind is EntryKind.FILE:
        entry._reader, entry._chunks = _member_readers(archive, state)
        if info.sparse:
            log.report(
                layer_index,
                "sparse file: its stored bytes are scanned, without the holes between them",
                info.name,
                ProblemKind.WARNING,
            )
    return entry


def _member_readers(
    archive: TarStream, state: _LayerState
) -> tuple[Callable[[int], bytes], Callable[[int], Iterator[bytes]]]:
    """Two ways to read the current member, of which one may be used, once: whole up to a
    limit (detection), or in pieces (extraction writes files of any size)."""
    consumed = False

    def claim() -> None:
        nonlocal consumed
        if consumed:
            raise RuntimeError("a layer entry can only be read once, while it is current")
        consumed = True

    def read(limit: int) -> bytes:
        claim()
        try:
            return archive.read(limit)
        except TarTruncated as exc:
            state.failure = exc  # what was read is still returned and scanned
            return exc.partial
        except READ_ERRORS as exc:
            state.failure = exc
            return b""

    def chunks(size: int) -> Iterator[bytes]:
        claim()
        try:
            yield from archive.chunks(size)
        except TarTruncated as exc:
            state.failure = exc
            if exc.partial:
                yield exc.partial
        except READ_ERRORS as exc:
            state.failure = exc

    return read, chunks


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
