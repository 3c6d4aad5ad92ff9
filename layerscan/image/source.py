"""The contract every image source keeps: one entry point, one signature, one `Image` out.

A source is a module with an `open_source` function of the `OpenSource` shape: given the
location from the target string (`PATH` of `oci-dir:PATH`, `REF` of `docker:REF`), the whole
target, the user's choice of image and platform, and an ExitStack for what must live as long
as the image (an open tar, a spool directory), it returns the assembled `Image` (model.py).
open.py maps each scheme to one; a new source is one new module and one line there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import TargetError
from ..streams.compression import sniff
from .blobstore import BlobStore, SpoolStore, TarStore
from .distribution import RegistryOptions
from .model import Image


@dataclass(frozen=True)
class OpenOptions:
    """How to pick one image out of a target that may hold several."""

    image_ref: str | None = None
    platform: str | None = None
    max_spool_bytes: int | None = 64 << 30
    """A stream (stdin, the engine) is spilled to a temporary directory; this bounds it."""
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    """CA file, plain-HTTP hosts and credentials for `registry:` targets."""


class OpenSource(Protocol):
    """The one entry point of every source module (`open_source`)."""

    def __call__(
        self, location: str, *, target: str, options: OpenOptions, resources: ExitStack
    ) -> Image: ...


@contextmanager
def closing(store: BlobStore) -> Iterator[BlobStore]:
    """Close a blob store when the image that reads from it is done."""
    try:
        yield store
    finally:
        store.close()


def tar_store(path: str, resources: ExitStack, max_spool_bytes: int | None) -> BlobStore:
    """A tar read in place, or spooled once when it is compressed (`docker save | gzip`),
    at most `max_spool_bytes` of it."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise TargetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if sniff(head) == "none":
        return resources.enter_context(closing(TarStore(path)))
    handle = resources.enter_context(open(path, "rb"))  # noqa: SIM115 - the stack closes it
    return resources.enter_context(closing(SpoolStore(handle, path, max_spool_bytes)))
