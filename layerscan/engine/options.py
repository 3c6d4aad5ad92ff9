"""What a scan is asked for (`ScanOptions`) and what it returns (`ScanResult`).

The public API's two data types, kept apart from the code that runs a scan so that
reporters, the policy and users' scripts can name them without loading the scanner.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..content.limits import ContentLimits
from ..image.distribution import RegistryOptions
from ..image.model import Image
from ..image.source import OpenOptions
from ..layers.reader import WalkLimits
from ..layers.timeline import Timeline
from ..model.findings import Finding, Kind
from ..model.rule_meta import RuleMeta
from ..model.walk_log import LayerProblem, WalkLog

DEFAULT_MAX_FILE_BYTES = 32 << 20


@dataclass(frozen=True)
class ScanOptions:
    image_ref: str | None = None
    platform: str | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    rules_files: tuple[Path, ...] = ()
    use_detect_secrets: bool = True
    walk_limits: WalkLimits = field(default_factory=WalkLimits)
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    """CA file, plain-HTTP hosts and credentials for `registry:` targets."""
    max_archive_depth: int = ContentLimits().max_depth
    cache_dir: Path | None = None
    """Where layer outcomes are cached (see cache.py); None scans without a cache."""
    reuse_image_results: bool = False
    """With a cache: an image whose layers, config and settings were all scanned before gets
    that scan's findings back without replaying its layers; its timeline then holds the
    per-layer counts only (enough for reports; `recover` and API users that walk versions
    leave this off)."""

    kinds: frozenset[Kind] = frozenset(Kind)
    """Which kinds of findings to report (`--checks`): both are always worked out, so the
    layer cache and stored results hold both, and the others are dropped at the end."""

    workers: int | None = None
    """Processes scanning file contents beside the reader: None or 0 for one per core (on
    images over PARALLEL_FROM bytes), 1 or more to force that many, -1 for none."""

    def open_options(self) -> OpenOptions:
        """How the target is opened: which image, platform, spool bound, registry settings."""
        return OpenOptions(
            self.image_ref, self.platform, self.walk_limits.max_image_bytes, self.registry
        )


@dataclass
class ScanResult:
    """Everything a reporter needs: the image, its timeline, findings and what went wrong."""

    image: Image
    findings: list[Finding]
    log: WalkLog
    timeline: Timeline
    rules: dict[str, RuleMeta]
    skipped: Counter[str] = field(default_factory=Counter)
    files_scanned: int = 0
    bytes_scanned: int = 0
    seconds: float = 0.0

    @property
    def problems(self) -> list[LayerProblem]:
        """What could not be read (a damaged layer, a refused entry): content was lost."""
        return [problem for problem in self.log.problems if problem.lost_content]

    @property
    def warnings(self) -> list[str]:
        """What looked wrong but lost nothing: the image's own and each layer's."""
        return list(self.image.warnings) + [
            f"layer {p.layer_index}" + (f" {p.path!r}" if p.path else "") + f": {p.message}"
            for p in self.log.problems
            if not p.lost_content
        ]

    @property
    def complete(self) -> bool:
        """False when some layer or entry could not be read (warnings lose nothing)."""
        return not self.problems


ProgressHook = Callable[[int, int, int, int], None]
"""(layer index, layer count, files scanned, bytes scanned), called as the walk goes."""
