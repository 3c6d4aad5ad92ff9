"""The text of the rules files: what rules.py compiles, and what the layer cache's key hashes
(a rescan served by the cache reads the files, and parses none)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError

RuleSource = tuple[str, str]
"""(origin, YAML text) of one rules file."""


@dataclass(frozen=True)
class RuleTexts:
    """The text of every rules file a scan loads. The rules are made from these alone, so a
    hash of them stands for the rules (the layer cache keys on it without parsing them)."""

    builtin: tuple[RuleSource, ...]
    extra: tuple[RuleSource, ...] = ()


def rule_texts(extra_files: Sequence[Path] = ()) -> RuleTexts:
    """Read signatures/ (installed as layerscan.signatures) and the user's rules files."""
    folder = resources.files("layerscan.signatures")
    builtin = tuple(
        (f"signatures/{item.name}", item.read_text(encoding="utf-8"))
        for item in sorted(folder.iterdir(), key=lambda item: item.name)
        if item.name.endswith(".yaml")
    )
    extra: list[RuleSource] = []
    for path in extra_files:
        try:
            extra.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise UsageError(f"cannot read rules file {path}: {exc.strerror or exc}") from exc
    return RuleTexts(builtin, tuple(extra))
