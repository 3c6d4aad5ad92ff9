"""Images in a running Docker engine, read through the Docker SDK for Python.

The engine only hands out whole images as a `docker save` stream whose manifest comes last,
so the stream is spooled once to a private temporary directory (never held in memory, never
written twice) and then read like any docker archive.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any, BinaryIO, cast

from ..errors import TargetError
from . import docker_archive
from .blobstore import SpoolStore
from .model import Image
from .source import OpenOptions, closing


class _ChunkStream(io.RawIOBase):
    """A readable stream over the SDK's iterator of byte chunks.

    The chunks are fetched by a thread of their own, at most `_AHEAD` chunks ahead: the engine
    keeps streaming while the reader hashes and writes (the socket would otherwise fill and
    stall the engine), and memory stays bounded.
    """

    _AHEAD = 32

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(self._AHEAD)
        self._pending = memoryview(b"")
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, args=(chunks,), daemon=True)
        self._thread.start()

    def _fetch(self, chunks: Iterable[bytes]) -> None:
        try:
            for chunk in chunks:
                while not self._stop.is_set():
                    try:
                        self._queue.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(None)
        except BaseException as exc:  # handed to the reader, which raises it as its own
            self._queue.put(exc)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            if self._done:
                return 0
            item = self._queue.get()
            if item is None:
                self._done = True
                return 0
            if isinstance(item, BaseException):
                self._done = True
                raise OSError(f"the engine's stream broke: {item}") from item
            self._pending = memoryview(item)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._stop.set()
        super().close()


def engine_address() -> str:
    """The engine the Docker SDK talks to: DOCKER_HOST, or the default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _client() -> Any:
    import docker  # imported here: only this source needs the SDK and a reachable engine

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        reason = " ".join(str(exc).split())[:300]
        raise TargetError(
            f"no Docker engine answers at {engine_address()} ({reason}); start one or set "
            "DOCKER_HOST, or give a `docker save` tarball instead"
        ) from exc
    return client


@contextmanager
def saved_stream(reference: str) -> Iterator[tuple[BinaryIO, dict[str, Any]]]:
    """The engine's `docker save` stream of one image (read as it arrives, never held whole)
    and the engine's own inspect data for it."""
    import docker

    client = _client()
    try:
        try:
            image = client.images.get(reference)
        except docker.errors.ImageNotFound as exc:
            raise TargetError(
                f"the Docker engine at {engine_address()} has no image {reference!r} (to read "
                "it from a registry without pulling it, use registry:HOST[:PORT]/REPO[:TAG])"
            ) from exc
        except docker.errors.APIError as exc:
            raise TargetError(f"the Docker engine refused to look up {reference!r}: {exc}") from exc
        # Keep the name the user gave when it is one of the image's tags (else the first one).
        named: str | bool = reference if reference in image.tags else bool(image.tags)
        try:
            chunks = image.save(chunk_size=1 << 20, named=named)
        except docker.errors.APIError as exc:
            raise TargetError(f"the Docker engine could not export {reference!r}: {exc}") from exc
        yield (
            cast(BinaryIO, io.BufferedReader(_ChunkStream(chunks), 1 << 20)),
            dict(image.attrs),
        )
    finally:
        client.close()


def open_store(reference: str, max_bytes: int | None = None) -> tuple[SpoolStore, dict[str, Any]]:
    """Spool an engine's image and return it with the engine's own inspect data."""
    with saved_stream(reference) as (stream, attrs):
        return SpoolStore(stream, f"docker:{reference}", max_bytes), attrs


def load(store: SpoolStore, attrs: dict[str, Any], *, target: str, reference: str) -> Image:
    """Read the spooled image and add what only the engine knows (repo digests, tags)."""
    image = docker_archive.load(store, source="docker", target=target, image_ref=None)
    return load_identity(image, attrs, reference)


def load_identity(image: Image, attrs: dict[str, Any], reference: str) -> Image:
    """The engine's names for an image read from its stream: a tag, and the registry digest
    when the image was pulled (the stream itself carries neither reliably)."""
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
