"""scan(target, options) -> ScanResult: the one entry point the CLI and the tests use.

The image streams through walk -> units -> detect once (image_scan.py). File matches are
attached to the version of the file that held them; statuses are only known when the last
layer has been replayed, so findings are assembled after the walk.

A rescan of an image the layer cache holds whole is served here, before the detectors are
loaded: it needs the cache key (hashes of the code and of the rules' text) and the stored
result, and importing and building the detectors would cost it several times more.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import LayerCache, code_fingerprint, rules_fingerprint
from .content import ContentLimits
from .detect.prefilter import available as prefilter_available
from .detect.rule_files import RuleTexts, rule_texts
from .result_store import StoredResult
from .sources import OpenOptions, open_image
from .timeline import Timeline
from .walk import LayerProblem, WalkLimits, WalkLog

if TYPE_CHECKING:
    from .detect.engine import Engine
    from .detect.rule_meta import RuleMeta
    from .findings import Finding
    from .image import Image

DEFAULT_MAX_FILE_BYTES = 32 << 20
logger = logging.getLogger(__name__)
"""--verbose shows INFO: what was skipped and why."""


@dataclass(frozen=True)
class ScanOptions:
    image_ref: str | None = None
    platform: str | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    rules_files: tuple[Path, ...] = ()
    use_detect_secrets: bool = True
    walk_limits: WalkLimits = field(default_factory=WalkLimits)
    max_archive_depth: int = ContentLimits().max_depth
    cache_dir: Path | None = None
    """Where layer outcomes are cached (see cache.py); None scans without a cache."""
    reuse_image_results: bool = False
    """With a cache: an image whose layers, config and settings were all scanned before gets
    that scan's findings back without replaying its layers; its timeline then holds the
    per-layer counts only (enough for reports; `recover` and API users that walk versions
    leave this off)."""
    workers: int | None = None
    """Processes scanning file contents beside the reader: None or 0 for one per core (on
    images over PARALLEL_FROM bytes), 1 or more to force that many, -1 for none."""


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


def build_engine(options: ScanOptions, texts: RuleTexts | None = None) -> Engine:
    """The detectors a scan runs with these options (and rules read by rule_texts)."""
    # Deferred: detect-secrets, Hyperscan and the rule regexes are what a cached rescan skips.
    from .detect.engine import Engine
    from .detect.rules import rules_from
    from .detect.secrets_core import SecretsCore

    core = SecretsCore() if options.use_detect_secrets else None
    return Engine(rules_from(texts or rule_texts(options.rules_files)), core)


ProgressHook = Callable[[int, int, int, int], None]
"""(layer index, layer count, files scanned, bytes scanned), called as the walk goes."""


def scan(
    target: str, options: ScanOptions | None = None, progress: ProgressHook | None = None
) -> ScanResult:
    """Open a target, scan every layer, the history and the config, and attribute findings."""
    options = options or ScanOptions()
    texts = rule_texts(options.rules_files)  # read once: the cache key and the engine agree
    # Built first unless a stored result may answer (then only if none does), so that
    # rules that do not parse are reported before the target is opened, as always.
    reuse = options.cache_dir is not None and options.reuse_image_results
    engine = None if reuse else build_engine(options, texts)
    started = time.monotonic()
    cache = open_cache(options, texts)
    try:
        with open_image(
            target,
            OpenOptions(options.image_ref, options.platform, options.walk_limits.max_image_bytes),
        ) as image:
            result = cached_result(image, options, cache)
            if result is None:
                engine = engine or build_engine(options, texts)
                with engine.session():
                    result = scan_image(image, engine, options, progress, cache)
    finally:
        if cache is not None:
            cache.close()
    result.seconds = time.monotonic() - started
    return result


def open_cache(options: ScanOptions, texts: RuleTexts | None = None) -> LayerCache | None:
    """The layer cache for these options, keyed by everything an outcome depends on: the
    code, the rules (`texts`, read by rule_texts when not given) and the settings."""
    if options.cache_dir is None:
        return None
    settings = "\0".join(
        [
            code_fingerprint(),
            rules_fingerprint(texts or rule_texts(options.rules_files)),
            repr(
                (
                    options.max_file_bytes,
                    options.max_archive_depth,
                    options.use_detect_secrets,
                    options.walk_limits,
                    prefilter_available(),  # Engine.uses_prefilter, without building one
                )
            ),
        ]
    )
    return LayerCache(options.cache_dir, settings)


def cached_result(
    image: Image, options: ScanOptions, cache: LayerCache | None
) -> ScanResult | None:
    """The stored result of an image whose layers, config and settings were all scanned
    before (see ScanOptions.reuse_image_results), or None."""
    if cache is None or not options.reuse_image_results:
        return None
    stored = cache.image_result(cache.image_key(image_identity(image)))
    if stored is None or not all(cache.holds(layer) for layer in image.layers):
        return None
    logger.info("every layer and the config were scanned before: results reused")
    return _from_stored(image, stored)


def scan_image(
    image: Image,
    engine: Engine,
    options: ScanOptions,
    progress: ProgressHook | None = None,
    cache: LayerCache | None = None,
) -> ScanResult:
    """Scan an opened image (the engine's session must be active); see image_scan."""
    from . import image_scan  # deferred: it loads the detectors

    return image_scan.scan_image(image, engine, options, progress, cache)


def image_identity(image: Image) -> list[str]:
    """What a scan's result depends on besides the settings: the config (history, ENV,
    labels) and each layer's identity."""
    return [
        json.dumps(image.config, sort_keys=True, ensure_ascii=False),
        *(
            f"{layer.index}|{layer.diff_id}|{layer.digest}|{layer.size}|{layer.media_type}"
            for layer in image.layers
        ),
    ]


def _from_stored(image: Image, stored: StoredResult) -> ScanResult:
    timeline = Timeline()
    timeline.stats.update(stored.stats)
    return ScanResult(
        image=image,
        findings=stored.findings,
        log=stored.log,
        timeline=timeline,
        rules=stored.rules,
        skipped=stored.skipped,
        files_scanned=stored.files_scanned,
        bytes_scanned=stored.bytes_scanned,
    )
