"""Offsets to line numbers, computed only where something matched.

Matches are few and mostly come in text order, so line breaks are counted (str.count, in C)
from the last offset asked about rather than listed for the whole text in Python.
"""

from __future__ import annotations

import itertools


class LineIndex:
    """Maps character offsets of a text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None
        self._offset = 0
        self._line = 1
        self._span: tuple[int, int, int] | None = None

    def line_of(self, offset: int) -> int:
        if offset < self._offset:  # a step back: count again from the start
            self._offset, self._line = 0, 1
        self._line += self._text.count("\n", self._offset, offset)
        self._offset = offset
        return self._line

    def line_span(self, offset: int) -> tuple[int, int, int]:
        """(number, start, end) of the line holding `offset`; `end` is its line break's offset
        (or the text's end)."""
        span = self._span
        if span is not None and span[1] <= offset <= span[2]:
            # The line of the last call (the usual case: many offsets on one long line, where
            # looking for its ends again each time was quadratic in the line's length).
            return span
        text = self._text
        end = text.find("\n", offset)
        span = self.line_of(offset), text.rfind("\n", 0, offset) + 1, len(text) if end < 0 else end
        self._span = span
        return span

    def line_before(self, line_start: int) -> str:
        """The line before the one starting at `line_start` ('' for the first line)."""
        if line_start == 0:
            return ""
        return self._text[self._text.rfind("\n", 0, line_start - 1) + 1 : line_start - 1]

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            # Each line's length plus its line break, summed: every step in C (a loop over
            # str.find costs a Python iteration per line, milliseconds on a large JSON file).
            lengths = map((1).__add__, map(len, self._text.split("\n")))
            starts = list(itertools.accumulate(lengths, initial=0))
            starts.pop()
            self._starts = starts
        return self._starts

    @property
    def lines(self) -> int:
        """How many lines the text has."""
        return len(self._line_starts())

    def line_start(self, number: int) -> int:
        """Offset of the first character of a line."""
        return self._line_starts()[number - 1]

    def line_end(self, number: int) -> int:
        """Offset of a line's line break (or of the text's end, for the last line)."""
        starts = self._line_starts()
        return starts[number] - 1 if number < len(starts) else len(self._text)

    def line_text(self, number: int) -> str:
        return self._text[self.line_start(number) : self.line_end(number)]
