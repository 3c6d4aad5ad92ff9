"""Where the base image ends and the image's own steps begin.

A config lists the base's history steps first, then the image's own, with nothing between
them. The base is named by OCI annotations or labels when a builder recorded it
(`org.opencontainers.image.base.name` / `.base.digest`); where it ends is decided by the
first rule that applies (docs/history.md states them for users):

0. buildah with --layers says it: its first own step's comment is `FROM <base>`, each later
   one's `FROM <previous step's image>`;
1. the last CMD or ENTRYPOINT step that a layer-making step follows: a base image ends
   with its default command, and an image's own Dockerfile rarely sets one before its
   last RUN or COPY;
2. else where the builder of the last steps took over: a base imported from a root
   filesystem, or built by the classic builder, under steps BuildKit wrote;
3. else after the last step that imported a root filesystem (`docker import`) that other
   steps follow;
4. else no base is identified: every step is counted as the image's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .builders import Builder, builder_of
from .model import HistoryEntry, Image, string_map

BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"


@dataclass(frozen=True)
class BaseInfo:
    """The base as far as the image tells: its name, and how many steps and layers it owns."""

    name: str | None
    digest: str | None
    named_by: str | None
    """Where the name came from: "annotation", "label" or "buildah comment"; None when
    unnamed."""
    history_count: int
    """History entries 0 .. history_count-1 are the base's."""
    layer_count: int
    """Layers 0 .. layer_count-1 are the base's."""
    rule: str
    """Which rule placed the boundary: "buildah", "cmd", "import", "builder" or "none"."""


def find_base(image: Image) -> BaseInfo:
    """The base of an image: its name when recorded, and where its steps end."""
    name, digest, named_by = _recorded_name(image)
    history_count, rule = _boundary(image.history, image)
    layer_count = sum(1 for entry in image.history[:history_count] if not entry.empty_layer)
    return BaseInfo(name, digest, named_by, history_count, layer_count, rule)


def _recorded_name(image: Image) -> tuple[str | None, str | None, str | None]:
    labels = string_map((image.config.get("config") or {}).get("Labels"))
    for origin, mapping in (("annotation", image.annotations), ("label", labels)):
        name = mapping.get(BASE_NAME) or None
        digest = mapping.get(BASE_DIGEST) or None
        if name or digest:
            return name, digest, origin
    for entry in image.history:
        parent = _buildah_parent(entry)
        if parent is not None and not _IMAGE_ID.match(parent):
            return parent, None, "buildah comment"
    return None, None, None


_IMAGE_ID = re.compile(r"^[0-9a-f]{12,64}$")


def _buildah_parent(entry: HistoryEntry) -> str | None:
    """What a buildah step's comment says it was built on: `FROM <base>` on the first
    step of a stage, `FROM <id of the step before>` on the others."""
    comment = entry.comment or ""
    if comment.startswith("FROM ") and len(comment) < 512:
        return comment[5:].strip() or None
    return None


def _boundary(history: tuple[HistoryEntry, ...], image: Image) -> tuple[int, str]:
    # A layer made by a step that is not itself CMD/ENTRYPOINT: a squashed build (buildah
    # without --layers) gives the one layer of a stage to its last step, often CMD.
    makes_layer_after = [False] * (len(history) + 1)
    for position in range(len(history) - 1, -1, -1):
        entry = history[position]
        makes_layer = not entry.empty_layer and entry.parsed.keyword not in ("CMD", "ENTRYPOINT")
        makes_layer_after[position] = makes_layer_after[position + 1] or makes_layer
    parents = [i for i, entry in enumerate(history) if _buildah_parent(entry) is not None]
    if len(parents) > 1:  # a buildah --layers build: its first step names the base
        return parents[0], "buildah"
    for position in range(len(history) - 1, -1, -1):
        keyword = history[position].parsed.keyword
        if keyword in ("CMD", "ENTRYPOINT") and makes_layer_after[position + 1]:
            return position + 1, "cmd"
    builders = [builder_of(entry, image) for entry in history]
    last = builders[-1] if builders else Builder.UNKNOWN
    start = len(builders)
    while start > 0 and builders[start - 1] is last:
        start -= 1
    if last is not Builder.UNKNOWN and 0 < start < len(builders):
        imported = all(builder is Builder.IMPORT for builder in builders[:start])
        return start, "import" if imported else "builder"
    for position in range(len(history) - 2, -1, -1):
        if builders[position] is Builder.IMPORT:
            return position + 1, "import"
    return 0, "none"
