"""Checks on the build steps themselves: what a RUN or ADD did that a reviewer would not
accept (a download piped into a shell, a remote ADD, sudo)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from ..image.model import HistoryEntry
from ..model.findings import Finding
from .context import CheckContext
from .rules import rule

MAX_COMMAND = 1 << 16
"""Commands longer than this are looked at up to here (real RUN lines are shorter)."""
_FETCHERS = frozenset({"curl", "wget"})
_COMMAND_BREAK = re.compile(r"[;&(`]")
_SHELL = re.compile(r"^\s*(?:sudo\s+(?:-\S+\s+)*)?(?:/usr)?(?:/bin/)?(?:ba|da|z|k|a)?sh(?:\s|$)")
_SUDO = re.compile(r"(?:^|[\s;&|(`])sudo\s")
_URL = re.compile(r"^(?:https?|ftp)://", re.IGNORECASE)
_FETCHED = re.compile(r"^(?:--\S+\s+)*[0-9a-f]{64}\s+in\s")


def _runs(ctx: CheckContext) -> Iterator[tuple[HistoryEntry, str]]:
    for entry in ctx.image.history:
        if entry.parsed.keyword == "RUN":
            yield entry, entry.parsed.arguments[:MAX_COMMAND]


def pipes_into_shell(command: str) -> bool:
    """`curl ... | sh`, `wget -O- ... | sudo bash`: a fetch piped straight into a shell.
    Split at each `|` once (a pattern spanning the fetch and the pipe backtracks)."""
    segments = command.split("|")
    for left, right in itertools.pairwise(segments):
        if right == "":  # `||`: the next segment is an alternative, not a pipe
            continue
        if _fetches(left) and _SHELL.match(right):
            return True
    return False


def _fetches(segment: str) -> bool:
    """The last command of a pipeline segment is curl or wget (run as itself or by sudo)."""
    words = _COMMAND_BREAK.split(segment)[-1].split()
    while words and (words[0] == "sudo" or words[0].startswith("-")):
        words = words[1:]
    return bool(words) and words[0].rsplit("/", 1)[-1] in _FETCHERS


def check_pipe_to_shell(ctx: CheckContext) -> Iterator[Finding]:
    for entry, command in _runs(ctx):
        if pipes_into_shell(command):
            yield ctx.step_finding(rule("pipe-to-shell"), entry, "a download piped into a shell")


def check_remote_add(ctx: CheckContext) -> Iterator[Finding]:
    """BuildKit records the URL; the classic builder and buildah record only a hash of what
    they fetched, bare (`ADD <sha256> in DEST`), where a local source reads `file:<sha256>`."""
    for entry in ctx.image.history:
        if entry.parsed.keyword != "ADD":
            continue
        arguments = entry.parsed.arguments[:MAX_COMMAND]
        words = arguments.split()
        urls = [word for word in words[:-1] if _URL.match(word)]
        if urls:
            yield ctx.step_finding(rule("remote-add"), entry, f"ADD {urls[0]}")
        elif _FETCHED.match(arguments):
            yield ctx.step_finding(
                rule("remote-add"), entry, "ADD from a URL (the builder kept only its hash)"
            )


def sudo_step(ctx: CheckContext) -> HistoryEntry | None:
    """The first RUN step that calls sudo."""
    for entry, command in _runs(ctx):
        if _SUDO.search(command):
            return entry
    return None
