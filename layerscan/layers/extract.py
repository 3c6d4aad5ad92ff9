"""Lay an image out on disk for an investigator: every layer, the final filesystem, and every
file version a later layer deleted or overwrote, with a manifest of what was written.

    DIR/layers/NN-<diff_id>/   each layer's content as shipped (whiteouts.json lists its
                               whiteout markers, which are not written as files)
    DIR/rootfs/                the final filesystem, every whiteout applied
    DIR/removed/layer-N/       each version layer N wrote that a later layer removed
    DIR/manifest.json          a record per written path, the image's identity, `complete`

One pass over the layers writes each file's bytes once (into its layer's directory, or a
staging directory when layers/ is not wanted); once the walk has settled every version's
status, rootfs/ and removed/ get hard links to those bytes, so the three views cost one copy.
All writes go through dirtree.py (descriptors, O_NOFOLLOW, no devices or FIFOs, no set-id
bits, links only inside DIR); names are made host-safe by host_names.py.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError
from ..image.model import Image
from ..model.findings import Status
from ..model.safe_text import printable
from ..model.walk_log import ProblemKind, WalkLog
from ..version import __version__
from .dirtree import Conflict, DirTree, remove_tree
from .entries import Entry, EntryKind, Version
from .host_names import host_parts, raw_hex
from .reader import OPAQUE_MARKER, WHITEOUT_PREFIX, WalkLimits
from .recover import DEFAULT_MAX_SIZE
from .timeline import Timeline
from .walk import walk

MANIFEST = "manifest.json"
WHITEOUTS = "whiteouts.json"
_STAGING = ".staging"
_RECORDS = ".manifest.records"
_RESERVED_AT_LAYER_ROOT = frozenset({WHITEOUTS})
_CONTENT = (EntryKind.FILE, EntryKind.HARDLINK)


class Part(StrEnum):
    """The views `--only` chooses among."""

    LAYERS = "layers"
    ROOTFS = "rootfs"
    REMOVED = "removed"


@dataclass(frozen=True)
class ExtractOptions:
    parts: frozenset[Part] = frozenset(Part)
    layers: frozenset[int] | None = None
    """Only these layers' entries are written (all layers are still read: later layers decide
    what is present and what was removed)."""
    paths: tuple[str, ...] = ()
    """Shell patterns matched against absolute image paths (`*` matches `/` too); an entry is
    written when it or a directory above it matches."""
    symlinks: bool = False
    """Create symbolic links (never followed); by default they are only recorded."""
    max_file_size: int = DEFAULT_MAX_SIZE
    limits: WalkLimits = field(default_factory=WalkLimits)


@dataclass
class PartCount:
    files: int = 0
    bytes: int = 0


@dataclass
class ExtractSummary:
    """What was written, and whether it is the whole image as its digests say it is."""

    out_dir: Path
    complete: bool
    verified: bool | None
    """False: a layer's digests do not match (tampered or corrupt); None: not fully read."""
    counts: dict[str, PartCount]
    whiteouts: int
    records: int
    not_written: dict[str, int]
    """Entries not written to their layer's directory, by why: symbolic links (without
    --symlinks), special files (devices, FIFOs), left out (conflicts, limits, damage)."""
    problems: list[str]


@dataclass(frozen=True)
class _Place:
    """Where a version's bytes were written: a tree and the host-safe components in it."""

    tree: DirTree
    parts: tuple[str, ...]
    shown: str
    """The path relative to DIR, as the manifest records it."""
    sha256: str | None = None
    size: int = 0
    truncated: bool = False


@dataclass
class _Records:
    """manifest.json's records, streamed to a private file (an image can hold millions)."""

    handle: IO[str]
    count: int = 0

    def add(self, record: dict[str, Any]) -> None:
        """One record; its strings from the image are printable() already (see _record)."""
        self.handle.write(("," if self.count else "") + "\n    ")
        self.handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self.count += 1


Progress = Callable[[int, int | None], None]


def estimated_bytes(image: Image, options: ExtractOptions) -> int:
    """What extraction writes at least: the chosen layers' blob sizes (a compressed blob's
    tar is larger, so for those this is a lower bound)."""
    return sum(
        layer.size or 0
        for layer in image.layers
        if options.layers is None or layer.index in options.layers
    )


def _open_empty_dir(out_dir: Path) -> int:
    """Create DIR (or take an empty one) and enter it without following a link; a directory
    that holds anything is refused, so one extraction never mixes with another's files."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileExistsError as exc:
        raise OutputError(f"{out_dir} exists and is not a directory") from exc
    except OSError as exc:
        if os.path.islink(out_dir):
            raise OutputError(f"{out_dir} is a symbolic link; extract into a directory") from exc
        raise OutputError(f"cannot use {out_dir}: {exc.strerror or exc}") from exc
    if os.listdir(fd):
        os.close(fd)
        raise OutputError(
            f"{out_dir} is not empty; extract into a new or empty directory (two extractions "
            "never share one)"
        )
    return fd


def _check_space(root_fd: int, out_dir: Path, needed: int) -> None:
    info = os.fstatvfs(root_fd)
    free = info.f_bavail * info.f_frsize
    if needed > free:
        raise OutputError(
            f"{out_dir} has {free:,} bytes free but the image's layers hold at least "
            f"{needed:,}; free some space, choose another directory, or narrow the extraction "
            "with --layer, --path or --only"
        )


class _Extraction:
    """The state of one extraction: its trees, where each version went, what it recorded."""

    def __init__(
        self,
        image: Image,
        root_fd: int,
        out_dir: Path,
        options: ExtractOptions,
        clean: Callable[[str | None], str | None],
        progress: Progress | None,
        total: int | None,
    ) -> None:
        self.image = image
        self.root_fd = root_fd
        self.out_dir = out_dir
        self.options = options
        self.clean = clean
        self.progress = progress
        self.total = total
        self.written_bytes = 0
        self.width = max(2, len(str(max(len(image.layers) - 1, 0))))
        self.trees: dict[str, DirTree] = {}
        self.places: dict[int, _Place] = {}
        """id(version) -> where its bytes (or its directory, or its link) were written."""
        self.occupant: dict[tuple[int, tuple[str, ...]], int] = {}
        """(id(tree), parts) -> id(version) that last wrote there (a path twice in a layer)."""
        self.by_member: dict[tuple[str, int], _Place] = {}
        """(blob_key, ordinal) -> place: a layer listed twice is written from the first copy."""
        self.skipped: dict[int, str] = {}
        """id(version) -> why it was not written to its layer's directory."""
        self.whiteouts: dict[int, list[dict[str, str]]] = {}
        self.directories: dict[int, list[tuple[tuple[str, ...], int, float]]] = {}
        """id(tree) -> its directories' (parts, mode, mtime), applied once all is written."""
        self.lost_files = 0
        """Regular files the image holds that are not (whole) on disk."""
        self.counts: dict[str, PartCount] = {part.value: PartCount() for part in Part}
        self._instructions: dict[int, str | None] = {}
        self._layer_dirs: dict[int, str] = {}
        self._pattern = (
            re.compile("|".join(fnmatch.translate(p) for p in options.paths))
            if options.paths
            else None
        )

    # -- selection ---------------------------------------------------------------------------

    def selected(self, layer_index: int, path: str) -> bool:
        if self.options.layers is not None and layer_index not in self.options.layers:
            return False
        if self._pattern is None:
            return True
        parts = path.split("/")
        return any(
            self._pattern.match("/" + "/".join(parts[:depth])) for depth in range(len(parts), 0, -1)
        )

    # -- trees -------------------------------------------------------------------------------

    def tree(self, key: str, parent: str | None = None) -> DirTree:
        """A tree by its path below DIR (`layers/03-ab12…`), its parents created first."""
        found = self.trees.get(key)
        if found is None:
            parent_fd = self.tree(parent).root_fd if parent else self.root_fd
            name = key.rsplit("/", 1)[-1]
            found = self.trees[key] = DirTree(parent_fd, name, str(self.out_dir / key))
        return found

    def instruction(self, index: int) -> str | None:
        """A layer's instruction, redacted and printable, as every record of it quotes it."""
        if index not in self._instructions:
            cleaned = self.clean(self.image.layers[index].instruction)
            self._instructions[index] = printable(cleaned)
        return self._instructions[index]

    def layer_dir(self, index: int) -> str:
        found = self._layer_dirs.get(index)
        if found is None:
            diff_id = self.image.layers[index].diff_id
            suffix = diff_id.split(":", 1)[1][:12] if diff_id else "unknown"
            found = self._layer_dirs[index] = f"{index:0{self.width}d}-{suffix}"
        return found

    def primary(self, index: int) -> tuple[DirTree, str]:
        """Where layer `index`'s bytes are written first: its layers/ directory, or staging."""
        if Part.LAYERS in self.options.parts:
            self.tree(Part.LAYERS)
            key = f"{Part.LAYERS}/{self.layer_dir(index)}"
            return self.tree(key, str(Part.LAYERS)), key
        self.tree(_STAGING)
        key = f"{_STAGING}/{index}"
        return self.tree(key, _STAGING), key

    def secondary(self, version: Version) -> tuple[DirTree, str] | None:
        """Where a version is linked once its status is known: rootfs/ or removed/layer-N/."""
        if version.status is Status.PRESENT:
            if Part.ROOTFS not in self.options.parts:
                return None
            return self.tree(Part.ROOTFS), str(Part.ROOTFS)
        if Part.REMOVED not in self.options.parts or version.kind is EntryKind.DIRECTORY:
            return None
        self.tree(Part.REMOVED)
        key = f"{Part.REMOVED}/layer-{version.layer_index}"
        return self.tree(key, str(Part.REMOVED)), key

    # -- the walk ----------------------------------------------------------------------------

    def on_entry(self, entry: Entry) -> None:
        if entry.kind in (EntryKind.WHITEOUT, EntryKind.OPAQUE):
            if self.selected(entry.layer_index, entry.path):
                self.whiteouts.setdefault(entry.layer_index, []).append(_whiteout(entry))
            return
        version = entry.version
        if version is None or not self.selected(entry.layer_index, entry.path):
            return
        tree, key = self.primary(entry.layer_index)
        reserved = _RESERVED_AT_LAYER_ROOT if key.startswith(Part.LAYERS) else frozenset()
        parts = tuple(host_parts(entry.path.split("/"), reserved))
        shown = f"{key}/{'/'.join(parts)}"
        try:
            place = self._write(entry, version, tree, parts, shown)
        except Conflict as exc:
            self.skipped[id(version)] = exc.reason
            if version.kind in _CONTENT:
                self.lost_files += 1
            return
        if place is None:
            return
        previous = self.occupant.get((id(tree), parts))
        if previous is not None and previous != id(version):
            self.places.pop(previous, None)
            self.skipped.setdefault(previous, "replaced by a later entry of the same layer")
        self.occupant[(id(tree), parts)] = id(version)
        self.places[id(version)] = place

    def _write(
        self, entry: Entry, version: Version, tree: DirTree, parts: tuple[str, ...], shown: str
    ) -> _Place | None:
        kind = entry.kind
        if kind is EntryKind.FILE:
            return self._write_file(entry, version, tree, parts, shown)
        if kind is EntryKind.HARDLINK:
            content = version.content
            source = self.places.get(id(content)) if content is not None else None
            if source is None or source.sha256 is None:
                self.skipped[id(version)] = "a hard link to a file that was not written"
                return None
            tree.link_from(source.tree, source.parts, parts)
            return _Place(tree, parts, shown, source.sha256, source.size, source.truncated)
        if kind is EntryKind.DIRECTORY:
            tree.directory(parts)
            self.directories.setdefault(id(tree), []).append((parts, entry.mode, entry.mtime))
            return _Place(tree, parts, shown)
        if kind is EntryKind.SYMLINK:
            if not self.options.symlinks:
                self.skipped[id(version)] = "a symbolic link: recorded, created with --symlinks"
                return None
            tree.symlink(parts, entry.link_target or "", entry.mtime)
            return _Place(tree, parts, shown)
        self.skipped[id(version)] = f"a {kind}: recorded, never created"
        return None

    def _write_file(
        self, entry: Entry, version: Version, tree: DirTree, parts: tuple[str, ...], shown: str
    ) -> _Place | None:
        if entry.size > self.options.max_file_size:
            self.skipped[id(version)] = (
                f"declares {entry.size} bytes, over --max-size {self.options.max_file_size}"
            )
            self.lost_files += 1
            return None
        layer = self.image.layers[entry.layer_index]
        member = (layer.blob_key or "", entry.ordinal if entry.ordinal is not None else -1)
        if not entry.readable:  # a layer listed twice: its first copy's file, linked
            source = self.by_member.get(member) if layer.blob_key else None
            if source is None or source.sha256 is None:
                self.skipped[id(version)] = "its bytes were not written from the layer's first copy"
                self.lost_files += 1
                return None
            tree.link_from(source.tree, source.parts, parts)
            return _Place(tree, parts, shown, source.sha256, source.size, source.truncated)
        sha256, size = tree.write_file(parts, self._counted(entry), entry.mode, entry.mtime)
        truncated = size != entry.size
        if truncated:
            self.lost_files += 1
        place = _Place(tree, parts, shown, sha256, size, truncated)
        if layer.blob_key:
            self.by_member[member] = place
        return place

    def _counted(self, entry: Entry) -> Iterator[bytes]:
        for chunk in entry.chunks():
            self.written_bytes += len(chunk)
            if self.progress is not None:
                self.progress(self.written_bytes, self.total)
            yield chunk

    # -- after the walk ----------------------------------------------------------------------

    def place_views(self, timeline: Timeline, records: _Records) -> None:
        """Link each selected version into rootfs/ or removed/, and record every path."""
        for path in sorted(timeline.versions):
            for version in timeline.versions[path]:
                if self.selected(version.layer_index, path):
                    self._place_version(version, records)

    def _place_version(self, version: Version, records: _Records) -> None:
        place = self.places.get(id(version))
        if Part.LAYERS in self.options.parts:
            names = host_parts(version.path.split("/"), _RESERVED_AT_LAYER_ROOT)
            would_be = f"{Part.LAYERS}/{self.layer_dir(version.layer_index)}/{'/'.join(names)}"
            records.add(self._record(version, place, self.skipped.get(id(version)), would_be))
            self._count(Part.LAYERS, version, place)
        if version.duplicate:
            return  # superseded inside its own layer: never present, never "removed"
        view = self.secondary(version)
        if view is None:
            return
        tree, key = view
        parts = tuple(host_parts(version.path.split("/")))
        shown = f"{key}/{'/'.join(parts)}"
        reason = self.skipped.get(id(version))
        linked: _Place | None = None
        try:
            if version.kind in _CONTENT and place is not None and place.sha256 is not None:
                tree.link_from(place.tree, place.parts, parts)
                linked = _Place(tree, parts, shown, place.sha256, place.size, place.truncated)
            elif version.kind is EntryKind.DIRECTORY:
                tree.directory(parts)
                self.directories.setdefault(id(tree), []).append(
                    (parts, version.mode, version.mtime)
                )
                linked = _Place(tree, parts, shown)
            elif version.kind is EntryKind.SYMLINK and self.options.symlinks:
                tree.symlink(parts, version.link_target or "", version.mtime)
                linked = _Place(tree, parts, shown)
        except Conflict as exc:
            reason = exc.reason
            if version.kind in _CONTENT:
                self.lost_files += 1
        self._count(Part(key.split("/", 1)[0]), version, linked)
        records.add(self._record(version, linked, reason, would_be=shown))

    def _count(self, part: Part, version: Version, place: _Place | None) -> None:
        if version.kind in _CONTENT and place is not None and place.sha256 is not None:
            self.counts[part].files += 1
            self.counts[part].bytes += place.size

    def _record(
        self,
        version: Version,
        place: _Place | None,
        reason: str | None,
        would_be: str | None = None,
    ) -> dict[str, Any]:
        layer = self.image.layers[version.layer_index]
        record: dict[str, Any] = {
            "path": printable(version.display_path),
            "path_hex": raw_hex(version.display_path),
            "written_to": place.shown if place is not None else None,
            "layer_index": version.layer_index,
            "diff_id": layer.diff_id,
            "instruction": self.instruction(version.layer_index),
            "kind": str(version.kind),
            "status": str(version.status),
            "removed_by": version.removed_by,
            "sha256": place.sha256 if place is not None else None,
            "size": place.size if place is not None and place.sha256 else version.size,
            "mode": oct(version.mode),
            "mtime": version.mtime,
            "uid": version.uid,
            "gid": version.gid,
            "link_target": printable(version.link_target),
        }
        if place is not None and place.truncated:
            record["note"] = f"truncated: the layer ends after {place.size} of {version.size} bytes"
        elif place is None:
            record["note"] = reason or "not written"
            if would_be is not None:
                record["would_be"] = would_be
        return record

    def write_whiteouts(self) -> None:
        if Part.LAYERS not in self.options.parts:
            return
        for index in range(len(self.image.layers)):
            if self.options.layers is not None and index not in self.options.layers:
                continue
            tree, _ = self.primary(index)
            _write_json(tree.root_fd, WHITEOUTS, self.whiteouts.get(index, []))

    def finish(self) -> None:
        for tree in self.trees.values():
            tree.finish_directories(self.directories.get(id(tree), []))
        for tree in self.trees.values():
            tree.close()
        if _STAGING in self.trees:
            remove_tree(self.root_fd, _STAGING)


def _whiteout(entry: Entry) -> dict[str, str]:
    parent, _, name = entry.path.rpartition("/")
    prefix = f"/{parent}/" if parent else "/"
    if entry.kind is EntryKind.OPAQUE:
        marker = f"/{entry.path}/{OPAQUE_MARKER}" if entry.path else f"/{OPAQUE_MARKER}"
        return {"kind": "opaque", "path": "/" + entry.path, "marker": marker}
    return {"kind": "whiteout", "path": "/" + entry.path, "marker": prefix + WHITEOUT_PREFIX + name}


def _write_json(dir_fd: int, name: str, document: object) -> None:
    """A JSON file of our own in a directory we made: created exclusively, never through a
    link (a name the image planted there was escaped out of the way)."""
    data = json.dumps(printable(document), indent=2, ensure_ascii=False).encode() + b"\n"
    temporary = f".{name}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=dir_fd)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o644, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def extract(
    image: Image,
    out_dir: Path,
    options: ExtractOptions | None = None,
    *,
    clean: Callable[[str | None], str | None] = lambda text: text,
    progress: Progress | None = None,
) -> ExtractSummary:
    """Extract `image` into `out_dir` (new or empty) as the module docstring lays out.

    A damaged layer gives what could be read before the damage and `complete: false`; a full
    disk stops the extraction with OutputError after writing the manifest of what is there.
    """
    options = options or ExtractOptions()
    root_fd = _open_empty_dir(out_dir)
    try:
        needed = estimated_bytes(image, options)
        _check_space(root_fd, out_dir, needed)
        state = _Extraction(image, root_fd, out_dir, options, clean, progress, needed or None)
        timeline, log = Timeline(), WalkLog()
        records_fd = os.open(
            _RECORDS, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=root_fd
        )
        try:
            with os.fdopen(records_fd, "w+", encoding="utf-8") as records_file:
                records = _Records(records_file)
                failure: OutputError | None = None
                try:
                    for entry in walk(image, timeline, log, options.limits):
                        state.on_entry(entry)
                    state.place_views(timeline, records)
                    state.write_whiteouts()
                except OutputError as exc:
                    failure = exc  # the disk is full: say what is there, then stop
                except OSError as exc:
                    failure = OutputError(f"cannot write into {out_dir}: {exc.strerror or exc}")
                with contextlib.suppress(OSError):
                    state.finish()
                summary = _summary(state, log, records.count, failure)
                try:
                    _write_manifest(root_fd, image, options, state, log, summary, records_file)
                except OSError as exc:
                    with contextlib.suppress(OSError):
                        os.unlink(f".{MANIFEST}.tmp", dir_fd=root_fd)
                    raise OutputError(
                        f"{failure or 'the extraction finished'}, but {out_dir / MANIFEST} "
                        f"could not be written ({exc.strerror or exc}): the files in {out_dir} "
                        "are not recorded"
                    ) from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(_RECORDS, dir_fd=root_fd)
        if failure is not None:
            raise OutputError(f"{failure}; what was written is listed in {out_dir / MANIFEST}")
        return summary
    finally:
        os.close(root_fd)


def _summary(
    state: _Extraction, log: WalkLog, records: int, failure: OutputError | None
) -> ExtractSummary:
    lost = any(problem.lost_content for problem in log.problems)
    checks = [log.checks.get(layer.index) for layer in state.image.layers]
    verified: bool | None
    if any(check is not None and check.verified is False for check in checks):
        verified = False
    elif all(check is not None and check.verified for check in checks):
        verified = True
    else:
        verified = None
    problems = [
        f"layer {problem.layer_index}{' ' + problem.path if problem.path else ''}: "
        f"{problem.message}"
        for problem in log.problems
        if problem.kind is not ProblemKind.WARNING or "digest" in problem.message
    ]
    return ExtractSummary(
        out_dir=state.out_dir,
        complete=not lost and state.lost_files == 0 and failure is None,
        verified=verified,
        counts=state.counts,
        whiteouts=sum(len(items) for items in state.whiteouts.values()),
        records=records,
        not_written=_why_not_written(state.skipped.values()),
        problems=problems,
    )


def _why_not_written(reasons: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reason in reasons:
        kind = (
            "symbolic links"
            if reason.startswith("a symbolic link")
            else "special files"
            if reason.endswith("never created")
            else "left out"
        )
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _write_manifest(
    root_fd: int,
    image: Image,
    options: ExtractOptions,
    state: _Extraction,
    log: WalkLog,
    summary: ExtractSummary,
    records_file: IO[str],
) -> None:
    """manifest.json: the document with its records spliced in from the records file."""
    head = {
        "layerscan_version": __version__,
        "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": summary.complete,
        "verified": summary.verified,
        "image": image.identity(),
        "options": {
            "only": sorted(str(part) for part in options.parts),
            "layers": sorted(options.layers) if options.layers is not None else None,
            "paths": list(options.paths),
            "symlinks": options.symlinks,
            "max_size": options.max_file_size,
        },
        "layers": [
            {
                "index": layer.index,
                "diff_id": layer.diff_id,
                "digest": layer.digest,
                "instruction": state.clean(layer.instruction),
                "directory": f"{Part.LAYERS}/{state.layer_dir(layer.index)}"
                if Part.LAYERS in options.parts
                and (options.layers is None or layer.index in options.layers)
                else None,
                "verified": check.verified if (check := log.checks.get(layer.index)) else None,
                "whiteouts": len(state.whiteouts.get(layer.index, [])),
            }
            for layer in image.layers
        ],
        "counts": {name: vars(count) for name, count in summary.counts.items()},
        "problems": summary.problems,
    }
    text = json.dumps(printable(head), indent=2, ensure_ascii=False)
    temporary = f".{MANIFEST}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o644, dir_fd=root_fd)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text[: text.rindex("}")].rstrip() + ',\n  "records": [')
        records_file.flush()
        records_file.seek(0)
        while chunk := records_file.read(1 << 20):
            out.write(chunk)
        out.write("\n  ]\n}\n")
    os.replace(temporary, MANIFEST, src_dir_fd=root_fd, dst_dir_fd=root_fd)
