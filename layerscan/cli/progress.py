"""A one-line progress display on stderr for long scans: layer, files, bytes.

Shown only when stderr is a terminal (and not with --quiet), redrawn at most a few times a
second, and erased at the end, so stdout carries nothing but the report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

_INTERVAL = 0.2


class Progress:
    """Draws `layer 3/10 · 12,345 files · 456.7 MB` over itself."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._last = 0.0
        self._drawn = False

    @staticmethod
    def wanted(quiet: bool, stream: TextIO | None = None) -> bool:
        stream = stream or sys.stderr
        return not quiet and stream.isatty()

    def update(self, layer: int, layers: int, files: int, scanned_bytes: int) -> None:
        now = time.monotonic()
        if now - self._last < _INTERVAL:
            return
        self._last = now
        line = f"layer {layer + 1}/{layers} · {files:,} files · {scanned_bytes / 1e6:,.1f} MB"
        self._stream.write("\r" + line.ljust(60))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\r" + " " * 60 + "\r")
            self._stream.flush()


class ByteProgress:
    """A bar in bytes for `export` and `extract`: `[#######.....]  45%  123.4 / 270.1 MB`,
    or the bytes alone when the total is not known (an engine's stream, compressed layers)."""

    _WIDTH = 24

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < _INTERVAL:
            return
        self._last = now
        if total and total >= done:
            filled = int(self._WIDTH * done / total)
            bar = "#" * filled + "." * (self._WIDTH - filled)
            line = f"{self._label} [{bar}] {100 * done / total:3.0f}%  {done / 1e6:,.1f} / "
            line += f"{total / 1e6:,.1f} MB"
        else:
            line = f"{self._label} {done / 1e6:,.1f} MB"
        self._stream.write("\r" + line.ljust(70))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\r" + " " * 70 + "\r")
            self._stream.flush()


@contextmanager
def byte_progress(label: str, quiet: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A ByteProgress's update while the block runs (None when none is wanted), erased after."""
    bar = ByteProgress(label) if Progress.wanted(quiet) else None
    try:
        yield bar.update if bar is not None else None
    finally:
        if bar is not None:
            bar.close()
