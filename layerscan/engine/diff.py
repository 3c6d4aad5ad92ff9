"""The facade of `diff`: what changed between two images, layer by layer, file by file and
finding by finding.

Layers are paired by diff_id, files by the version each final filesystem shows, findings by
fingerprint (rule, secret and place: stable across rebuilds). Both images are scanned as
`scan` scans them, through the same layer cache, so the layers they share are searched for
secrets once, and the scans' timelines give every version of every path. A file's bytes are
read only where its two versions agree on every header yet were written by different layers:
then both images are opened again and only those layers read, each up to its last wanted
member, the bytes hashed in bounded pieces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterable, Mapping
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from typing import Any, cast

from ..errors import TargetError, UsageError
from ..image.base import BaseInfo, find_base
from ..image.model import Image
from ..image.open import open_image
from ..layers.entries import Entry, EntryKind, Version
from ..layers.reader import WalkLimits, iter_layer
from ..layers.timeline import Timeline
from ..model.findings import Finding, Status, redact_known
from ..model.safe_text import printable
from ..model.walk_log import LayerProblem, WalkLog
from ..version import __version__
from .document import finding_record
from .options import ProgressHook, ScanOptions, ScanResult
from .scan import scan

SCHEMA_VERSION = 1
KIND = "layerscan-diff"


@dataclass
class Side:
    """One image as the diff sees it: its scan, its base and its replayed filesystem."""

    result: ScanResult
    base: BaseInfo
    timeline: Timeline
    log: WalkLog
    """What hashing the compared files could not read."""

    @property
    def problems(self) -> list[LayerProblem]:
        """What the scan or the diff's own reads lost (the same damage is told once)."""
        told: dict[tuple[int, str | None, str], LayerProblem] = {}
        for problem in self.result.problems + self.log.problems:
            if problem.lost_content:
                told.setdefault((problem.layer_index, problem.path, problem.message), problem)
        return list(told.values())

    @property
    def complete(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class FileChange:
    """One path of the final filesystems: added (no `old`), removed (no `new`) or changed."""

    path: str
    old: Version | None
    new: Version | None
    changes: tuple[str, ...] = ()
    """What differs: kind, size, mode, owner, link, content."""
    old_sha256: str | None = None
    new_sha256: str | None = None


@dataclass
class DiffResult:
    old: Side
    new: Side
    shared: list[tuple[int, int]]
    """(old index, new index) of each layer both images hold (same diff_id)."""
    dropped: list[int]
    """Layers of OLD that NEW lacks."""
    added: list[int]
    """Layers of NEW that OLD lacks."""
    base_changed: bool
    files: list[FileChange]
    recoverable_new: list[Version]
    """Removed versions whose bytes a layer of NEW still holds, at paths OLD has none at."""
    recoverable_old: list[Version]
    """The same, of OLD, at paths NEW has none at."""
    new_findings: list[Finding]
    fixed: list[Finding]
    unchanged: list[Finding]
    """Findings of NEW whose fingerprint OLD has too, attributed as in NEW."""

    @property
    def complete(self) -> bool:
        return self.old.complete and self.new.complete


def diff_images(
    old: str, new: str, options: ScanOptions, progress: ProgressHook | None = None
) -> DiffResult:
    """Compare two images: the one entry point of `layerscan diff`."""
    if "-" in (old, new):
        raise UsageError("diff may read each image twice (scan, then files): '-' cannot be reread")
    # With versions in the timeline (a cached layer replays its stored entries), so only
    # files whose bytes must be compared send the diff back to the images.
    full = replace(options, reuse_image_results=False)
    results = [scan(target, full, progress) for target in (old, new)]
    old_side, new_side = (
        Side(result, find_base(result.image), result.timeline, WalkLog()) for result in results
    )
    files = _compare_files(old_side, new_side, options)
    old_image, new_image = results[0].image, results[1].image
    shared, dropped, added = match_layers(old_image, new_image)
    old_gone, new_gone = _recoverable(old_side.timeline), _recoverable(new_side.timeline)
    old_prints = {f.fingerprint for f in results[0].findings}
    new_prints = {f.fingerprint for f in results[1].findings}
    return DiffResult(
        old=old_side,
        new=new_side,
        shared=shared,
        dropped=dropped,
        added=added,
        base_changed=base_changed(old_image, old_side.base, new_image, new_side.base),
        files=files,
        recoverable_new=[new_gone[p] for p in sorted(new_gone.keys() - old_gone.keys())],
        recoverable_old=[old_gone[p] for p in sorted(old_gone.keys() - new_gone.keys())],
        new_findings=[f for f in results[1].findings if f.fingerprint not in old_prints],
        fixed=[f for f in results[0].findings if f.fingerprint not in new_prints],
        unchanged=[f for f in results[1].findings if f.fingerprint in old_prints],
    )


def match_layers(old: Image, new: Image) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pair layers by diff_id, the n-th occurrence in one with the n-th in the other (an
    empty layer can repeat): (shared pairs, OLD's unpaired, NEW's unpaired)."""
    waiting: dict[str, list[int]] = {}
    for layer in new.layers:
        if layer.diff_id:
            waiting.setdefault(layer.diff_id, []).append(layer.index)
    shared, dropped = [], []
    for layer in old.layers:
        queue = waiting.get(layer.diff_id or "")
        if queue:
            shared.append((layer.index, queue.pop(0)))
        else:
            dropped.append(layer.index)
    paired = {index for _, index in shared}
    return shared, dropped, [layer.index for layer in new.layers if layer.index not in paired]


def base_changed(old: Image, old_base: BaseInfo, new: Image, new_base: BaseInfo) -> bool:
    """The base layers' diff_ids differ, or a base name or digest both images record."""
    old_ids = [layer.diff_id for layer in old.layers[: old_base.layer_count]]
    new_ids = [layer.diff_id for layer in new.layers[: new_base.layer_count]]
    recorded = ((old_base.name, new_base.name), (old_base.digest, new_base.digest))
    return old_ids != new_ids or any(a and b and a != b for a, b in recorded)


def _content(version: Version) -> Version:
    """The version holding the bytes: a hard link's target version, else itself."""
    return version.content if version.kind is EntryKind.HARDLINK and version.content else version


def _kind(version: Version) -> str:
    """A hard link is the file it shares bytes with (tar's way of writing it is no change)."""
    return "file" if version.holds_content else str(version.kind)


def _final_files(timeline: Timeline) -> dict[str, Version]:
    """Every path but directories that the final filesystem shows."""
    shown = {}
    for path in timeline.versions:
        version = timeline.present(path)
        if version is not None and version.kind is not EntryKind.DIRECTORY:
            shown[path] = version
    return shown


def header_changes(old: Version, new: Version) -> list[str]:
    """What the tar headers alone tell apart (content aside)."""
    checks = {
        "kind": (_kind(old), _kind(new)),
        "size": (_content(old).size, _content(new).size),
        "mode": (old.mode & 0o7777, new.mode & 0o7777),
        "owner": ((old.uid, old.gid), (new.uid, new.gid)),
        "link": (old.link_target, new.link_target) if old.kind is EntryKind.SYMLINK else (0, 0),
    }
    return [name for name, (a, b) in checks.items() if a != b]


def _compare_files(old: Side, new: Side, options: ScanOptions) -> list[FileChange]:
    before, after = _final_files(old.timeline), _final_files(new.timeline)
    old_image, new_image = old.result.image, new.result.image
    changes = [FileChange(p, before[p], None) for p in before.keys() - after.keys()]
    changes += [FileChange(p, None, after[p]) for p in after.keys() - before.keys()]
    to_hash: list[tuple[str, Version, Version]] = []
    for path in before.keys() & after.keys():
        a, b = before[path], after[path]
        differ = header_changes(a, b)
        if differ:
            changes.append(FileChange(path, a, b, tuple(differ)))
        elif a.holds_content and _content(a).size and not _same_member(a, b, old_image, new_image):
            to_hash.append((path, a, b))
    if to_hash:
        old_sums, new_sums = _hash_both(old, new, to_hash, options)
        for path, a, b in to_hash:
            old_sum, new_sum = old_sums.get(_content(a)), new_sums.get(_content(b))
            if old_sum is None or old_sum != new_sum:  # unread bytes count as changed
                changes.append(FileChange(path, a, b, ("content",), old_sum, new_sum))
    return sorted(changes, key=lambda change: change.path)


def _hash_both(
    old: Side, new: Side, pairs: list[tuple[str, Version, Version]], options: ScanOptions
) -> tuple[dict[Version, str], dict[Version, str]]:
    """Open both images again and hash the versions whose headers agree."""
    with ExitStack() as resources:
        opening = options.open_options()
        sums = []
        for side, versions in ((old, [a for _, a, _ in pairs]), (new, [b for _, _, b in pairs])):
            scanned = side.result.image
            image = resources.enter_context(open_image(scanned.target, opening))
            if image.config_digest != scanned.config_digest:
                raise TargetError(f"{image.target} changed while it was compared; run diff again")
            contents = [_content(version) for version in versions]
            sums.append(_hash_versions(image, contents, options.walk_limits, side.log))
    return sums[0], sums[1]


def _same_member(old: Version, new: Version, old_image: Image, new_image: Image) -> bool:
    """Both versions' bytes are one member of one layer the images share: equal unread."""
    a, b = _content(old), _content(new)
    old_id = old_image.layers[a.layer_index].diff_id
    return (
        old_id is not None
        and old_id == new_image.layers[b.layer_index].diff_id
        and (a.ordinal == b.ordinal)
    )


def _hash_versions(
    image: Image, versions: Iterable[Version], limits: WalkLimits, log: WalkLog
) -> dict[Version, str]:
    """sha256 of each version's bytes, reading only the layers that hold them, each up to
    its last wanted member; what cannot be read is reported to `log`."""
    wanted: dict[int, dict[int | None, Version]] = {}
    for version in versions:
        wanted.setdefault(version.layer_index, {})[version.ordinal] = version
    sums: dict[Version, str] = {}
    reading = WalkLog()  # its own budgets and counters: this is a second read of the layers
    for index in sorted(wanted):
        members, layer = wanted[index], image.layers[index]
        # Closed at once when the last wanted member is read: the rest of the layer is not needed.
        entries = cast("Generator[Entry, None, None]", iter_layer(layer, reading, limits))
        with closing(entries):
            for entry in entries:
                member = members.get(entry.ordinal)
                if member is not None and member.path == entry.path:
                    del members[entry.ordinal]
                    digest = hashlib.sha256()
                    for chunk in entry.chunks():
                        digest.update(chunk)
                    sums[member] = digest.hexdigest()
                if not members:
                    break
    log.problems.extend(reading.problems)
    return sums


def _recoverable(timeline: Timeline) -> dict[str, Version]:
    """Paths with a deleted or overwritten version whose bytes a layer still holds (what
    `recover` can bring back): the lowest such version of each."""
    found: dict[str, Version] = {}
    for path, versions in timeline.versions.items():
        for version in versions:
            removed = version.status is not Status.PRESENT and version.holds_content
            if removed and _content(version).size and path not in found:
                found[path] = version
    return found


# --- the document -----------------------------------------------------------------------------


def diff_document(
    diff: DiffResult,
    show_secrets: bool = False,
    accepted: Mapping[str, str] | None = None,
    policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The diff as plain data (the JSON contract, docs/formats.md#diff), redacted unless
    `show_secrets`. `accepted` maps the fingerprints of new findings a baseline or the ignore
    file accepts to why ("baseline", "ignore file: REASON")."""
    accepted = accepted or {}
    secrets = [f.secret for f in diff.old.result.findings + diff.new.result.findings]
    cleaned: dict[str, str] = {}

    def clean(text: str | None) -> str | None:
        """Instructions quote ARG values and such: redact what either scan found in them."""
        if text is None or show_secrets:
            return text
        if text not in cleaned:
            cleaned[text] = redact_known(text, secrets)
        return cleaned[text]

    old_image, new_image = diff.old.result.image, diff.new.result.image

    def layer(image: Image, index: int) -> dict[str, Any]:
        entry = image.layers[index]
        return {"index": index, "diff_id": entry.diff_id, "instruction": clean(entry.instruction)}

    def findings(listed: list[Finding]) -> list[dict[str, Any]]:
        return [_finding(f, show_secrets, clean, accepted.get(f.fingerprint)) for f in listed]

    files = {
        "added": [_version(c.new) for c in diff.files if c.old is None and c.new],
        "removed": [_version(c.old) for c in diff.files if c.new is None and c.old],
        "changed": [
            {
                "path": "/" + c.path,
                "changes": list(c.changes),
                "old": _version(c.old, c.old_sha256),
                "new": _version(c.new, c.new_sha256),
            }
            for c in diff.files
            if c.old is not None and c.new is not None
        ],
        "recoverable_only_in_new": [_version(v) for v in diff.recoverable_new],
        "recoverable_only_in_old": [_version(v) for v in diff.recoverable_old],
    }
    layers = {
        "shared": [{"old_index": o, "new_index": n, **layer(new_image, n)} for o, n in diff.shared],
        "dropped": [layer(old_image, index) for index in diff.dropped],
        "added": [layer(new_image, index) for index in diff.added],
    }
    listed = {
        "new": findings(diff.new_findings),
        "fixed": findings(diff.fixed),
        "unchanged": findings(diff.unchanged),
    }
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "tool": {"name": "layerscan", "version": __version__},
        "old": _image(diff.old),
        "new": _image(diff.new),
        "base_changed": diff.base_changed,
        "layers": layers,
        "files": files,
        "findings": listed,
        "errors": [
            {"image": name, "layer": p.layer_index, "path": p.path, "message": p.message}
            for name, side in (("old", diff.old), ("new", diff.new))
            for p in side.problems
        ],
        "summary": {
            "layers": {key: len(value) for key, value in layers.items()},
            "files": {key: len(value) for key, value in files.items()},
            "findings": {key: len(value) for key, value in listed.items()},
            "new_counted": sum(1 for f in diff.new_findings if f.fingerprint not in accepted),
            "complete": diff.complete,
            **({"policy": policy} if policy is not None else {}),
        },
    }
    result: dict[str, Any] = printable(document)
    return result


def _image(side: Side) -> dict[str, Any]:
    base = side.base
    return {
        **side.result.image.identity(),
        "layers": len(side.result.image.layers),
        "base": {
            "name": base.name,
            "digest": base.digest,
            "layer_count": base.layer_count,
            "history_count": base.history_count,
            "rule": base.rule,
        },
        "complete": side.complete,
    }


def _version(version: Version, sha256: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "path": version.display_path,
        "kind": _kind(version),
        "size": _content(version).size,
        "mode": f"{version.mode & 0o7777:04o}",
        "uid": version.uid,
        "gid": version.gid,
        "link_target": version.link_target if version.kind is EntryKind.SYMLINK else None,
        "layer": version.layer_index,
        "status": str(version.status),
        "removed_by": version.removed_by,
    }
    if sha256 is not None:
        record["sha256"] = sha256
    return record


def _finding(
    finding: Finding,
    show_secrets: bool,
    clean: Callable[[str | None], str | None],
    accepted: str | None,
) -> dict[str, Any]:
    return {**finding_record(finding, show_secrets, clean), "accepted": accepted}
