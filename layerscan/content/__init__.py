"""Bytes of a file version -> the scan units detectors see.

A unit is text plus where it came from inside the file (a nested archive member, later).
Binary content yields no unit today and is counted with its reason, so a summary can say
what was not looked at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Unit:
    """Text to scan and its place inside the file it came from."""

    text: str
    filename: str
    nested_path: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file (or part of one) that produced no unit, and why."""

    reason: str


def is_binary(data: bytes) -> bool:
    """Binary by the classic rule git and grep use: a NUL byte near the start."""
    return b"\x00" in data[:_SNIFF_BYTES]


def units_of(path: str, data: bytes) -> Iterator[Unit | Skipped]:
    """The units to scan in one file version."""
    if not data:
        return
    if is_binary(data):
        yield Skipped("binary")
        return
    yield Unit(text=data.decode("utf-8", errors="replace"), filename=path.rsplit("/", 1)[-1])
