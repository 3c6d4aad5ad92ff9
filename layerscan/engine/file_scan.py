"""One file version's bytes -> its matches: content units, the SSH host key rule, the name.

Runs in the main process or in a worker (workers.py) alike, so it takes everything it uses as
arguments: the engine, the limits and, for a large zip, the shard of members to read.
"""

from __future__ import annotations

import hashlib

from ..content.dispatch import units_of
from ..content.limits import ContentLimits
from ..content.model import Skipped
from ..content.shard import Shard
from ..detect.engine import Engine, Match
from ..detect.paths import SSH_HOST_KEY, is_ssh_host_key, sensitive_by_name
from ..model.rule_meta import RuleMeta

FileMatch = tuple[Match, str | None]
"""A match and the archive member it was in (None for the file itself)."""

Skip = tuple[str, str | None]
"""(why, the archive member) for content that was not scanned."""

_NAME_FINDING_CHARS = 1 << 16


def scan_file(
    path: str, data: bytes, engine: Engine, limits: ContentLimits, shard: Shard | None = None
) -> tuple[list[FileMatch], list[Skip]]:
    """Content matches of one file version (or the finding its name alone makes), and what
    inside it was skipped. With a shard, only that share of a zip's members (see units_of);
    the file's own name is judged in shard 0."""
    skips: list[Skip] = []
    if not data:
        return [], skips  # an empty file holds no secret, whatever its name
    found: list[FileMatch] = []
    for unit in units_of(path, data, limits, shard, engine.may_find_in_strings):
        if isinstance(unit, Skipped):
            skips.append((unit.reason, unit.nested_path))
            continue
        matches = engine.scan_text(
            unit.text, unit.filename, path, heuristics=unit.origin != "strings", utf8=unit.utf8
        )
        found.extend((match, unit.nested_path) for match in matches)
    if shard is not None and shard[0] != 0:
        return found, skips
    if is_ssh_host_key(path):
        # A host key is a private key, but its risk is impersonation, not access: its own rule.
        text = data.decode("utf-8", "replace")
        return [(Match(SSH_HOST_KEY.meta, text.strip(), 1), None)], skips
    if not found:
        by_name = sensitive_by_name(path, data)
        if by_name is not None:
            found.append((_name_match(by_name, data), None))
    return found, skips


def _name_match(rule: RuleMeta, data: bytes) -> Match:
    """A finding for the whole file: its text, or for a binary file its sha256."""
    try:
        secret = data[:_NAME_FINDING_CHARS].decode("utf-8").strip()
        note = "reported for its name and place"
    except UnicodeDecodeError:
        secret = "sha256:" + hashlib.sha256(data).hexdigest()
        note = "reported for its name and place; a binary file, identified by its sha256"
    return Match(rule, secret or "(empty file)", None, note=note)
