"""What every check reads (the image, its replayed timeline, where its base ends, the kept
files) and how a check's finding is made: attributed like a secret, and lowered to `low`
when only the base brings it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from ..image.base import BaseInfo
from ..image.model import HistoryEntry, Image
from ..layers.entries import EntryKind, Version
from ..layers.timeline import Timeline
from ..model.findings import Finding, Kind, LayerRef, Source, Status
from ..model.rule_meta import RuleMeta
from ..model.severity import Severity


@dataclass(frozen=True)
class CheckContext:
    image: Image
    timeline: Timeline
    base: BaseInfo
    files: Mapping[str, bytes] = field(default_factory=dict)
    """The final bytes of the files facts.KEPT_FILES names (when the image has them)."""
    packages: frozenset[str] = frozenset()
    """What the final package database lists as installed."""
    packaged: Callable[[str], bool] = field(default=lambda path: False, compare=False)
    """Whether a package manager installed a path (`/usr/bin/su`): the vendored-code index."""

    @property
    def config(self) -> Mapping[str, object]:
        """The container settings (`config` of the image config), {} when absent."""
        config = self.image.config.get("config")
        return config if isinstance(config, dict) else {}

    def own_layer(self, index: int) -> bool:
        """True for a layer of the image's own steps (not the base's)."""
        return index >= self.base.layer_count

    def own_step(self, entry: HistoryEntry) -> bool:
        return entry.index >= self.base.history_count

    @cached_property
    def final_versions(self) -> list[Version]:
        """Every path the final filesystem shows, directories included (worked out once:
        five checks read it). A path's last version is the one shown, unless a later layer
        removed it."""
        return [
            versions[-1]
            for versions in self.timeline.versions.values()
            if versions and versions[-1].status is Status.PRESENT
        ]

    def layer_ref(self, index: int) -> LayerRef:
        layer = self.image.layers[index]
        history = layer.history
        return LayerRef(index, layer.diff_id, layer.instruction, history.index if history else None)

    def step_ref(self, entry: HistoryEntry) -> LayerRef:
        index = entry.layer_index
        diff_id = self.image.layers[index].diff_id if index is not None else None
        return LayerRef(index, diff_id, entry.instruction, entry.index)

    def base_note(self) -> str:
        name = self.base.name or "an unnamed base"
        return f"only in the base image ({name}): fix it there, or in a base of your own"

    def file_finding(
        self, rule: RuleMeta, version: Version, evidence: str, packaged: bool = False
    ) -> Finding:
        """A finding on a file, at the layer that wrote the version; lower if that is a base
        layer, or if `packaged` (a package's own file: the package is the choice to review)."""
        own = self.own_layer(version.layer_index)
        if own and packaged:
            return replace(
                self.file_finding(rule, version, evidence),
                severity=lowered(rule),
                reason="installed so by a package: expected, unless the package is not needed",
            )
        return Finding(
            rule=rule,
            source=Source.FILE,
            secret="",
            layer=self.layer_ref(version.layer_index),
            path=version.display_path,
            status=version.status,
            severity=None if own else lowered(rule),
            reason=None if own else self.base_note(),
            kind=Kind.MISCONFIG,
            evidence=evidence,
        )

    def step_finding(self, rule: RuleMeta, entry: HistoryEntry, evidence: str) -> Finding:
        """A finding on a build step (the instruction that caused it)."""
        own = self.own_step(entry)
        return Finding(
            rule=rule,
            source=Source.HISTORY,
            secret="",
            layer=self.step_ref(entry),
            key=entry.parsed.keyword or None,
            severity=None if own else lowered(rule),
            reason=None if own else self.base_note(),
            kind=Kind.MISCONFIG,
            evidence=evidence,
        )

    def config_finding(self, rule: RuleMeta, key: str, evidence: str) -> Finding:
        """A finding on a config field no history step explains."""
        return Finding(
            rule=rule,
            source=Source.CONFIG,
            secret="",
            layer=None,
            key=key,
            kind=Kind.MISCONFIG,
            evidence=evidence,
        )

    def last_step(self, keyword: str) -> HistoryEntry | None:
        """The last history step with this instruction."""
        for entry in reversed(self.image.history):
            if entry.parsed.keyword == keyword:
                return entry
        return None


def is_file(version: Version) -> bool:
    return version.kind in (EntryKind.FILE, EntryKind.HARDLINK)


def lowered(rule: RuleMeta) -> Severity:
    """The severity of a problem only the base brings: low, or info for a rule that is low."""
    return Severity.LOW if rule.severity.rank > Severity.LOW.rank else Severity.INFO
