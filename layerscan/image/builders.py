"""Which tool wrote a history step: each builder has its own way of writing `created_by`.

- BuildKit: `RUN /bin/sh -c CMD # buildkit`, bare `ENV A=B`, comment `buildkit.dockerfile.v0`;
- the classic builder: `/bin/sh -c #(nop)  ENV A=B` and `|N K=V /bin/sh -c CMD`;
- buildah (and podman): the classic builder's form, in an image whose config carries the
  `io.buildah.version` label;
- `docker import`: no command, the comment `Imported from ...`.
"""

from __future__ import annotations

from enum import StrEnum

from ..model.instruction import KEYWORDS
from .model import HistoryEntry, Image, string_map

BUILDAH_LABEL = "io.buildah.version"
BUILDKIT_COMMENT = "buildkit.dockerfile.v0"


class Builder(StrEnum):
    CLASSIC = "classic"
    BUILDKIT = "buildkit"
    BUILDAH = "buildah"
    IMPORT = "import"
    UNKNOWN = "unknown"


def built_by_buildah(image: Image) -> bool:
    """buildah labels every image it commits with its version."""
    labels = string_map((image.config.get("config") or {}).get("Labels"))
    return BUILDAH_LABEL in labels


def builder_of(entry: HistoryEntry, image: Image) -> Builder:
    """The builder that wrote one history step, told by its shape."""
    text = entry.created_by.strip()
    comment = entry.comment or ""
    if not text:
        return Builder.IMPORT if comment.startswith("Imported from") else Builder.UNKNOWN
    if comment == BUILDKIT_COMMENT or text.endswith("# buildkit"):
        return Builder.BUILDKIT
    keyword = text.split(" ", 1)[0]
    if keyword in KEYWORDS:  # BuildKit writes the instruction itself, without a shell
        return Builder.BUILDKIT
    classic_shape = "#(nop)" in text[:40] or text.startswith(("/bin/sh -c ", "|"))
    if classic_shape:
        return Builder.BUILDAH if built_by_buildah(image) else Builder.CLASSIC
    return Builder.UNKNOWN
