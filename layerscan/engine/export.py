"""The facade of `export`: any target kept as a verified `docker save` tarball, with a record.

An engine image is copied straight from the engine's stream (never spooled, never held
whole); every other target is written from the image model. The tarball appears at its
destination only whole and verified (output.atomic_file), and `<destination>.json` beside it
says what was exported, from where, when, and the hashes that identify it: the evidence an
incident responder files with the tarball.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import LayerscanError
from ..image import daemon, docker_archive, oci
from ..image.blobstore import TarStore
from ..image.model import Image
from ..image.open import engine_reference, open_image
from ..image.source import OpenOptions
from ..image.tarball import Written, copy_saved, is_tag_reference, verify_copied, write_image
from ..output import atomic_file, refuse_existing, write_output
from ..streams.compression import LayerLimits
from ..version import __version__

Progress = Callable[[int, int | None], None]
"""Told the bytes written so far and, when known, how many there will be."""


@dataclass(frozen=True)
class ExportRecord:
    """What `export` wrote: printed, and kept as `<destination>.json`."""

    destination: str
    target: str
    source: str
    reference: str | None
    platform: str | None
    layout: str
    """"copied from the engine" (byte for byte) or "written by layerscan" (from the model)."""
    source_manifest_digest: str | None
    """The manifest the image was read by (a registry or engine digest), when known."""
    manifest_digest: str | None
    """The manifest inside the tarball."""
    config_digest: str
    """The image ID: `docker load` of the tarball gives an image with this ID."""
    repo_tags: list[str]
    sha256: str
    size: int
    layers: list[dict[str, Any]]
    exported_at: str
    layerscan_version: str


def evidence_path(destination: Path) -> Path:
    """Where the record of an export goes: beside the tarball, its name plus `.json`."""
    return destination.with_name(destination.name + ".json")


def export_image(
    target: str,
    destination: Path,
    *,
    options: OpenOptions | None = None,
    limits: LayerLimits | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ExportRecord:
    """Write `target` to `destination` as a docker-save tarball and its record beside it.

    Both names are checked before anything is read: an existing file is refused unless
    `force`, a link, FIFO or directory always. A layer that fails its diff_id stops the export
    with IntegrityError (exit 3) and leaves nothing at either name.
    """
    options = options or OpenOptions()
    limits = limits or LayerLimits()
    evidence = evidence_path(destination)
    refuse_existing(destination, force)
    refuse_existing(evidence, force)
    reference = engine_reference(target)
    if reference is not None:
        record = _from_engine(target, reference, destination, limits, force, progress)
    else:
        with open_image(target, options) as image:
            record = _from_model(
                image, target, destination, limits, force, progress, options.max_spool_bytes
            )
    try:
        write_output(evidence, json.dumps(asdict(record), indent=2) + "\n")
    except LayerscanError:
        with contextlib.suppress(OSError):
            destination.unlink()  # a tarball without its record is not what was asked for
        raise
    return record


def _from_engine(
    target: str,
    reference: str,
    destination: Path,
    limits: LayerLimits,
    force: bool,
    progress: Progress | None,
) -> ExportRecord:
    with daemon.saved_stream(reference) as (stream, attrs):
        total = attrs.get("Size") if isinstance(attrs.get("Size"), int) else None
        tell = (lambda done: progress(done, total)) if progress is not None else None
        with atomic_file(destination, force=force) as pending:
            copied = copy_saved(stream, pending.handle, tell)
            pending.handle.flush()
            image, written = verify_copied(
                str(pending.path),
                copied,
                lambda store: _load_saved(store, target),
                limits,
            )
    image = daemon.load_identity(image, attrs, reference)
    return _record(
        destination, image, written, copied.sha256, copied.size, "copied from the engine"
    )


def _load_saved(store: TarStore, target: str) -> Image:
    """The copied tarball as an image; its manifest digest from index.json (Docker 25 and
    later save one beside manifest.json)."""
    image = docker_archive.load(store, source="docker", target=target)
    if store.has("index.json"):
        with contextlib.suppress(LayerscanError):
            digest = oci.load(store, source="docker", target=target).digest
            image = replace(image, digest=digest)
    return image


def _from_model(
    image: Image,
    target: str,
    destination: Path,
    limits: LayerLimits,
    force: bool,
    progress: Progress | None,
    max_image_bytes: int | None,
) -> ExportRecord:
    total = sum(layer.size or 0 for layer in image.layers) or None
    tell = (lambda done: progress(done, total)) if progress is not None else None
    tags = (image.reference,) if image.reference and is_tag_reference(image.reference) else ()
    with atomic_file(destination, force=force) as pending:
        written = write_image(image, pending.handle, limits, tags, tell, max_image_bytes)
        pending.handle.flush()
        sha256, size = _hash_file(pending.path)
    return _record(destination, image, written, sha256, size, "written by layerscan")


def _hash_file(path: Path) -> tuple[str, int]:
    """The tarball's own hash, read back once written (its layer headers are rewritten in
    place, so it cannot be hashed as it is written)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


def _record(
    destination: Path, image: Image, written: Written, sha256: str, size: int, layout: str
) -> ExportRecord:
    return ExportRecord(
        destination=str(destination),
        target=image.target,
        source=image.source,
        reference=image.reference,
        platform=image.platform,
        layout=layout,
        source_manifest_digest=image.digest,
        manifest_digest=written.manifest_digest,
        config_digest=written.config_digest,
        repo_tags=list(written.repo_tags),
        sha256=sha256,
        size=size,
        layers=[asdict(layer) for layer in written.layers],
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        layerscan_version=__version__,
    )
