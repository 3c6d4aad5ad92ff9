"""Read every layer of an image (or take it from the layer cache), replay the layers in
order, and attribute each match to the file version that held it.

This is the part of scan() that loads the detectors (detect-secrets, Hyperscan, the content
readers); scan.py imports it only when some layer has to be read.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import replace

from ..checks import facts
from ..checks.context import CheckContext
from ..checks.rules import RULES as CHECK_RULES
from ..checks.run import run_checks
from ..content import ContentLimits
from ..detect.engine import Engine
from ..detect.history import METADATA_RULES, MetadataHit, scan_config, scan_history
from ..detect.paths import NAME_RULE_METAS
from ..detect.secrets_core import RULE_PREFIX as CORE_PREFIX
from ..detect.vendored import PackageFiles, is_vendored
from ..image.base import find_base
from ..image.model import Image, Layer
from ..layers.entries import EntryKind, Version
from ..layers.reader import layer_within_image_limits
from ..layers.timeline import Timeline
from ..model.findings import Finding, LayerRef, RemovedBy, Source
from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity
from ..model.walk_log import LayerProblem, ProblemKind, WalkLog
from .cache import FileState, LayerCache, file_state, image_identity
from .file_scan import FileMatch
from .layer_scan import FileHook, LayerOutcome, scan_layer
from .options import ProgressHook, ScanOptions, ScanResult
from .result_store import StoredResult
from .workers import FilePool, worker_count

logger = logging.getLogger("layerscan.scan")


def scan_image(
    image: Image,
    engine: Engine,
    options: ScanOptions,
    progress: ProgressHook | None = None,
    cache: LayerCache | None = None,
) -> ScanResult:
    """Scan an opened image (the engine's session must be active).

    Each layer is scanned on its own (or taken from the cache), then its entries are
    replayed in order into the timeline, which gives every file version its status.
    """
    timeline = Timeline()
    log = WalkLog()
    skipped: Counter[str] = Counter()
    packages = PackageFiles()
    content = ContentLimits(
        max_file_bytes=options.max_file_bytes, max_depth=options.max_archive_depth
    )
    rules = rule_catalog(engine)
    matches: dict[Version, list[FileMatch]] = {}
    files = scanned_bytes = 0
    limits = options.walk_limits
    pool: FilePool | None = None
    waiting: deque[tuple[Layer, LayerOutcome, bool, FileState | None]] = deque()
    read_before: dict[str, LayerOutcome] = {}  # by blob key: a repeated layer is read once
    reusable = False  # whether this scan's result may be stored for the image
    facts_by_layer: dict[int, tuple[dict[str, bytes], dict[str, list[str]]]] = {}

    def settle() -> None:
        """Replay, in order, the layers whose outcomes are complete (while later layers are
        still read or scanned: the replay overlaps the workers' scanning)."""
        nonlocal reusable
        while waiting and waiting[0][1].batches_out == 0:
            layer, outcome, cached, before = waiting.popleft()
            if outcome.read_in_place and file_state(layer.location) != before:
                outcome.problems.append(
                    LayerProblem(
                        layer.index,
                        "the image's file changed while this layer was scanned: its files may "
                        "not have been read as the bytes its digest was checked on",
                        None,
                        ProblemKind.DAMAGED,
                    )
                )
            if cache is not None and not cached:
                cache.put(layer, outcome, before)
            if not (cached or outcome.cacheable):
                reusable = False
            log.problems.extend(outcome.problems)
            if outcome.check is not None:
                log.checks[layer.index] = outcome.check
            skipped.update(outcome.skipped)
            packages.update(outcome.packages)
            if outcome.kept or outcome.installed:
                facts_by_layer[layer.index] = (outcome.kept, outcome.installed)
            _replay(outcome, timeline, log, matches)

    image_key = None
    if cache is not None and options.reuse_image_results:
        image_key = cache.image_key(image_identity(image))  # where the result is stored
    reusable = image_key is not None  # every layer complete and verified, so far

    try:
        for layer in image.layers:
            timeline.begin_layer(layer.index)
            if not layer_within_image_limits(layer.index, log, limits):
                reusable = False
                continue
            before = file_state(layer.location)
            first = read_before.get(layer.blob_key) if layer.blob_key else None
            found = (
                repeated(first, layer.index)
                if first is not None
                else cache.get(layer, rules)
                if cache is not None
                else None
            )
            cached = found is not None
            if found is None:
                if pool is None and _wants_workers(image, options):
                    pool = FilePool(engine, content, worker_count(options.workers))
                on_file = _layer_progress(
                    progress, layer.index, len(image.layers), files, scanned_bytes
                )
                outcome = scan_layer(layer, engine, limits, content, log, on_file, pool)
            else:
                outcome = found
                logger.info(
                    "layer %d: %s",
                    layer.index,
                    "the same blob as an earlier layer, read once"
                    if first is not None
                    else f"taken from the cache ({layer.diff_id})",
                )
            if layer.blob_key and first is None:
                read_before[layer.blob_key] = outcome
            log.entries += outcome.entries_read
            log.uncompressed_bytes += 0 if first is not None else outcome.uncompressed_bytes
            files += outcome.files
            scanned_bytes += outcome.bytes
            if progress is not None:
                progress(layer.index, len(image.layers), files, scanned_bytes)
            waiting.append((layer, outcome, cached, before))
            if pool is not None:
                pool.poll()
            settle()
        while waiting:  # every layer was read; the workers finish theirs
            if pool is None or not pool.collect_some():
                raise RuntimeError("a layer waits for batches no worker has")
            if not pool.busy:
                pool.close()  # their memory is given back before the last replays
            settle()
    finally:
        if pool is not None:
            pool.close()
    log.problems.sort(key=lambda problem: problem.layer_index)  # stable: in-layer order kept
    findings = _file_findings(image, matches, packages)
    findings += _metadata_findings(image, scan_history(image, engine) + scan_config(image, engine))
    findings += run_checks(_check_context(image, timeline, facts_by_layer, packages))
    findings.sort(key=_finding_order)
    if cache is not None and image_key is not None and reusable:
        cache.put_image_result(
            image_key,
            StoredResult(findings, log, timeline.stats, rules, skipped, files, scanned_bytes),
        )
    return ScanResult(
        image=image,
        findings=findings,
        log=log,
        timeline=timeline,
        rules=rules,
        skipped=skipped,
        files_scanned=files,
        bytes_scanned=scanned_bytes,
    )


def repeated(first: LayerOutcome, index: int) -> LayerOutcome:
    """The outcome of a layer whose blob an earlier layer already read: the same entries and
    matches, as this layer's. Read again, a manifest listing one layer thousands of times
    would cost thousands of reads; replayed, it costs its entries (bounded by max_entries).
    The matches dict is shared, not copied: the workers may still be filling it, and the
    earlier layer settles (complete) before this one does."""
    return replace(
        first,
        index=index,
        entries=[
            replace(entry, layer_index=index, version=None, stored_at=None, _reader=None)
            for entry in first.entries
        ],
        problems=[replace(problem, layer_index=index) for problem in first.problems],
        files=0,
        bytes=0,
        batches_out=0,
        read_in_place=False,
    )


def _replay(
    outcome: LayerOutcome, timeline: Timeline, log: WalkLog, matches: dict[Version, list[FileMatch]]
) -> None:
    """Apply one layer's entries to the timeline; attach its matches to the versions."""
    for position, entry in enumerate(outcome.entries):
        version = timeline.apply(entry, log)
        if version is None:
            continue
        if entry.kind is EntryKind.HARDLINK:
            if version.content is not None and version.content in matches:
                matches[version] = matches[version.content]
        elif position in outcome.matches:
            matches[version] = outcome.matches[position]


PARALLEL_FROM = 32 << 20
"""Below this many bytes of layers, starting worker processes costs more than it saves."""


def _wants_workers(image: Image, options: ScanOptions) -> bool:
    if options.workers is not None and options.workers != 0:
        return options.workers > 0
    if worker_count(None) == 0:
        return False
    return sum(layer.size or 0 for layer in image.layers) >= PARALLEL_FROM


def _check_context(
    image: Image,
    timeline: Timeline,
    facts_by_layer: dict[int, tuple[dict[str, bytes], dict[str, list[str]]]],
    packages: PackageFiles,
) -> CheckContext:
    """What the hygiene checks read: the final version of each kept file and package
    database, taken from the layer that wrote it."""
    files: dict[str, bytes] = {}
    installed: set[str] = set()
    for path in (*facts.KEPT_FILES, *facts.PACKAGE_DATABASES):
        version = timeline.present(path)
        kept, databases = facts_by_layer.get(version.layer_index, ({}, {})) if version else ({}, {})
        if path in kept:
            files[path] = kept[path]
        installed.update(databases.get(path, ()))
    return CheckContext(
        image, timeline, find_base(image), files, frozenset(installed), packages.owns
    )


def rule_catalog(engine: Engine) -> dict[str, RuleMeta]:
    """Every rule id a finding of this engine can carry."""
    catalog = engine.catalog()
    catalog.update({rule.id: rule for rule in (*METADATA_RULES, *NAME_RULE_METAS)})
    catalog.update(CHECK_RULES)
    return catalog


def _layer_progress(
    progress: ProgressHook | None, index: int, count: int, files: int, scanned: int
) -> FileHook | None:
    if progress is None:
        return None
    hook = progress
    return lambda layer_files, layer_bytes: hook(
        index, count, files + layer_files, scanned + layer_bytes
    )


def layer_ref(image: Image, index: int) -> LayerRef:
    layer = image.layers[index]
    history = layer.history
    return LayerRef(index, layer.diff_id, layer.instruction, history.index if history else None)


def _file_findings(
    image: Image, matches: dict[Version, list[FileMatch]], packages: PackageFiles
) -> list[Finding]:
    findings: list[Finding] = []
    for version, found in matches.items():
        if version.duplicate:
            continue  # the same name later in the same layer replaced this one
        removed_by = None
        if version.removed_by is not None:
            removed_by = RemovedBy(version.removed_by, image.layers[version.removed_by].instruction)
        for match, nested_path in found:
            vendored = is_vendored(version.display_path, packages, nested_path)
            downgrade = vendored and not match.verified
            findings.append(
                Finding(
                    rule=match.rule,
                    source=Source.FILE,
                    secret=match.secret,
                    layer=layer_ref(image, version.layer_index),
                    path=version.display_path,
                    nested_path=nested_path,
                    line=match.line,
                    status=version.status,
                    removed_by=removed_by,
                    severity=Severity.LOW if downgrade else match.severity,
                    confidence=Confidence.LOW if downgrade else None,
                    reason="vendored" if downgrade else None,
                    note=match.note,
                    also_matched=list(match.also),
                )
            )
    return findings


def _metadata_findings(image: Image, hits: list[MetadataHit]) -> list[Finding]:
    """History and config findings; one ARG seen by several steps is one finding, and one
    secret under one key that several rules saw is one finding under the most telling rule
    (the others in `also_matched`)."""
    merged: dict[tuple[str, str, str], Finding] = {}
    for hit in hits:
        identity = (hit.source, hit.key, hit.match.secret)
        existing = merged.get(identity)
        if existing is None:
            merged[identity] = _metadata_finding(image, hit)
        elif existing.rule.id == hit.match.rule.id:
            if hit.history_index is not None:
                existing.also_in_history.append(hit.history_index)
        elif _specificity(hit.match.rule) < _specificity(existing.rule):
            better = _metadata_finding(image, hit)
            better.also_matched = sorted(
                {existing.rule.id, *existing.also_matched, *better.also_matched}
            )
            better.also_in_history = existing.also_in_history
            merged[identity] = better
        else:
            existing.also_matched = sorted({*existing.also_matched, hit.match.rule.id})
    return list(merged.values())


def _metadata_finding(image: Image, hit: MetadataHit) -> Finding:
    layer = None
    if hit.history_index is not None:
        entry = image.history[hit.history_index]
        layer_index = entry.layer_index
        layer = LayerRef(
            layer_index,
            image.layers[layer_index].diff_id if layer_index is not None else None,
            entry.instruction,
            entry.index,
        )
    return Finding(
        rule=hit.match.rule,
        source=Source(hit.source),
        secret=hit.match.secret,
        layer=layer,
        line=None,
        key=hit.key,
        severity=hit.match.severity,
        note=hit.match.note,
        also_matched=list(hit.match.also),
    )


def _specificity(rule: RuleMeta) -> int:
    """0 for a provider's format, 1 for a key that names a secret, 2 for our generic rules,
    3 for detect-secrets' heuristics: the lower, the more a finding says."""
    if rule.id.startswith(CORE_PREFIX):
        return 3
    if rule.generic:
        return 2
    return 1 if rule in METADATA_RULES else 0


def _finding_order(finding: Finding) -> tuple[int, int, str, str, int, str, str]:
    """Source, layer, place, archive member, line, rule, then the fingerprint: an order that
    depends neither on which process scanned what nor on set order (two secrets of one rule
    on one line came out in either order from run to run)."""
    layer = finding.layer.index if finding.layer and finding.layer.index is not None else -1
    source_rank = {Source.FILE: 0, Source.HISTORY: 1, Source.CONFIG: 2}[finding.source]
    return (
        source_rank,
        layer,
        finding.path or finding.key or "",
        finding.nested_path or "",
        finding.line or 0,
        finding.rule.id,
        finding.fingerprint,
    )
