"""scan(target, options) -> ScanResult: the one entry point the CLI and the tests use.

The image streams through walk -> units -> detect once (image_scan.py). File matches are
attached to the version of the file that held them; statuses are only known when the last
layer has been replayed, so findings are assembled after the walk.

A rescan of an image the layer cache holds whole is served here, before the detectors are
loaded: it needs the cache key (hashes of the code and of the rules' text) and the stored
result, and importing and building the detectors would cost it several times more.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..detect.prefilter import available as prefilter_available
from ..detect.rule_files import RuleTexts, rule_texts
from ..image.model import Image
from ..image.open import open_image
from ..layers.timeline import Timeline
from ..model.findings import Kind
from .cache import LayerCache, code_fingerprint, image_identity, rules_fingerprint
from .options import ProgressHook, ScanOptions, ScanResult
from .result_store import StoredResult

if TYPE_CHECKING:
    from ..detect.engine import Engine

logger = logging.getLogger(__name__)
"""--verbose shows INFO: what was skipped and why."""


def build_engine(options: ScanOptions, texts: RuleTexts | None = None) -> Engine:
    """The detectors a scan runs with these options (and rules read by rule_texts)."""
    # Deferred: detect-secrets, Hyperscan and the rule regexes are what a cached rescan skips.
    from ..detect.engine import Engine
    from ..detect.rules import rules_from
    from ..detect.secrets_core import SecretsCore

    core = SecretsCore() if options.use_detect_secrets else None
    return Engine(rules_from(texts or rule_texts(options.rules_files)), core)


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
            options.open_options(),
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
    if options.kinds != frozenset(Kind):
        result.findings = [f for f in result.findings if f.kind in options.kinds]
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
    stored = cache.image_result(cache.image_key(image_identity(image)), len(image.layers))
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
