"""Each path's life across the layers: written, overwritten, deleted.

The timeline replays layers base to top over a tree of live paths, the way an overlay
filesystem would show them. When a later layer replaces or hides a version, that version is
stamped with the layer that did it, so at the end every version of every path knows whether it
is `present`, `deleted` (by a whiteout, an opaque directory, or a parent replaced by a file) or
`overwritten`. A whiteout or opaque marker never hides entries of its own layer. A hard link
shares the content of the version its target held when the link was written, and each version
keeps its member's position in the layer's tar, so what recovery copies is that very member,
and whether that member's header gave the file capabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.findings import Status
from ..model.walk_log import LayerStats, ProblemKind, WalkLog
from .entries import Entry, EntryKind, Version


class _Node:
    __slots__ = ("children", "version")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.version: Version | None = None


@dataclass
class Timeline:
    """The replayed filesystem and every version each path ever had."""

    versions: dict[str, list[Version]] = field(default_factory=dict)
    stats: dict[int, LayerStats] = field(default_factory=dict)
    _root: _Node = field(default_factory=_Node)

    def begin_layer(self, layer_index: int) -> None:
        """Count a layer even when it has no entries (or cannot be read at all)."""
        self.stats.setdefault(layer_index, LayerStats())

    def apply(self, entry: Entry, log: WalkLog) -> Version | None:
        """Replay one entry; returns the version it created (None for whiteouts)."""
        stats = self.stats.setdefault(entry.layer_index, LayerStats())
        stats.entries += 1
        if entry.kind is EntryKind.WHITEOUT:
            self._whiteout(entry.path, entry.layer_index, stats)
            return None
        if entry.kind is EntryKind.OPAQUE:
            self._opaque(entry.path, entry.layer_index, stats)
            return None
        version = Version(
            layer_index=entry.layer_index,
            path=entry.path,
            kind=entry.kind,
            size=entry.size,
            mode=entry.mode,
            mtime=entry.mtime,
            uid=entry.uid,
            gid=entry.gid,
            link_target=entry.link_target,
            ordinal=entry.ordinal,
            capabilities=entry.capabilities,  # a hard link's own header's, not its target's
        )
        if entry.kind is EntryKind.HARDLINK:
            version.content = self._link_content(entry, log)
        self._write(version, stats, log)
        self.versions.setdefault(entry.path, []).append(version)
        entry.version = version
        return version

    def _link_content(self, entry: Entry, log: WalkLog) -> Version | None:
        """The file version the link's target path holds now, as tar extraction links it.

        Resolved once, when the link is applied: a later version of the target path (in the
        same layer or above) never changes what the link holds, and a link to a link shares
        that link's content, not whatever its path holds later.
        """
        target = self._lookup(entry.link_target or "")
        if target is None or target.version is None or not target.version.holds_content:
            log.report(
                entry.layer_index,
                f"hard link to {entry.link_target!r}, which is not a file at this point",
                "/" + entry.path,
                ProblemKind.WARNING,
            )
            return None
        found = target.version
        return found.content if found.kind is EntryKind.HARDLINK else found

    def _lookup(self, path: str) -> _Node | None:
        node = self._root
        for part in path.split("/") if path else []:
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def _write(self, version: Version, stats: LayerStats, log: WalkLog) -> None:
        layer = version.layer_index
        parts = version.path.split("/")
        node = self._root
        for depth, part in enumerate(parts[:-1]):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            elif child.version is not None and child.version.kind is not EntryKind.DIRECTORY:
                if child.version.kind is EntryKind.SYMLINK:
                    # Paths are taken literally, never resolved through a link (which could
                    # point anywhere, /etc or ../../host included): say so.
                    log.report(
                        layer,
                        f"written below /{'/'.join(parts[: depth + 1])}, a symlink to "
                        f"{child.version.link_target!r}; recorded at its literal path",
                        version.display_path,
                        ProblemKind.WARNING,
                    )
                # A parent that was a file or link becomes a directory: it is replaced.
                self._retire(child.version, layer, Status.OVERWRITTEN)
                child.version = None
            node = child
        existing = node.children.get(parts[-1])
        if existing is None:
            existing = node.children[parts[-1]] = _Node()
        is_dir = version.kind is EntryKind.DIRECTORY
        previous = existing.version
        if not is_dir and existing.children:
            # A file replaces a directory: everything below it is gone.
            self._drop_subtree(existing, layer, stats)
        if previous is not None:
            if (
                not is_dir
                and previous.kind is not EntryKind.DIRECTORY
                and previous.layer_index < layer
            ):
                stats.changed += 1
            elif not is_dir and previous.kind is EntryKind.DIRECTORY:
                stats.added += 1
            if previous.layer_index == layer and previous.kind is not EntryKind.DIRECTORY:
                previous.duplicate = True
            self._retire(previous, layer, Status.OVERWRITTEN)
        elif not is_dir:
            stats.added += 1
        existing.version = version

    def _retire(self, version: Version, layer: int, status: Status) -> None:
        if version.status is Status.PRESENT:
            version.status = status
            version.removed_by = layer

    def _delete(self, version: Version | None, layer: int, stats: LayerStats) -> None:
        if version is not None:
            if version.kind is not EntryKind.DIRECTORY:
                stats.deleted += 1
            self._retire(version, layer, Status.DELETED)

    def _drop_subtree(self, node: _Node, layer: int, stats: LayerStats) -> None:
        """Everything below node is deleted (a file replaced the directory)."""
        # Iterative: an image can nest directories thousands deep.
        stack = list(node.children.values())
        while stack:
            child = stack.pop()
            self._delete(child.version, layer, stats)
            stack.extend(child.children.values())
        node.children.clear()

    def _hide_lower(self, node: _Node, layer: int, stats: LayerStats) -> bool:
        """Delete what lower layers had at and below `node`; True if nothing is left there."""
        # Post-order without recursion: children are pruned before their parent is judged.
        order: list[tuple[_Node | None, str, _Node]] = []
        stack: list[tuple[_Node | None, str, _Node]] = [(None, "", node)]
        while stack:
            parent, name, current = stack.pop()
            order.append((parent, name, current))
            stack.extend((current, key, child) for key, child in current.children.items())
        for parent, name, current in reversed(order):
            version = current.version
            if version is not None and version.layer_index < layer:
                self._delete(version, layer, stats)
                current.version = None
            if parent is not None and current.version is None and not current.children:
                del parent.children[name]
        return node.version is None and not node.children

    def _whiteout(self, path: str, layer: int, stats: LayerStats) -> None:
        parent_path, _, name = path.rpartition("/")
        parent = self._lookup(parent_path)
        if parent is None or name not in parent.children:
            return
        if self._hide_lower(parent.children[name], layer, stats):
            del parent.children[name]

    def _opaque(self, path: str, layer: int, stats: LayerStats) -> None:
        directory = self._lookup(path)
        if directory is None:
            return
        for name, child in list(directory.children.items()):
            if self._hide_lower(child, layer, stats):
                del directory.children[name]

    def present(self, path: str) -> Version | None:
        """The version of a path the final image shows, if any."""
        node = self._lookup(path)
        return node.version if node is not None else None
