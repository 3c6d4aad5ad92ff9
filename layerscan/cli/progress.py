"""A one-line progress display on stderr for long scans: layer, files, bytes.

Shown only when stderr is a terminal (and not with --quiet), redrawn at most a few times a
second, and erased at the end, so stdout carries nothing but the report.
"""

from __future__ import annotations

import sys
import time
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
