"""Turn a target string into an `Image`: explicit schemes, or auto-detection (as syft does).

Schemes: `docker-archive:PATH`, `oci-dir:PATH`, `oci-archive:PATH`, `docker:REF`, and `-` for
a tar on stdin. A bare path is sniffed (directory -> OCI layout; tar -> whichever layout its
members show); anything else that looks like an image reference is asked of the local engine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from ..compression import sniff
from ..errors import TargetError, UsageError
from ..image import Image
from . import daemon, docker_archive, oci
from .blobstore import BlobStore, DirStore, SpoolStore, TarStore

SCHEMES = ("docker-archive", "oci-dir", "oci-archive", "docker")


@dataclass(frozen=True)
class OpenOptions:
    """How to pick one image out of a target that may hold several."""

    image_ref: str | None = None
    platform: str | None = None
    max_spool_bytes: int | None = 64 << 30
    """A stream (stdin, the engine) is spilled to a temporary directory; this bounds it."""


def _tar_store(path: str, stack: ExitStack) -> BlobStore:
    """A tar read in place, or spooled once when it is compressed (`docker save | gzip`)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise TargetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if sniff(head) == "none":
        return stack.enter_context(_closing(TarStore(path)))
    handle = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - the stack closes it
    return stack.enter_context(_closing(SpoolStore(handle, path)))


@contextmanager
def _closing(store: BlobStore) -> Iterator[BlobStore]:
    try:
        yield store
    finally:
        store.close()


def _split_scheme(target: str) -> tuple[str | None, str]:
    scheme, sep, rest = target.partition(":")
    if sep and scheme in SCHEMES:
        return scheme, rest
    return None, target


@contextmanager
def open_image(target: str, options: OpenOptions | None = None) -> Iterator[Image]:
    """Open any supported target as an Image; temporary spools are removed on exit."""
    options = options or OpenOptions()
    scheme, location = _split_scheme(target)
    with ExitStack() as stack:
        if target == "-":
            spool = SpoolStore(sys.stdin.buffer, "stdin", options.max_spool_bytes)
            store = stack.enter_context(_closing(spool))
            yield _from_tar_store(store, target, options)
            return
        if scheme is None:
            scheme = _detect_scheme(location)
        if not location:
            raise UsageError(f"{target!r} names no image")
        if scheme == "docker":
            store, attrs = daemon.open_store(location, options.max_spool_bytes)
            stack.enter_context(_closing(store))
            yield daemon.load(store, attrs, target=target, reference=location)
        elif scheme == "oci-dir":
            store = DirStore(location)
            yield oci.load(
                store,
                source="oci-dir",
                target=target,
                image_ref=options.image_ref,
                platform=options.platform,
            )
        elif scheme == "oci-archive":
            store = _tar_store(location, stack)
            yield oci.load(
                store,
                source="oci-archive",
                target=target,
                image_ref=options.image_ref,
                platform=options.platform,
            )
        elif scheme == "docker-archive":
            store = _tar_store(location, stack)
            yield docker_archive.load(
                store,
                source="docker-archive",
                target=target,
                image_ref=options.image_ref,
                platform=options.platform,
            )
        else:
            store = _tar_store(location, stack)
            yield _from_tar_store(store, target, options)


def _from_tar_store(store: BlobStore, target: str, options: OpenOptions) -> Image:
    if store.has("manifest.json"):
        return docker_archive.load(
            store,
            source="docker-archive",
            target=target,
            image_ref=options.image_ref,
            platform=options.platform,
        )
    if store.has("index.json"):
        return oci.load(
            store,
            source="oci-archive",
            target=target,
            image_ref=options.image_ref,
            platform=options.platform,
        )
    raise TargetError(
        f"{store.description} is a tar archive but not an image "
        "(no manifest.json or index.json inside)"
    )


def _detect_scheme(location: str) -> str:
    """Pick a scheme for a bare target: a path on disk first, then an engine reference."""
    if os.path.isdir(location):
        if os.path.isfile(os.path.join(location, "index.json")):
            return "oci-dir"
        raise TargetError(f"{location} is a directory but not an OCI image layout (no index.json)")
    if os.path.exists(location):
        return "auto-tar"
    if location.startswith(("/", "./", "../")) or location.endswith((".tar", ".tar.gz", ".tgz")):
        raise TargetError(f"{location} does not exist")
    return "docker"
