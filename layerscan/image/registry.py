"""`registry:HOST[:PORT]/REPO[:TAG|@DIGEST]`: an image read straight from a registry.

No daemon and no spool: the manifest (an index is resolved to this machine's platform, or
`--platform`), then the config are fetched and checked against their digests, and each layer
is a stream from the network that the walker reads as it arrives, its digest checked as it
streams (distribution.py). Because the config's diff_ids are known before any layer is
fetched, a layer the layer cache already holds is never downloaded: a blob fetched by digest
is the digest's bytes or fails its check, so the cache can trust the manifest's digest
without reading the blob (`Layer.content_addressed`).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from ..errors import ImageFormatError
from .distribution import MAX_CONFIG_BYTES, RegistryClient
from .model import Image, LayerBlob, assemble_image, is_digest, listing, parse_json
from .oci import (
    INDEX_TYPES,
    MAX_DESCRIPTORS,
    ManifestChoice,
    descriptor_platform,
    host_default_platform,
    manifest_descriptors,
)
from .reference import Reference, parse_reference
from .source import OpenOptions

_MAX_INDEX_DEPTH = 4


def _media_type(document: Any, header: str) -> str:
    declared = document.get("mediaType") if isinstance(document, dict) else None
    return str(declared or header or "")


def _platform_matches(offered: str | None, wanted: str) -> bool:
    """linux/arm64 matches linux/arm64/v8: a variant is only compared when one is asked for."""
    if offered is None:
        return False
    return offered == wanted or (wanted.count("/") == 1 and offered.startswith(wanted + "/"))


def _choose_platform(
    choices: list[ManifestChoice], platform: str | None, reference: Reference
) -> ManifestChoice:
    """This machine's platform (or --platform) among an index's images, or a clear refusal
    listing what the index offers."""
    if not choices:
        raise ImageFormatError(f"the index of registry:{reference} lists no image")
    wanted = platform or host_default_platform()
    matching = [choice for choice in choices if _platform_matches(choice.platform, wanted)]
    if len(matching) == 1:
        return matching[0]
    if not matching and len(choices) == 1 and platform is None:
        return choices[0]  # one image, of a platform it does not name: there is no choice
    offered = listing(sorted({choice.platform or "unnamed" for choice in choices}))
    if matching:
        raise ImageFormatError(
            f"registry:{reference} lists several images for {wanted}; give the digest "
            f"(registry:HOST/REPO@sha256:…) of one: {listing(c.digest for c in matching)}"
        )
    raise ImageFormatError(
        f"registry:{reference} has no image for {wanted}; it offers {offered} "
        "(choose one with --platform)"
    )


def _resolve(client: RegistryClient, reference: Reference, platform: str | None) -> tuple[Any, str]:
    """The image manifest (parsed) and its digest, an index followed to one platform."""
    body, header, digest = client.manifest(reference.reference)
    document = parse_json(body, f"the manifest of {reference}")
    for _ in range(_MAX_INDEX_DEPTH):
        if _media_type(document, header) not in INDEX_TYPES:
            return document, digest
        manifests = document.get("manifests") if isinstance(document, dict) else None
        if not isinstance(manifests, list) or len(manifests) > MAX_DESCRIPTORS:
            raise ImageFormatError(f"the index of {reference} has no usable manifests list")
        choices = [
            ManifestChoice(item["digest"], (), descriptor_platform(item))
            for item in manifests
            if isinstance(item, dict)
            and is_digest(item.get("digest"))
            and not str(descriptor_platform(item) or "").startswith("unknown/")
        ]
        choice = _choose_platform(choices, platform, reference)
        body, header, digest = client.manifest(choice.digest)
        document = parse_json(body, f"manifest {choice.digest}")
    raise ImageFormatError(f"the indexes of {reference} nest more than {_MAX_INDEX_DEPTH} deep")


def open_source(location: str, *, target: str, options: OpenOptions, resources: ExitStack) -> Image:
    """`registry:REF` (see source.py): the chosen manifest, its config, streamed layers."""
    reference = parse_reference(location)
    client = RegistryClient(reference, options.registry)
    resources.callback(client.close)
    manifest, digest = _resolve(client, reference, options.platform)
    config, layers = manifest_descriptors(manifest, f"the manifest of {reference}")
    config_bytes = client.blob_bytes(config["digest"], MAX_CONFIG_BYTES, "the image config")
    blobs = []
    for position, descriptor in enumerate(layers):
        if not isinstance(descriptor, dict) or not is_digest(descriptor.get("digest")):
            raise ImageFormatError(f"the manifest of {reference} gives layer {position} no digest")
        blob_digest = descriptor["digest"]
        size = descriptor.get("size") if isinstance(descriptor.get("size"), int) else None
        blobs.append(
            LayerBlob(
                opener=lambda d=blob_digest, s=size: client.open_blob(d, s),  # type: ignore[misc]
                digest=blob_digest,
                size=size,
                media_type=str(descriptor.get("mediaType") or "") or None,
                blob_key=f"{reference.host}/{reference.repository}@{blob_digest}",
                content_addressed=True,
            )
        )
    image = assemble_image(
        config_bytes=config_bytes,
        blobs=blobs,
        source="registry",
        target=target,
        reference=str(reference),
        digest=digest,
        config_digest=config["digest"],
        annotations=manifest.get("annotations"),
    )
    return image
