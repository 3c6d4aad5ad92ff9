"""Offsets to line numbers, computed once per text and only when something matched."""

from __future__ import annotations

import bisect


class LineIndex:
    """Maps character offsets of a text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            starts = [0]
            find = self._text.find
            position = find("\n")
            while position != -1:
                starts.append(position + 1)
                position = find("\n", position + 1)
            self._starts = starts
        return self._starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts(), offset)

    def line_start(self, number: int) -> int:
        """Offset of the first character of a line."""
        return self._line_starts()[number - 1]

    def line_text(self, number: int) -> str:
        starts = self._line_starts()
        start = starts[number - 1]
        end = starts[number] - 1 if number < len(starts) else len(self._text)
        return self._text[start:end]
