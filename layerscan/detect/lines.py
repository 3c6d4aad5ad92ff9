"""Offsets to line numbers, computed only where something matched.

Matches are few and mostly come in text order, so line breaks are counted (str.count, in C)
from the last offset asked about rather than listed for the whole text in Python.
"""

from __future__ import annotations


class LineIndex:
    """Maps character offsets of a text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None
        self._offset = 0
        self._line = 1

    def line_of(self, offset: int) -> int:
        if offset < self._offset:  # a step back: count again from the start
            self._offset, self._line = 0, 1
        self._line += self._text.count("\n", self._offset, offset)
        self._offset = offset
        return self._line

    def line_span(self, offset: int) -> tuple[int, int, int]:
        """(number, start, end) of the line holding `offset`; `end` is its line break's offset
        (or the text's end)."""
        text = self._text
        end = text.find("\n", offset)
        return self.line_of(offset), text.rfind("\n", 0, offset) + 1, len(text) if end < 0 else end

    def line_before(self, line_start: int) -> str:
        """The line before the one starting at `line_start` ('' for the first line)."""
        if line_start == 0:
            return ""
        return self._text[self._text.rfind("\n", 0, line_start - 1) + 1 : line_start - 1]

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

    def line_start(self, number: int) -> int:
        """Offset of the first character of a line."""
        return self._line_starts()[number - 1]

    def line_text(self, number: int) -> str:
        starts = self._line_starts()
        start = starts[number - 1]
        end = starts[number] - 1 if number < len(starts) else len(self._text)
        return self._text[start:end]
