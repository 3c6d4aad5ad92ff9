"""Checks on the final filesystem's files: set-id bits, file capabilities, world-writable
paths. Each names the layer that wrote the version the image ships; a base layer's are
reported low, with the base named."""

from __future__ import annotations

from collections.abc import Iterator

from ..layers.entries import EntryKind
from ..model.findings import Finding
from .context import CheckContext, is_file
from .rules import rule

_SETUID, _SETGID, _STICKY, _OTHERS_WRITE = 0o4000, 0o2000, 0o1000, 0o002


def check_set_id(ctx: CheckContext) -> Iterator[Finding]:
    for version in ctx.final_versions:
        if is_file(version) and version.mode & (_SETUID | _SETGID):
            bits = [
                name
                for bit, name in ((_SETUID, "setuid"), (_SETGID, "setgid"))
                if version.mode & bit
            ]
            evidence = f"{'+'.join(bits)}, mode {version.mode & 0o7777:04o}"
            packaged = ctx.packaged(version.display_path)
            yield ctx.file_finding(rule("setuid-file"), version, evidence, packaged)


def check_capabilities(ctx: CheckContext) -> Iterator[Finding]:
    for version in ctx.final_versions:
        if is_file(version) and version.capabilities:
            packaged = ctx.packaged(version.display_path)
            yield ctx.file_finding(
                rule("file-capability"), version, "security.capability set", packaged
            )


def check_world_writable(ctx: CheckContext) -> Iterator[Finding]:
    for version in ctx.final_versions:
        if not version.mode & _OTHERS_WRITE or version.kind is EntryKind.SYMLINK:
            continue
        if version.kind is EntryKind.DIRECTORY and version.mode & _STICKY:
            continue  # /tmp's shape: everyone may add, only owners may remove
        if version.kind not in (EntryKind.DIRECTORY, EntryKind.FILE, EntryKind.HARDLINK):
            continue
        yield ctx.file_finding(
            rule("world-writable"), version, f"{version.kind}, mode {version.mode & 0o7777:04o}"
        )
