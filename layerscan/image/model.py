"""The one image model every source produces: layers, history and config.

A source only finds the manifest, the config bytes and a way to open each blob;
`assemble_image` turns those into an `Image`, so every source is checked the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, BinaryIO

from ..errors import ImageFormatError
from ..model.instruction import Instruction, parse_created_by
from ..streams.compression import open_uncompressed

Opener = Callable[[], BinaryIO]
"""Returns a fresh stream of a blob each time it is called (a layer can be read twice)."""

DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")


def is_digest(value: object) -> bool:
    """True for a well-formed content digest (the only form we ever turn into a blob name)."""
    return isinstance(value, str) and DIGEST.match(value) is not None


@dataclass(frozen=True)
class HistoryEntry:
    """One build step, with or without a layer of its own."""

    index: int
    created_by: str
    created: str | None = None
    comment: str | None = None
    author: str | None = None
    empty_layer: bool = False
    layer_index: int | None = None

    @cached_property
    def parsed(self) -> Instruction:
        return parse_created_by(self.created_by)

    @property
    def instruction(self) -> str:
        """The step as a Dockerfile line, or the tool's comment when there is no command."""
        text = str(self.parsed)
        return text or (self.comment or "")


@dataclass(frozen=True)
class BlobLocation:
    """Where a blob's bytes sit on this host: a byte range of a regular file. The layer
    cache checks that file's identity and timestamps instead of re-hashing the range."""

    path: str
    offset: int
    size: int


@dataclass(frozen=True)
class Layer:
    """One layer: identity, provenance, and a way to stream its uncompressed tar."""

    index: int
    diff_id: str | None
    digest: str | None
    size: int | None
    media_type: str | None
    history: HistoryEntry | None
    opener: Opener = field(repr=False, compare=False)
    location: BlobLocation | None = field(default=None, compare=False)
    blob_key: str | None = field(default=None, compare=False)
    """The name the source reads this layer's bytes by (an archive member, a layout blob):
    two layers with the same key are the same bytes, so a repeated layer is read once."""
    content_addressed: bool = field(default=False, compare=False)
    """The blob is fetched by its digest and checked against it as it streams (a registry):
    its digest is known without reading it, so the layer cache never downloads it to check."""

    def open(self) -> BinaryIO:
        """A fresh stream of the uncompressed tar (compression told by magic bytes)."""
        stream, _ = open_uncompressed(self.opener())
        return stream

    @property
    def instruction(self) -> str | None:
        return self.history.instruction if self.history else None


@dataclass(frozen=True)
class Image:
    """An image as every stage after the sources sees it."""

    reference: str | None
    digest: str | None
    config_digest: str | None
    platform: str | None
    source: str
    target: str
    layers: tuple[Layer, ...]
    history: tuple[HistoryEntry, ...]
    config: Mapping[str, Any]
    warnings: tuple[str, ...] = ()
    config_bytes: bytes = field(default=b"", repr=False, compare=False)
    """The config exactly as the image holds it: what `config_digest` hashes, and what an
    export writes back (re-encoding `config` would change the image's ID)."""
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    """The manifest's annotations (OCI): builders record the base image there
    (`org.opencontainers.image.base.name`); a docker-save tarball has none."""

    def identity(self) -> dict[str, str | None]:
        """Who the image is, as every report and manifest names it."""
        return {
            "reference": self.reference,
            "digest": self.digest,
            "config_digest": self.config_digest,
            "platform": self.platform,
            "source": self.source,
            "target": self.target,
        }


@dataclass(frozen=True)
class LayerBlob:
    """What a source knows about one layer before assembly."""

    opener: Opener
    digest: str | None = None
    size: int | None = None
    media_type: str | None = None
    location: BlobLocation | None = None
    blob_key: str | None = None
    """See Layer.blob_key."""
    content_addressed: bool = False
    """See Layer.content_addressed."""


MAX_LAYERS = 4096
"""Real images have tens of layers (overlay filesystems mount at most about 128); a manifest
listing more is refused rather than walked."""


def listing(names: Iterable[str], most: int = 8, width: int = 120) -> str:
    """Names from an image for a message: at most `most` of them, each at most `width`
    characters, and how many more there were (an index may list thousands)."""
    shown: list[str] = []
    more = 0
    for name in names:
        if len(shown) < most:
            shown.append(name if len(name) <= width else name[:width] + "…")
        else:
            more += 1
    return ", ".join(shown) + (f" and {more} more" if more else "")


def parse_json(data: bytes, what: str) -> Any:
    """Parse untrusted JSON with a clear error (deep nesting included)."""
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise ImageFormatError(f"{what} is nested too deeply to be a real image document") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ImageFormatError(f"{what} is not valid JSON ({exc})") from exc


def _history_entries(config: Mapping[str, Any]) -> list[HistoryEntry]:
    raw = config.get("history")
    if not isinstance(raw, list):
        return []
    entries: list[HistoryEntry] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            item = {}
        entries.append(
            HistoryEntry(
                index=index,
                created_by=str(item.get("created_by") or ""),
                created=_str_or_none(item.get("created")),
                comment=_str_or_none(item.get("comment")),
                author=_str_or_none(item.get("author")),
                empty_layer=bool(item.get("empty_layer", False)),
            )
        )
    return entries


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def align_history(
    history: list[HistoryEntry], layer_count: int
) -> tuple[list[HistoryEntry], list[HistoryEntry | None], str | None]:
    """Pair layers with the history entries that created them.

    Entries with `empty_layer: true` own no layer, so the two lists are walked together and a
    layer is consumed only for the others. When the counts disagree the pairing would be a
    guess, so no layer gets an entry and the mismatch is returned as a warning.
    """
    owners = [entry for entry in history if not entry.empty_layer]
    if len(owners) != layer_count:
        warning = (
            f"history has {len(owners)} non-empty entries but the image has {layer_count} "
            "layers; layers are not attributed to instructions"
        )
        return history, [None] * layer_count, warning
    aligned: list[HistoryEntry] = []
    per_layer: list[HistoryEntry | None] = []
    layer_index = 0
    for entry in history:
        if entry.empty_layer:
            aligned.append(entry)
            continue
        owned = replace(entry, layer_index=layer_index)
        aligned.append(owned)
        per_layer.append(owned)
        layer_index += 1
    return aligned, per_layer, None


def _platform(config: Mapping[str, Any]) -> str | None:
    os_name, arch = config.get("os"), config.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        return None
    variant = config.get("variant")
    return f"{os_name}/{arch}" + (f"/{variant}" if isinstance(variant, str) and variant else "")


def assemble_image(
    *,
    config_bytes: bytes,
    blobs: Sequence[LayerBlob],
    source: str,
    target: str,
    reference: str | None,
    digest: str | None,
    config_digest: str | None = None,
    warnings: Sequence[str] = (),
    annotations: object = None,
) -> Image:
    """Validate what a source found and build the shared `Image` from it."""
    config = parse_json(config_bytes, "image config")
    if not isinstance(config, dict):
        raise ImageFormatError("image config is not a JSON object")
    if len(blobs) > MAX_LAYERS:
        raise ImageFormatError(
            f"the manifest lists {len(blobs)} layers; refusing more than {MAX_LAYERS}"
        )
    notes = list(warnings)
    actual_config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    if config_digest and config_digest != actual_config_digest:
        notes.append(
            f"config digest mismatch: the manifest names {config_digest} "
            f"but the config hashes to {actual_config_digest}"
        )
    rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        diff_ids = []
    if len(diff_ids) != len(blobs):
        notes.append(
            f"the config lists {len(diff_ids)} diff_ids but the manifest has {len(blobs)} layers"
        )
    history, per_layer, warning = align_history(_history_entries(config), len(blobs))
    if warning:
        notes.append(warning)
    layers = tuple(
        Layer(
            index=index,
            diff_id=diff_ids[index]
            if index < len(diff_ids) and is_digest(diff_ids[index])
            else None,
            digest=blob.digest,
            size=blob.size,
            media_type=blob.media_type,
            history=per_layer[index],
            opener=blob.opener,
            location=blob.location,
            blob_key=blob.blob_key,
            content_addressed=blob.content_addressed,
        )
        for index, blob in enumerate(blobs)
    )
    return Image(
        reference=reference,
        digest=digest,
        config_digest=config_digest or actual_config_digest,
        platform=_platform(config),
        source=source,
        target=target,
        layers=layers,
        history=tuple(history),
        config=config,
        warnings=tuple(notes),
        config_bytes=config_bytes,
        annotations=string_map(annotations),
    )


def string_map(value: object) -> dict[str, str]:
    """The string entries of an untrusted JSON object (annotations, labels); others dropped."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
