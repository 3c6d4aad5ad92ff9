"""Write one version of one file out of any layer, safely, with a manifest of hashes.

Image content is hostile: the output directory is entered through directory file
descriptors and every component is opened with O_NOFOLLOW, so no symlink on the host side is
ever followed; only regular-file bytes are written, never links or devices, and set-id bits
are dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import LayerscanError, UsageError
from ..image.model import Image, Layer
from ..model.safe_text import printable
from ..streams.compression import LayerLimits, LayerMeter, open_metered
from ..streams.tarstream import TarStream
from .entries import EntryKind, Version, normalise_path
from .reader import READ_ERRORS
from .timeline import Timeline

_CHUNK = 1 << 20
DEFAULT_MAX_SIZE = 1 << 30
"""A recovered file larger than this must be asked for: a sparse or bomb member can claim TBs."""


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


def _open_output_dir(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    return os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


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
    """Copy the current member into a new regular file; returns (sha256, size)."""
    try:
        existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        if not stat.S_ISREG(existing.st_mode):
            raise LayerscanError(f"refusing to replace {name!r}: it is not a regular file")
        os.unlink(name, dir_fd=dir_fd)
    # Permission bits only: set-id and sticky bits are dropped; the owner can always read it.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(name, flags, (mode & 0o777) | 0o600, dir_fd=dir_fd)
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as target:
        for chunk in archive.chunks(_CHUNK):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_member(layer: Layer, path: str, dir_fd: int, name: str, mode: int) -> tuple[str, int]:
    """Stream a layer and copy the last regular member named `path` (last wins, as in tar).

    The layer is read under the same size and ratio limits as a scan: a bomb later in the
    layer stops the read instead of filling the disk or the clock.
    """
    written: tuple[str, int] | None = None
    try:
        stream, _ = open_metered(layer.opener(), LayerMeter(LayerLimits()))
        try:
            archive = TarStream(stream)
            for info in archive:
                if info.isreg() and normalise_path(info.name) == path:
                    if info.sparse:
                        raise LayerscanError(
                            f"/{path} is a sparse file in layer {layer.index}: layerscan reads "
                            "its stored bytes but does not restore its holes, so it cannot "
                            "write the file out as it is"
                        )
                    written = _write_regular(dir_fd, name, archive, mode)
        finally:
            stream.close()
    except READ_ERRORS as exc:
        if written is None:
            raise LayerscanError(
                f"layer {layer.index} could not be read to recover /{path}: {exc}"
            ) from exc
    if written is None:
        raise LayerscanError(f"/{path} was not found again in layer {layer.index}")
    return written


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
    content = version.content if version.kind is EntryKind.HARDLINK and version.content else version
    if content.size > max_size:
        raise UsageError(
            f"{version.display_path} declares {content.size} bytes, over the recovery limit "
            f"of {max_size}; raise it with --max-size if the file is real"
        )
    parts = version.path.split("/")
    written_to = os.path.join(f"layer-{version.layer_index}", *parts)
    root_fd = _open_output_dir(out_dir)
    try:
        parent_fd = _descend(root_fd, [f"layer-{version.layer_index}", *parts[:-1]])
        try:
            sha256, size = _copy_member(
                image.layers[content.layer_index], content.path, parent_fd, parts[-1], version.mode
            )
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
        _append_manifest(root_fd, record)
        return record
    finally:
        os.close(root_fd)


def _append_manifest(root_fd: int, record: Recovered) -> None:
    entries: list[dict[str, object]] = []
    try:
        fd = os.open("manifest.json", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=root_fd)
        with os.fdopen(fd, "rb") as handle:
            loaded = json.loads(handle.read(16 << 20) or b"[]")
            entries = loaded.get("recovered", []) if isinstance(loaded, dict) else []
    except (FileNotFoundError, ValueError):
        entries = []
    entries = [
        e
        for e in entries
        if isinstance(e, dict) and e.get("written_to") != printable(record.written_to)
    ]
    entries.append(asdict(record))
    _write_json(root_fd, "manifest.json", {"recovered": entries})


def _write_json(root_fd: int, name: str, document: object) -> None:
    """Replace a JSON file in the output directory atomically, never through a link."""
    data = json.dumps(printable(document), indent=2, ensure_ascii=False).encode() + b"\n"
    temporary = f".{name}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=root_fd)
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=root_fd
    )
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, name, src_dir_fd=root_fd, dst_dir_fd=root_fd)


def write_json_document(out_dir: Path, name: str, document: object) -> None:
    """Write one JSON document (evidence.json) into out_dir as safely as a recovered file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    root_fd = _open_output_dir(out_dir)
    try:
        _write_json(root_fd, name, document)
    finally:
        os.close(root_fd)
