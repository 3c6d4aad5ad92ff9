"""Checks on the account files the image ships: an empty password, a second root."""

from __future__ import annotations

from collections.abc import Iterator

from ..model.findings import Finding
from .context import CheckContext
from .rules import rule


def _rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8", "replace")
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def check_empty_password(ctx: CheckContext) -> Iterator[Finding]:
    """An account whose password field is empty logs in without one (a locked account has
    `!` or `*` there). /etc/shadow decides; without it, /etc/passwd's field does."""
    for path in ("etc/shadow", "etc/passwd"):
        data = ctx.files.get(path)
        version = ctx.timeline.present(path)
        if data is None or version is None:
            continue
        empty = [row[0] for row in _rows(data) if len(row) > 1 and row[1] == ""]
        if empty:
            yield ctx.file_finding(
                rule("empty-password"), version, "no password: " + ", ".join(empty[:10])
            )
        return  # (the first file that exists decides)


def check_duplicate_root(ctx: CheckContext) -> Iterator[Finding]:
    data = ctx.files.get("etc/passwd")
    version = ctx.timeline.present("etc/passwd")
    if data is None or version is None:
        return
    roots = [row[0] for row in _rows(data) if len(row) > 2 and row[2].strip() == "0"]
    if len(roots) > 1:
        yield ctx.file_finding(rule("duplicate-root"), version, "UID 0: " + ", ".join(roots[:10]))
