"""`docker save` tarballs: the legacy layout and the OCI layout newer engines write.

Both carry a `manifest.json` (a list of {Config, RepoTags, Layers}) whose entries name members
of the tar; Docker 25+ also writes `index.json` and names blobs `blobs/sha256/<hex>`. When only
`index.json` is there (an OCI archive handed to us as a docker archive), the OCI reader takes it.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from typing import Any

from ..errors import ImageFormatError, TargetError
from . import oci
from .blobstore import BlobStore, blob_name, normalise_member_name, read_document
from .model import Image, LayerBlob, assemble_image, listing, parse_json
from .source import OpenOptions, tar_store

LEGACY_LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar"
_BLOB_MEMBER = re.compile(r"^blobs/(sha256)/([0-9a-f]{64})$")


def _entry_refs(entry: dict[str, Any]) -> list[str]:
    tags = entry.get("RepoTags")
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def _choose_entry(entries: list[Any], image_ref: str | None, where: str) -> dict[str, Any]:
    valid = [entry for entry in entries if isinstance(entry, dict)]
    if not valid:
        raise ImageFormatError(f"manifest.json in {where} lists no images")
    described = listing("/".join(_entry_refs(e)) or str(e.get("Config", "?")) for e in valid)
    if image_ref:
        matches = [
            entry
            for entry in valid
            if any(
                ref == image_ref or ref.endswith("/" + image_ref) or ref.split(":")[0] == image_ref
                for ref in _entry_refs(entry)
            )
            or str(entry.get("Config", "")).startswith(image_ref.removeprefix("sha256:"))
        ]
        if len(matches) != 1:
            raise TargetError(f"{where} has no single image {image_ref!r}; it holds: {described}")
        return matches[0]
    if len(valid) > 1:
        raise TargetError(
            f"{where} holds {len(valid)} images; choose one with --image REF: {described}"
        )
    return valid[0]


def _member_digest(name: str) -> str | None:
    match = _BLOB_MEMBER.match(name)
    return f"{match.group(1)}:{match.group(2)}" if match else None


def _oci_layer_types(store: BlobStore) -> dict[str, tuple[str | None, int | None]]:
    """Media types and sizes by digest from the OCI manifests of a Docker 25+ save, if any."""
    if not store.has("index.json"):
        return {}
    found: dict[str, tuple[str | None, int | None]] = {}
    try:
        for choice in oci.list_manifests(store):
            manifest = parse_json(
                read_document(store, blob_name(choice.digest), "manifest"), "manifest"
            )
            for descriptor in manifest.get("layers", []) if isinstance(manifest, dict) else []:
                if isinstance(descriptor, dict) and isinstance(descriptor.get("digest"), str):
                    size = descriptor.get("size")
                    found[descriptor["digest"]] = (
                        descriptor.get("mediaType"),
                        size if isinstance(size, int) else None,
                    )
    except ImageFormatError:
        return {}
    return found


def load(
    store: BlobStore,
    *,
    source: str,
    target: str,
    image_ref: str | None = None,
    platform: str | None = None,
) -> Image:
    """Open the image a `docker save` tarball holds."""
    if not store.has("manifest.json"):
        if store.has("index.json"):
            return oci.load(
                store, source=source, target=target, image_ref=image_ref, platform=platform
            )
        raise TargetError(
            f"{store.description} is a tar archive but not an image: it has neither "
            "manifest.json nor index.json"
        )
    entries = parse_json(read_document(store, "manifest.json", "manifest"), "manifest.json")
    if not isinstance(entries, list):
        raise ImageFormatError(f"manifest.json in {store.description} is not a list")
    entry = _choose_entry(entries, image_ref, store.description)
    config_member = entry.get("Config")
    layer_members = entry.get("Layers")
    if not isinstance(config_member, str) or normalise_member_name(config_member) is None:
        raise ImageFormatError(f"manifest.json in {store.description} has no valid Config")
    if not isinstance(layer_members, list):
        raise ImageFormatError(f"manifest.json in {store.description} has no Layers list")
    oci_types = _oci_layer_types(store)
    blobs: list[LayerBlob] = []
    for position, member in enumerate(layer_members):
        name = normalise_member_name(member) if isinstance(member, str) else None
        if name is None:
            reason = (
                f"manifest.json names layer {position} {str(member)[:120]!r}, which is not a "
                "path inside the archive"
            )
            blobs.append(LayerBlob(opener=oci.refusing_opener(reason)))
            continue
        digest = _member_digest(name)
        media_type, size = oci_types.get(digest or "", (None, None))
        blobs.append(
            LayerBlob(
                opener=oci.opener_or_missing(store, name),
                location=store.location(name) if store.has(name) else None,
                blob_key=name,
                digest=digest,
                size=size if size is not None else (store.size(name) if store.has(name) else None),
                media_type=media_type or (LEGACY_LAYER_TYPE if digest is None else None),
            )
        )
    refs = _entry_refs(entry)
    config_digest = _member_digest(normalise_member_name(config_member) or "")
    if config_digest is None:
        # Legacy saves name the config `<hex>.json` after its own digest.
        stem = config_member.removesuffix(".json")
        config_digest = f"sha256:{stem}" if re.fullmatch(r"[0-9a-f]{64}", stem) else None
    return assemble_image(
        config_bytes=read_document(store, config_member, "image config"),
        blobs=blobs,
        source=source,
        target=target,
        reference=refs[0] if refs else None,
        digest=None,
        config_digest=config_digest,
    )


def open_source(location: str, *, target: str, options: OpenOptions, resources: ExitStack) -> Image:
    """`docker-archive:PATH`: a `docker save` tarball, plain or compressed (see source.py)."""
    return load(
        tar_store(location, resources, options.max_spool_bytes),
        source="docker-archive",
        target=target,
        image_ref=options.image_ref,
        platform=options.platform,
    )
