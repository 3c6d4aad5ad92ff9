"""OCI image layouts (`index.json` + `blobs/`), as a directory, a tar, or inside `docker save`.

Engines from Docker 25 on write `docker save` as an OCI layout plus a `manifest.json`; skopeo
and buildah write plain layouts with gzip or zstd layers. Indexes may nest (multi-platform
images); the walk below follows them to image manifests and picks one by reference and platform.
"""

from __future__ import annotations

import platform as host_platform
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import ImageFormatError, TargetError
from .blobstore import BlobStore, DirStore, blob_name, read_document
from .model import Image, LayerBlob, Opener, assemble_image, is_digest, listing, parse_json
from .source import OpenOptions, tar_store

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
_REF_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")
_MAX_INDEX_DEPTH = 4


@dataclass(frozen=True)
class ManifestChoice:
    """An image manifest reachable from the layout's index."""

    digest: str
    references: tuple[str, ...]
    platform: str | None


def host_default_platform() -> str:
    """linux/<this machine's architecture>, the platform an engine here would run."""
    machine = host_platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)
    return f"linux/{arch}"


def descriptor_platform(descriptor: dict[str, Any]) -> str | None:
    platform = descriptor.get("platform")
    if not isinstance(platform, dict):
        return None
    parts = [platform.get("os"), platform.get("architecture")]
    if platform.get("variant"):
        parts.append(platform["variant"])
    return "/".join(str(part) for part in parts if part) or None


def _references(descriptor: dict[str, Any]) -> tuple[str, ...]:
    annotations = descriptor.get("annotations")
    if not isinstance(annotations, dict):
        return ()
    return tuple(str(annotations[key]) for key in _REF_ANNOTATIONS if annotations.get(key))


MAX_DESCRIPTORS = 4096
"""Descriptors an index (with the indexes it nests) may list: a multi-platform image lists
tens; past this an index is a fan-out attack, refused before more documents are read."""


def list_manifests(store: BlobStore) -> list[ManifestChoice]:
    """Every image manifest the layout's index.json leads to (nested indexes followed)."""
    index = parse_json(read_document(store, "index.json", "image index"), "index.json")
    found: list[ManifestChoice] = []
    _collect(store, index, (), None, found, depth=0, seen=[0])
    return found


def _collect(
    store: BlobStore,
    index: Any,
    inherited_refs: tuple[str, ...],
    inherited_platform: str | None,
    found: list[ManifestChoice],
    depth: int,
    seen: list[int],
) -> None:
    if depth > _MAX_INDEX_DEPTH:
        raise ImageFormatError("image indexes nest more than 4 levels deep")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise ImageFormatError("image index has no manifests list")
    seen[0] += len(manifests)
    if seen[0] > MAX_DESCRIPTORS:
        raise ImageFormatError(
            f"the image index lists more than {MAX_DESCRIPTORS} manifests (nested indexes "
            "included); refused"
        )
    for descriptor in manifests:
        if not isinstance(descriptor, dict) or not is_digest(descriptor.get("digest")):
            raise ImageFormatError("image index holds a descriptor without a valid digest")
        digest = descriptor["digest"]
        refs = _references(descriptor) or inherited_refs
        platform = descriptor_platform(descriptor) or inherited_platform
        media_type = descriptor.get("mediaType")
        if media_type in INDEX_TYPES:
            nested = parse_json(read_document(store, blob_name(digest), "image index"), digest)
            _collect(store, nested, refs, platform, found, depth + 1, seen)
        elif media_type in MANIFEST_TYPES or media_type is None:
            if platform and platform.startswith("unknown/"):
                continue  # BuildKit attestation manifests are not images
            found.append(ManifestChoice(digest, refs, platform))


def _matches_reference(choice: ManifestChoice, wanted: str) -> bool:
    return any(
        ref == wanted or ref.endswith("/" + wanted) or ref.split(":")[-1] == wanted
        for ref in choice.references
    )


def choose_manifest(
    choices: list[ManifestChoice], image_ref: str | None, platform: str | None, where: str
) -> ManifestChoice:
    """Pick one manifest, or explain which references and platforms there are to pick from."""
    if not choices:
        raise ImageFormatError(f"{where} holds no image manifest")
    candidates = choices
    if image_ref:
        candidates = [choice for choice in choices if _matches_reference(choice, image_ref)]
        if not candidates:
            raise TargetError(f"{where} has no image {image_ref!r}; it holds: {_describe(choices)}")
    if len(candidates) > 1:
        wanted_platform = platform or host_default_platform()
        on_platform = [c for c in candidates if c.platform == wanted_platform]
        if len(on_platform) == 1:
            return on_platform[0]
        if platform or len({c.references for c in candidates}) > 1:
            raise TargetError(
                f"{where} holds several images; choose one with --image REF "
                f"(and --platform): {_describe(candidates)}"
            )
        raise TargetError(
            f"{where} holds this image for several platforms; choose one with --platform: "
            f"{_describe(candidates)}"
        )
    return candidates[0]


def _describe(choices: list[ManifestChoice]) -> str:
    """The choices, for an error message: the first few, each name cut short (an index may
    list thousands, with names of any length)."""
    return listing(
        f"{'/'.join(c.references) or c.digest[:19]}" + (f" [{c.platform}]" if c.platform else "")
        for c in choices
    )


def manifest_descriptors(manifest: Any, where: str) -> tuple[dict[str, Any], list[Any]]:
    """An image manifest's config descriptor and layers list, checked for their shape."""
    if not isinstance(manifest, dict):
        raise ImageFormatError(f"{where} is not a JSON object")
    config = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config, dict) or not is_digest(config.get("digest")):
        raise ImageFormatError(f"{where} has no valid config descriptor")
    if not isinstance(layers, list):
        raise ImageFormatError(f"{where} has no layers list")
    return config, layers


def load_manifest(
    store: BlobStore,
    manifest_digest: str,
    *,
    source: str,
    target: str,
    reference: str | None,
) -> Image:
    """Build an Image from one manifest of the layout."""
    manifest = parse_json(read_document(store, blob_name(manifest_digest), "manifest"), "manifest")
    config, layers = manifest_descriptors(manifest, f"manifest {manifest_digest}")
    blobs: list[LayerBlob] = []
    for position, descriptor in enumerate(layers):
        if not isinstance(descriptor, dict) or not is_digest(descriptor.get("digest")):
            shown = descriptor.get("digest") if isinstance(descriptor, dict) else descriptor
            reason = f"the manifest gives layer {position} no valid digest ({str(shown)[:80]!r})"
            blobs.append(LayerBlob(opener=refusing_opener(reason)))
            continue
        digest = descriptor["digest"]
        name = blob_name(digest)
        blobs.append(
            LayerBlob(
                opener=opener_or_missing(store, name),
                location=store.location(name) if store.has(name) else None,
                blob_key=name,
                digest=digest,
                size=descriptor.get("size") if isinstance(descriptor.get("size"), int) else None,
                media_type=str(descriptor.get("mediaType") or "") or None,
            )
        )
    config_digest = config["digest"]
    return assemble_image(
        config_bytes=read_document(store, blob_name(config_digest), "image config"),
        blobs=blobs,
        source=source,
        target=target,
        reference=reference,
        digest=manifest_digest,
        config_digest=config_digest,
        annotations=manifest.get("annotations"),
    )


def refusing_opener(message: str) -> Opener:
    """An opener for a layer the manifest names wrongly: reading it fails with the reason,
    and only that layer is lost."""

    def refuse() -> BinaryIO:
        raise FileNotFoundError(message)

    return refuse


def opener_or_missing(store: BlobStore, name: str) -> Opener:
    """A missing blob fails when its layer is read, so the other layers are still scanned."""
    if store.has(name):
        return store.opener(name)

    def missing() -> BinaryIO:
        raise FileNotFoundError(f"blob {name} is missing from {store.description}")

    return missing


def load(
    store: BlobStore,
    *,
    source: str,
    target: str,
    image_ref: str | None = None,
    platform: str | None = None,
) -> Image:
    """Open the image a layout holds (one of several, chosen by reference and platform)."""
    choice = choose_manifest(list_manifests(store), image_ref, platform, store.description)
    reference = choice.references[0] if choice.references else None
    return load_manifest(store, choice.digest, source=source, target=target, reference=reference)


def open_dir(location: str, *, target: str, options: OpenOptions, resources: ExitStack) -> Image:
    """`oci-dir:PATH`: an OCI image layout directory (see source.py)."""
    return load(
        DirStore(location),
        source="oci-dir",
        target=target,
        image_ref=options.image_ref,
        platform=options.platform,
    )


def open_archive(
    location: str, *, target: str, options: OpenOptions, resources: ExitStack
) -> Image:
    """`oci-archive:PATH`: an OCI image layout in a tar (see source.py)."""
    return load(
        tar_store(location, resources, options.max_spool_bytes),
        source="oci-archive",
        target=target,
        image_ref=options.image_ref,
        platform=options.platform,
    )
