"""Turn a target string into an `Image`: explicit schemes, or auto-detection (as syft does).

Schemes: `docker-archive:PATH`, `oci-dir:PATH`, `oci-archive:PATH`, `docker:REF`, and `-` for
a tar on stdin. A bare path is sniffed (directory -> OCI layout; tar -> whichever layout its
members show); anything else that looks like an image reference is asked of the local engine.
Each scheme is one source module's `open_source` (see source.py for the contract).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from ..errors import TargetError, UsageError
from . import daemon, docker_archive, oci, registry
from .blobstore import BlobStore, SpoolStore
from .model import Image
from .source import OpenOptions, OpenSource, closing, tar_store

SOURCES: dict[str, OpenSource] = {
    "docker-archive": docker_archive.open_source,
    "oci-dir": oci.open_dir,
    "oci-archive": oci.open_archive,
    "docker": daemon.open_source,
    "registry": registry.open_source,
}
SCHEMES = tuple(SOURCES)


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
    with ExitStack() as resources:
        if target == "-":
            spool = SpoolStore(sys.stdin.buffer, "stdin", options.max_spool_bytes)
            store = resources.enter_context(closing(spool))
            yield _from_tar_store(store, target, options)
            return
        if scheme is None:
            scheme = _detect_scheme(location)
        if not location:
            raise UsageError(f"{target!r} names no image")
        if scheme == "auto-tar":
            store = tar_store(location, resources, options.max_spool_bytes)
            yield _from_tar_store(store, target, options)
        else:
            yield SOURCES[scheme](location, target=target, options=options, resources=resources)


def engine_reference(target: str) -> str | None:
    """The engine image a target names (`docker:REF`, or a bare name that is no path on
    disk), else None: what `export` copies straight from the engine's stream."""
    scheme, location = _split_scheme(target)
    if target == "-" or not location:
        return None
    if scheme is None:
        scheme = _detect_scheme(location)
    return location if scheme == "docker" else None


def _from_tar_store(store: BlobStore, target: str, options: OpenOptions) -> Image:
    """A tar of unknown layout: its members say which."""
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
