"""What reading the layers learnt besides their entries: problems, digest checks, counts.

Plain data shared by the walk (which fills it), the layer cache (which stores it) and the
report document (which shows it), so none of them needs the others to describe a layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ProblemKind(StrEnum):
    DAMAGED = "damaged"
    """The rest of the layer could not be read."""
    SKIPPED = "skipped"
    """One entry was refused or unreadable; the rest of the layer was read."""
    WARNING = "warning"
    """Odd or hostile but handled; nothing was lost."""


@dataclass
class LayerProblem:
    """Something in a layer that could not be read, was refused, or looked hostile."""

    layer_index: int
    message: str
    path: str | None = None
    kind: ProblemKind = ProblemKind.SKIPPED

    @property
    def fatal(self) -> bool:
        return self.kind is ProblemKind.DAMAGED

    @property
    def lost_content(self) -> bool:
        return self.kind is not ProblemKind.WARNING


@dataclass(frozen=True)
class LayerCheck:
    """The layer's digests as read, compared with what the manifest and config say."""

    digest_actual: str | None
    diff_id_actual: str | None
    verified: bool | None
    """True: both match; False: one differs (tampered or corrupt); None: not fully read."""


@dataclass
class WalkLog:
    """What the walk learnt besides the entries: problems and each layer's digest check."""

    problems: list[LayerProblem] = field(default_factory=list)
    checks: dict[int, LayerCheck] = field(default_factory=dict)
    entries: int = 0
    uncompressed_bytes: int = 0

    def report(self, layer: int, message: str, path: str | None, kind: ProblemKind) -> None:
        self.problems.append(LayerProblem(layer, message, path, kind))


@dataclass
class LayerStats:
    """What one layer did to the filesystem (directories are not counted)."""

    added: int = 0
    changed: int = 0
    deleted: int = 0
    entries: int = 0
