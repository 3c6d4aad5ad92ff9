"""Images in a running Docker engine, read through the Docker SDK for Python.

The engine only hands out whole images as a `docker save` stream whose manifest comes last,
so the stream is spooled once to a private temporary directory (never held in memory, never
written twice) and then read like any docker archive.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any, BinaryIO, cast

from ..errors import TargetError
from . import docker_archive
from .blobstore import SpoolStore
from .model import Image
from .source import OpenOptions, closing


class _ChunkStream(io.RawIOBase):
    """A readable stream over the SDK's iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _client() -> Any:
    import docker  # imported here: only this source needs the SDK and a reachable engine

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise TargetError(
            f"no Docker engine answers ({exc}); start one or set DOCKER_HOST, "
            "or scan a `docker save` tarball instead"
        ) from exc
    return client


def open_store(reference: str, max_bytes: int | None = None) -> tuple[SpoolStore, dict[str, Any]]:
    """Spool an engine's image and return it with the engine's own inspect data."""
    import docker

    client = _client()
    try:
        image = client.images.get(reference)
    except docker.errors.ImageNotFound as exc:
        raise TargetError(f"the Docker engine has no image {reference!r}") from exc
    except docker.errors.APIError as exc:
        raise TargetError(f"the Docker engine refused to look up {reference!r}: {exc}") from exc
    try:
        chunks = image.save(chunk_size=1 << 20, named=bool(image.tags))
        store = SpoolStore(
            cast(BinaryIO, io.BufferedReader(_ChunkStream(chunks), 1 << 20)),
            f"docker:{reference}",
            max_bytes,
        )
    except docker.errors.APIError as exc:
        raise TargetError(f"the Docker engine could not export {reference!r}: {exc}") from exc
    finally:
        client.close()
    return store, dict(image.attrs)


def load(store: SpoolStore, attrs: dict[str, Any], *, target: str, reference: str) -> Image:
    """Read the spooled image and add what only the engine knows (repo digests, tags)."""
    image = docker_archive.load(store, source="docker", target=target, image_ref=None)
    repo_digests = [d for d in attrs.get("RepoDigests") or [] if isinstance(d, str) and "@" in d]
    tags = [t for t in attrs.get("RepoTags") or [] if isinstance(t, str)]

    return replace(
        image,
        reference=image.reference or (tags[0] if tags else reference),
        digest=repo_digests[0].split("@", 1)[1] if repo_digests else image.digest,
    )


def open_source(location: str, *, target: str, options: OpenOptions, resources: ExitStack) -> Image:
    """`docker:REF`: an image of the engine DOCKER_HOST names, spooled (see source.py)."""
    store, attrs = open_store(location, options.max_spool_bytes)
    resources.enter_context(closing(store))
    return load(store, attrs, target=target, reference=location)
