"""One layer scanned on its own: its entries, the matches in its files, what went wrong.

A layer's outcome depends only on its bytes, the rules and the options, never on the other
layers: whiteouts, statuses and vendoring are decided later, when image_scan.py replays every
layer's entries in order. That is what lets a layer's outcome be cached by its diff_id and
reused by every image that shares the layer.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..checks import facts
from ..content.limits import ContentLimits
from ..content.shard import shard_of
from ..detect.engine import Engine, Match
from ..detect.vendored import PackageFiles
from ..image.model import Layer
from ..layers.entries import Entry, EntryKind
from ..layers.reader import WalkLimits, iter_layer
from ..model.rule_meta import RuleMeta
from ..model.severity import Severity
from ..model.walk_log import LayerCheck, LayerProblem, ProblemKind, WalkLog
from . import result_store as store
from .file_scan import FileMatch, Skip, scan_file
from .memory import give_back_free_pages
from .workers import BATCH_BYTES, BATCH_FILES, BatchFailure, FileJob, FilePool, JobResult

logger = logging.getLogger("layerscan.scan")

FileHook = Callable[[int, int], None]
"""Called after each file with (files so far, bytes so far) of this layer."""

_TRIM_EVERY = 16 << 20
"""Bytes read between two calls to give_back_free_pages (16 MiB: peak 10 MiB lower than 64)."""
PARK_FROM = 1 << 20
"""A file this large reaches its worker through the pool's directory (FilePool.park)."""
SHARD_FROM = 2 << 20
"""A zip this large (a wheel, a jar) is split between the workers, member by member."""


FileBytes = bytes
"""(`bytes` is also a field of LayerOutcome: this names the type inside it.)"""


@dataclass
class LayerOutcome:
    """Everything one layer contributes to a scan."""

    index: int
    entries: list[Entry] = field(default_factory=list)
    matches: dict[int, list[FileMatch]] = field(default_factory=dict)
    """Matches by the position of their entry in `entries`."""
    problems: list[LayerProblem] = field(default_factory=list)
    check: LayerCheck | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    files: int = 0
    bytes: int = 0
    packages: set[str] = field(default_factory=set)
    """Paths the layer's package databases list (for the vendored-code test)."""
    kept: dict[str, FileBytes] = field(default_factory=dict)
    """The bytes of the small files the hygiene checks read (checks/facts.py), by path."""
    installed: dict[str, list[str]] = field(default_factory=dict)
    """What each package database this layer wrote lists as installed, by its path."""
    entries_read: int = 0
    uncompressed_bytes: int = 0
    batches_out: int = 0
    """Batches of this layer's files still with the workers: complete at 0."""
    read_in_place: bool = False
    """Workers read some of its files in the image's file (see Entry.stored_at): the file
    must not have changed since the layer was read and hashed."""

    @property
    def cacheable(self) -> bool:
        """Only a layer read to its end whose digests both matched: then its diff_id names
        exactly these bytes (and no limit that depends on other layers cut it short)."""
        return (
            self.check is not None
            and self.check.verified is True
            and not any(p.kind is ProblemKind.DAMAGED for p in self.problems)
        )


def scan_layer(
    layer: Layer,
    engine: Engine,
    limits: WalkLimits,
    content: ContentLimits,
    totals: WalkLog,
    on_file: FileHook | None = None,
    pool: FilePool | None = None,
) -> LayerOutcome:
    """Stream one layer once: every entry, and the matches in every regular file.

    `totals` carries the image-wide counts (bytes, entries) the walk limits apply to. With a
    pool, file contents go to its workers and their matches arrive when the pool collects
    them: the outcome is complete only after `pool.drain()`.
    """
    log = WalkLog(entries=totals.entries, uncompressed_bytes=totals.uncompressed_bytes)
    outcome = LayerOutcome(layer.index)
    packages = PackageFiles()

    def record(position: int, path: str, found: list[FileMatch], skips: list[Skip]) -> None:
        for reason, nested in skips:
            outcome.skipped[reason] += 1
            member = f"!{nested}" if nested else ""
            logger.info("skipped %s%s in layer %d: %s", path, member, layer.index, reason)
        if found:
            outcome.matches.setdefault(position, []).extend(found)

    def collect(results: list[JobResult] | BatchFailure) -> None:
        outcome.batches_out -= 1
        if isinstance(results, BatchFailure):
            for path in results.paths:
                log.report(layer.index, f"not scanned: {results.reason}", path, ProblemKind.SKIPPED)
            return
        for position, found, skips in results:
            record(position, outcome.entries[position].display_path, found, skips)

    batches: dict[int, list[FileJob]] = {}
    batch_bytes: dict[int, int] = {}
    for entry in iter_layer(layer, log, limits):
        position = len(outcome.entries)
        outcome.entries.append(entry)
        if entry.kind is not EntryKind.FILE:
            continue
        if entry.size > content.max_file_bytes:
            entry.release()
            record(position, entry.display_path, [], [("over size limit", None)])
            continue
        data = entry.read(content.max_file_bytes)
        entry.release()  # kept until the replay: without its reader (and the tar it holds)
        outcome.files += 1
        outcome.bytes += len(data)
        if outcome.bytes // _TRIM_EVERY != (outcome.bytes - len(data)) // _TRIM_EVERY:
            give_back_free_pages()
        if on_file is not None:
            on_file(outcome.files, outcome.bytes)
        if PackageFiles.is_database(entry.display_path):
            packages.learn(entry.display_path, data)
        if facts.keeps(entry.path) and len(data) <= facts.MAX_KEPT_BYTES:
            outcome.kept[entry.path] = data
        elif facts.is_package_database(entry.path):
            outcome.installed[entry.path] = facts.installed_packages(entry.path, data)
        if pool is None:
            record(
                position, entry.display_path, *scan_file(entry.display_path, data, engine, content)
            )
            continue
        # Bytes that sit as they are in the image's file are read there by the worker: no
        # copy of them is pickled through its queue or parked.
        in_place = entry.stored_at if len(data) == entry.size else None
        outcome.read_in_place = outcome.read_in_place or in_place is not None
        if len(data) >= SHARD_FROM and data.startswith(b"PK\x03\x04"):
            # One large zip read by every worker at once, each its share of the members.
            shared = in_place or data
            outcome.batches_out += pool.share(position, entry.display_path, shared, collect)
            continue
        worker = shard_of(entry.display_path, pool.workers)
        sent = in_place or (pool.park(data) if len(data) >= PARK_FROM else data)
        batches.setdefault(worker, []).append((position, entry.display_path, sent, None))
        batch_bytes[worker] = batch_bytes.get(worker, 0) + len(data)
        if batch_bytes[worker] >= BATCH_BYTES or len(batches[worker]) >= BATCH_FILES:
            outcome.batches_out += 1
            pool.submit(batches.pop(worker), collect, worker)
            batch_bytes[worker] = 0
    if pool is not None:
        for worker, batch in batches.items():
            outcome.batches_out += 1
            pool.submit(batch, collect, worker)
    outcome.problems = log.problems
    outcome.check = log.checks.get(layer.index)
    outcome.entries_read = log.entries - totals.entries
    outcome.uncompressed_bytes = log.uncompressed_bytes - totals.uncompressed_bytes
    outcome.packages = packages.paths
    return outcome


# --- serialisation for the layer cache ------------------------------------------------------


def dump_outcome(outcome: LayerOutcome) -> bytes:
    """The outcome as JSON (never pickle: a cache file must not be able to run code)."""
    document = {
        "entries": [
            [
                e.path,
                str(e.kind),
                e.size,
                e.mode,
                e.mtime,
                e.uid,
                e.gid,
                e.link_target,
                e.ordinal,
                e.capabilities,
            ]
            for e in outcome.entries
        ],
        "matches": {
            str(position): [
                [
                    m.rule.id,
                    m.secret,
                    m.line,
                    None if m.severity is None else str(m.severity),
                    m.verified,
                    m.note,
                    nested,
                    list(m.also),
                ]
                for m, nested in found
            ]
            for position, found in outcome.matches.items()
        },
        "problems": [[p.message, p.path, str(p.kind)] for p in outcome.problems],
        "check": None
        if outcome.check is None
        else [outcome.check.digest_actual, outcome.check.diff_id_actual, outcome.check.verified],
        "skipped": dict(outcome.skipped),
        "files": outcome.files,
        "bytes": outcome.bytes,
        "packages": sorted(outcome.packages),
        "kept": {path: base64.b64encode(data).decode() for path, data in outcome.kept.items()},
        "installed": outcome.installed,
        "entries_read": outcome.entries_read,
        "uncompressed_bytes": outcome.uncompressed_bytes,
    }
    return json.dumps(document, separators=(",", ":")).encode("ascii")


_OUTCOME_FIELDS = (
    "entries",
    "matches",
    "problems",
    "check",
    "skipped",
    "files",
    "bytes",
    "packages",
    "kept",
    "installed",
    "entries_read",
    "uncompressed_bytes",
)


def load_outcome(data: bytes, index: int, rules: Mapping[str, RuleMeta]) -> LayerOutcome:
    """An outcome back from dump_outcome's JSON, checked field by field: Unusable if
    anything does not fit. Only what put stores can come back: a complete layer whose
    digests both matched, matches on its regular files, of rules these are."""
    document = store.record(store.read_json(data), _OUTCOME_FIELDS, "the outcome")
    entries = [_load_entry(item, index) for item in store.items(document["entries"], "entries")]
    matches: dict[int, list[FileMatch]] = {}
    for key, found in store.record_of(document["matches"], "matches").items():
        position = store.index_key(key, "a match's entry")
        if position >= len(entries) or entries[position].kind is not EntryKind.FILE:
            raise store.Unusable("a match names no regular file of the layer")
        matches[position] = [_load_match(item, rules) for item in store.items(found, "matches")]
    problems = []
    for item in store.items(document["problems"], "problems"):
        message, path, kind = store.items(item, "a problem", 3)
        problems.append(
            LayerProblem(
                index,
                store.text(message, "a problem's message"),
                store.maybe_text(path, "a problem's path"),
                store.member(ProblemKind, kind, "a problem's kind"),
            )
        )
    digest_actual, diff_id_actual, verified = store.items(document["check"], "the check", 3)
    return LayerOutcome(
        index=index,
        entries=entries,
        matches=matches,
        problems=problems,
        check=LayerCheck(
            store.digest(digest_actual, "the layer's digest"),
            store.digest(diff_id_actual, "the layer's diff_id"),
            store.truth(verified, "the layer's verified flag"),
        ),
        skipped=store.counts(document["skipped"], "skipped"),
        files=store.natural(document["files"], "files"),
        bytes=store.natural(document["bytes"], "bytes"),
        packages={
            store.text(path, "a package path")
            for path in store.items(document["packages"], "packages")
        },
        kept={
            _kept_path(path): _base64(data)
            for path, data in store.record_of(document["kept"], "kept files").items()
        },
        installed={
            _database_path(path): [
                store.text(name, "a package name") for name in store.items(names, "packages")
            ]
            for path, names in store.record_of(document["installed"], "installed").items()
        },
        entries_read=store.natural(document["entries_read"], "entries read"),
        uncompressed_bytes=store.natural(document["uncompressed_bytes"], "uncompressed bytes"),
    )


def _kept_path(path: str) -> str:
    if not facts.keeps(path):
        raise store.Unusable("a kept file the checks do not keep")
    return path


def _database_path(path: str) -> str:
    if not facts.is_package_database(path):
        raise store.Unusable("a package database the checks do not read")
    return path


def _base64(value: object) -> bytes:
    try:
        data = base64.b64decode(store.text(value, "a kept file"), validate=True)
    except ValueError as exc:
        raise store.Unusable("a kept file is not base64") from exc
    if len(data) > facts.MAX_KEPT_BYTES:
        raise store.Unusable("a kept file is larger than the checks keep")
    return data


_KINDS = {str(kind): kind for kind in EntryKind}
_BOUND = (1 << 63) - 1


def _load_entry(item: object, index: int) -> Entry:
    """One entry, checked field by field. A layer holds up to hundreds of thousands: the
    common case (every field right) is checked inline, and anything else goes through the
    readers one by one, which name what does not fit (or build the same entry)."""
    if type(item) is list and len(item) == 10:
        path, kind, size, mode, mtime, uid, gid, link, ordinal, capabilities = item
        if (
            type(path) is str
            and type(kind) is str
            and kind in _KINDS
            and type(size) is int
            and 0 <= size <= _BOUND
            and type(mode) is int
            and type(uid) is int
            and type(gid) is int
            and -_BOUND <= mode <= _BOUND
            and -_BOUND <= uid <= _BOUND
            and -_BOUND <= gid <= _BOUND
            and type(mtime) is float
            and math.isfinite(mtime)
            and (link is None or type(link) is str)
            and (ordinal is None or (type(ordinal) is int and 0 <= ordinal <= _BOUND))
            and type(capabilities) is bool
        ):
            return Entry(
                layer_index=index,
                path=path,
                kind=_KINDS[kind],
                size=size,
                mode=mode,
                mtime=mtime,
                uid=uid,
                gid=gid,
                link_target=link,
                ordinal=ordinal,
                capabilities=capabilities,
            )
    path, kind, size, mode, mtime, uid, gid, link, ordinal, capabilities = store.items(
        item, "an entry", 10
    )
    return Entry(
        layer_index=index,
        path=store.text(path, "an entry's path"),
        kind=store.member(EntryKind, kind, "an entry's kind"),
        size=store.natural(size, "an entry's size"),
        mode=store.integer(mode, "an entry's mode"),
        mtime=store.number(mtime, "an entry's mtime"),
        uid=store.integer(uid, "an entry's uid"),
        gid=store.integer(gid, "an entry's gid"),
        link_target=store.maybe_text(link, "an entry's link target"),
        ordinal=store.maybe_natural(ordinal, "an entry's position in its layer"),
        capabilities=store.truth(capabilities, "an entry's capabilities flag"),
    )


def _load_match(item: object, rules: Mapping[str, RuleMeta]) -> FileMatch:
    rule_id, secret, line, severity, verified, note, nested, also = store.items(item, "a match", 8)
    rule = rules.get(store.text(rule_id, "a match's rule"))
    if rule is None:
        raise store.Unusable("a match names a rule these rules lack")
    match = Match(
        rule,
        store.text(secret, "a match's secret"),
        store.maybe_natural(line, "a match's line"),
        store.maybe_member(Severity, severity, "a match's severity"),
        store.truth(verified, "a match's verified flag"),
        store.maybe_text(note, "a match's note"),
        also=tuple(
            store.text(rule, "a rule that also matched")
            for rule in store.items(also, "rules that also matched")
        ),
    )
    return match, store.maybe_text(nested, "a match's nested path")
