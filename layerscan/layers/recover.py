"""Write one version of one file out of any layer, safely, with a manifest of hashes.

Image content is hostile: the output directory is entered through directory file
descriptors and every component is opened with O_NOFOLLOW, so no symlink on the host side is
ever followed; only regular-file bytes are written, never links or devices, and set-id bits
are dropped. The bytes copied are those of the very tar member the timeline recorded (by its
position in the layer, checked for its name, kind and size), since one layer may hold the same
path several times. The directory's own files (manifest.json, evidence.json) are read and
replaced only when they are regular files that layerscan could have written: a link, a FIFO,
a device or someone else's JSON there is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from ..errors import ContentError, LayerscanError, OutputError, UsageError
from ..image.model import Image, Layer
from ..model.safe_text import printable
from ..output import SPECIAL_KINDS
from ..streams.compression import LayerLimits, LayerMeter, open_metered
from ..streams.tarstream import Member, TarStream
from .entries import EntryKind, Version, normalise_path
from .reader import READ_ERRORS
from .timeline import Timeline

_CHUNK = 1 << 20
DEFAULT_MAX_SIZE = 1 << 30
"""A recovered file larger than this must be asked for: a sparse or bomb member can claim TBs."""
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20
"""A manifest.json larger than this was not written by layerscan (a record is ~700 bytes)."""
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""Reading a file of the output directory: never through a link, never blocked on a FIFO."""

Verify = Callable[[Version, IO[bytes]], None]
"""A check of the file just written (given the version whose bytes it holds, and the file
open for reading): raising a LayerscanError has the file removed and left out of the manifest."""


class NotWritten(ContentError):
    """The written file failed its check: it was removed and is not in manifest.json (exit 3)."""


@dataclass(frozen=True)
class Recovered:
    """What was written, and the provenance an investigator needs to trust it."""

    original_path: str
    written_to: str
    layer_index: int
    diff_id: str | None
    layer_digest: str | None
    instruction: str | None
    status: str
    removed_by: int | None
    sha256: str
    size: int
    mode: str
    mtime: float
    image_reference: str | None
    image_digest: str | None
    recovered_at: str
    written_to_hex: str | None = None
    """The exact bytes of `written_to` when the name is not UTF-8 (the image's own bytes are
    kept on disk; `written_to` in manifest.json then shows them escaped as \\xNN)."""


def choose_version(timeline: Timeline, path: str, layer: int | None) -> Version:
    """The version the user asked for: in --layer N, else the newest one with content."""
    normalised = normalise_path(path)
    if not normalised:
        raise UsageError(f"{path!r} is not a file path inside the image")
    versions = timeline.versions.get(normalised, [])
    if not versions:
        raise UsageError(f"no layer of the image ever held {'/' + normalised}")
    candidates = [v for v in versions if layer is None or v.layer_index == layer]
    if not candidates:
        held = ", ".join(str(v.layer_index) for v in versions)
        raise UsageError(f"/{normalised} is not in layer {layer}; it is in layers {held}")
    with_content = [v for v in candidates if v.holds_content and not v.duplicate]
    if not with_content:
        kinds = ", ".join(f"layer {v.layer_index}: {v.kind}" for v in candidates)
        raise UsageError(f"/{normalised} has no file content to recover ({kinds})")
    return with_content[-1]


def content_of(version: Version) -> Version:
    """The file version whose bytes `version` holds: itself, or what its hard link shares."""
    if version.kind is EntryKind.HARDLINK:
        if version.content is None:
            raise UsageError(f"{version.display_path} is a hard link to nothing that held a file")
        return version.content
    return version


def _open_output_dir(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    return os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _refuse_kind(mode: int, shown: str) -> None:
    """Only a regular file of the output directory may be read or replaced."""
    kind = SPECIAL_KINDS.get(stat.S_IFMT(mode))
    if kind is None and not stat.S_ISREG(mode):
        kind = "not a regular file"
    if kind is not None:
        raise OutputError(f"{shown} is {kind}; refusing to use it")


def _refuse_special(dir_fd: int, name: str, shown: str) -> None:
    """Raise OutputError if `name` exists in dir_fd as anything but a regular file."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    _refuse_kind(info.st_mode, shown)


def _read_own_file(dir_fd: int, name: str, shown: str, limit: int) -> bytes | None:
    """The bytes of one of the directory's own files (None if absent), read without following
    a link or blocking on a FIFO; anything but a regular file of at most `limit` is refused."""
    _refuse_special(dir_fd, name, shown)
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{shown} is a symbolic link; refusing to use it") from exc
        raise OutputError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())  # what was opened, whatever was swapped in since
        _refuse_kind(info.st_mode, shown)
        data = handle.read(limit + 1) if info.st_size <= limit else b""
        if info.st_size > limit or len(data) > limit:
            raise OutputError(
                f"{shown} is larger than {limit >> 20} MiB, so not a layerscan manifest; "
                "refusing to overwrite it"
            )
    return data


def _is_flat_record(record: object) -> bool:
    return isinstance(record, dict) and all(
        isinstance(key, str) and (value is None or isinstance(value, str | int | float | bool))
        for key, value in record.items()
    )


def _read_manifest(root_fd: int, out_dir: Path) -> list[dict[str, object]]:
    """The records of the directory's manifest.json, refused unless layerscan could have
    written it: so a file of the user's that happens to have this name is never overwritten.

    Parsing is bounded: at most 16 MiB, json's own recursion guard against deep nesting, and
    records must be flat objects (what is rewritten can never nest deeper than that).
    """
    shown = str(out_dir / MANIFEST)
    data = _read_own_file(root_fd, MANIFEST, shown, MAX_MANIFEST_BYTES)
    if data is None or not data.strip():
        return []
    refusal = f"{shown} is not a layerscan manifest; refusing to overwrite it"
    try:
        loaded = json.loads(data)
    except RecursionError as exc:
        raise OutputError(f"{refusal} (it is nested too deeply)") from exc
    except ValueError as exc:
        raise OutputError(f"{refusal} (it is not JSON)") from exc
    records = loaded.get("recovered") if isinstance(loaded, dict) else None
    if not isinstance(records, list) or not all(_is_flat_record(item) for item in records):
        raise OutputError(f"{refusal} (no list of flat 'recovered' records)")
    return records


def check_output_names(out_dir: Path, names: tuple[str, ...]) -> None:
    """Refuse, before anything is written, an output directory whose `names` are links, FIFOs,
    devices or directories (evidence.json beside a recovered file, say)."""
    root_fd = _open_output_dir(out_dir)
    try:
        for name in names:
            _refuse_special(root_fd, name, str(out_dir / name))
    finally:
        os.close(root_fd)


def _descend(dir_fd: int, parts: list[str]) -> int:
    """Create and enter each directory below dir_fd without following any symlink."""
    current = dir_fd
    for part in parts:
        if part in ("", ".", "..") or "/" in part:
            raise LayerscanError(f"refusing to create directory {part!r}")
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o700, dir_fd=current)
        following = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=current)
        if current != dir_fd:
            os.close(current)
        current = following
    return current


def _write_regular(dir_fd: int, name: str, archive: TarStream, mode: int) -> tuple[str, int]:
    """Copy the current member into a new regular file; returns (sha256, size).

    A copy cut short (the layer breaks, the disk fills) is removed: no partial file is left
    where a whole one is expected. Failures to write are OutputError, failures to read the
    layer propagate as they are.
    """
    try:
        existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise OutputError(f"refusing to replace {name!r}: it is not a regular file")
    try:
        if existing is not None:
            os.unlink(name, dir_fd=dir_fd)
        # Permission bits only: set-id and sticky bits are dropped; the owner can always read.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, (mode & 0o777) | 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise OutputError(f"cannot write {name!r}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb", buffering=0) as target:
            for chunk in archive.chunks(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                _write_all(target.fileno(), chunk, name)
    except BaseException:
        _remove(dir_fd, name)
        raise
    return digest.hexdigest(), size


def _write_all(fd: int, data: bytes, name: str) -> None:
    view = memoryview(data)
    while view:
        try:
            done = os.write(fd, view)
        except OSError as exc:
            raise OutputError(f"cannot write {name!r}: {exc.strerror or exc}") from exc
        view = view[done:]


def _remove(dir_fd: int, name: str) -> None:
    """Remove a file this run wrote (a partial copy, or one that failed its check)."""
    with contextlib.suppress(OSError):
        if stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            os.unlink(name, dir_fd=dir_fd)


def _expect_member(layer: Layer, ordinal: int, info: Member, content: Version) -> None:
    """The member found must be the one the walk recorded: same name, a file, same size."""
    if not info.isreg() or normalise_path(info.name) != content.path or info.size != content.size:
        raise ContentError(
            f"layer {layer.index} is not the one that was read: its member {ordinal} should be "
            f"{content.display_path}, a file of {content.size} bytes"
        )
    if info.sparse:
        raise LayerscanError(
            f"{content.display_path} is a sparse file in layer {layer.index}: layerscan reads "
            "its stored bytes but does not restore its holes, so it cannot write the file out "
            "as it is"
        )


def _copy_member(
    layer: Layer, content: Version, dir_fd: int, name: str, mode: int
) -> tuple[str, int]:
    """Stream a layer and copy the member holding `content`: the one at its recorded position.

    Without a recorded position (an entry from a cache that did not keep it) the path must
    occur exactly once in the layer, or nothing is written. The layer is read under the same
    size and ratio limits as a scan: a bomb stops the read instead of filling the disk or the
    clock. A copy cut short is removed.
    """
    written: tuple[str, int] | None = None
    seen = 0
    mismatch: ContentError | None = None
    try:
        stream, _ = open_metered(layer.opener(), LayerMeter(LayerLimits()))
        try:
            archive = TarStream(stream)
            for ordinal, info in enumerate(archive):
                if content.ordinal is not None:
                    if ordinal < content.ordinal:
                        continue
                    _expect_member(layer, ordinal, info, content)
                    written = _write_regular(dir_fd, name, archive, mode)
                    break
                if normalise_path(info.name) != content.path:
                    continue
                seen += 1
                if seen > 1:
                    break
                try:
                    _expect_member(layer, ordinal, info, content)
                except ContentError as exc:
                    mismatch = exc  # unless the path is ambiguous anyway: that is said first
                    continue
                written = _write_regular(dir_fd, name, archive, mode)
        finally:
            stream.close()
    except READ_ERRORS as exc:
        if written is not None:  # written, but which member it was cannot be confirmed
            _remove(dir_fd, name)
        raise ContentError(
            f"layer {layer.index} could not be read to recover {content.display_path}: {exc}"
        ) from exc
    if seen > 1:
        _remove(dir_fd, name)
        raise ContentError(
            f"layer {layer.index} holds {content.display_path} more than once and which one "
            "this version is was not recorded; scan without the layer cache to recover it"
        )
    if mismatch is not None:
        raise mismatch
    if written is None:
        raise ContentError(f"{content.display_path} was not found again in layer {layer.index}")
    if written[1] != content.size:
        _remove(dir_fd, name)
        raise ContentError(
            f"{content.display_path} in layer {layer.index} gave {written[1]} bytes, not the "
            f"{content.size} its header declares"
        )
    return written


def _check_written(dir_fd: int, name: str, size: int, content: Version, verify: Verify) -> None:
    """Run `verify` on the file as it now is on disk (opened again, never through a link)."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise ContentError(f"the written file cannot be read again: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            raise ContentError("the written file changed before it could be checked")
        verify(content, handle)


def recover(
    image: Image,
    timeline: Timeline,
    path: str,
    out_dir: Path,
    layer: int | None = None,
    clean: Callable[[str | None], str | None] = lambda text: text,
    max_size: int = DEFAULT_MAX_SIZE,
) -> Recovered:
    """Write the chosen version of `path` under out_dir/layer-N/ and record it in manifest.json."""
    version = choose_version(timeline, path, layer)
    return recover_version(image, version, out_dir, clean=clean, max_size=max_size)


def recover_version(
    image: Image,
    version: Version,
    out_dir: Path,
    *,
    clean: Callable[[str | None], str | None] = lambda text: text,
    max_size: int = DEFAULT_MAX_SIZE,
    verify: Verify | None = None,
) -> Recovered:
    """Write one version under out_dir/layer-N/ and record it in manifest.json.

    With `verify`, the written file is checked before it is recorded; if the check fails the
    file is removed, no record claims it, and NotWritten says so.
    """
    content = content_of(version)
    if content.size > max_size:
        raise UsageError(
            f"{version.display_path} declares {content.size} bytes, over the recovery limit "
            f"of {max_size}; raise it with --max-size if the file is real"
        )
    parts = version.path.split("/")
    written_to = os.path.join(f"layer-{version.layer_index}", *parts)
    root_fd = _open_output_dir(out_dir)
    try:
        previous = _read_manifest(root_fd, out_dir)  # refused before anything is written
        parent_fd = _descend(root_fd, [f"layer-{version.layer_index}", *parts[:-1]])
        try:
            try:
                sha256, size = _copy_member(
                    image.layers[content.layer_index], content, parent_fd, parts[-1], version.mode
                )
            except LayerscanError:
                _forget_if_gone(root_fd, parent_fd, parts[-1], previous, written_to)
                raise
            if verify is not None:
                try:
                    _check_written(parent_fd, parts[-1], size, content, verify)
                except LayerscanError as exc:
                    _remove(parent_fd, parts[-1])
                    _forget_if_gone(root_fd, parent_fd, parts[-1], previous, written_to)
                    raise NotWritten(
                        f"{exc}; {printable(str(out_dir / written_to))} was removed and is not "
                        f"recorded in {MANIFEST}"
                    ) from exc
        finally:
            if parent_fd != root_fd:
                os.close(parent_fd)
        own_layer = image.layers[version.layer_index]
        record = Recovered(
            original_path=version.display_path,
            written_to=written_to,
            layer_index=version.layer_index,
            diff_id=own_layer.diff_id,
            layer_digest=own_layer.digest,
            instruction=clean(own_layer.instruction),
            status=str(version.status),
            removed_by=version.removed_by,
            sha256=sha256,
            size=size,
            mode=oct(version.mode & 0o777),
            mtime=version.mtime,
            image_reference=image.reference,
            image_digest=image.digest or image.config_digest,
            recovered_at=datetime.now(UTC).isoformat(timespec="seconds"),
            written_to_hex=None
            if printable(written_to) == written_to
            else os.fsencode(written_to).hex(),
        )
        entries = [e for e in previous if e.get("written_to") != printable(record.written_to)]
        entries.append(asdict(record))
        _write_json(root_fd, out_dir, MANIFEST, {"recovered": entries})
        return record
    finally:
        os.close(root_fd)


def _forget_if_gone(
    root_fd: int,
    parent_fd: int,
    name: str,
    previous: list[dict[str, object]],
    written_to: str,
) -> None:
    """A file replaced and then removed must not stay claimed by an earlier run's record."""
    try:
        os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        return
    except FileNotFoundError:
        pass
    kept = [e for e in previous if e.get("written_to") != printable(written_to)]
    if len(kept) != len(previous):
        with contextlib.suppress(OSError, LayerscanError):
            _write_json(root_fd, None, MANIFEST, {"recovered": kept})


def _write_json(root_fd: int, out_dir: Path | None, name: str, document: object) -> None:
    """Replace a JSON file in the output directory atomically, never through a link and never
    over anything but a regular file."""
    _refuse_special(root_fd, name, str(out_dir / name) if out_dir is not None else name)
    data = json.dumps(printable(document), indent=2, ensure_ascii=False).encode() + b"\n"
    temporary = f".{name}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=root_fd)
    fd = os.open(
        temporary,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o644,
        dir_fd=root_fd,
    )
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, name, src_dir_fd=root_fd, dst_dir_fd=root_fd)


def write_json_document(out_dir: Path, name: str, document: object) -> None:
    """Write one JSON document (evidence.json) into out_dir as safely as a recovered file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    root_fd = _open_output_dir(out_dir)
    try:
        _write_json(root_fd, out_dir, name, document)
    finally:
        os.close(root_fd)
