"""Offsets to line numbers: counted from the last offset asked about, the same answers as a
full list of line starts, whatever order the offsets come in."""

from __future__ import annotations

import bisect
import random

from layerscan.detect.lines import LineIndex


def _reference(text: str, offset: int) -> tuple[int, int, int]:
    starts = [0] + [n + 1 for n, char in enumerate(text) if char == "\n"]
    number = bisect.bisect_right(starts, offset)
    start = starts[number - 1]
    end = text.find("\n", offset)
    return number, start, len(text) if end < 0 else end


def test_line_numbers_match_a_full_index_in_any_order() -> None:
    chooser = random.Random(3)
    text = "".join(chooser.choice("ab \n") for _ in range(5000)) + "\n\nend"
    offsets = [chooser.randrange(len(text) + 1) for _ in range(400)]
    for order in (sorted(offsets), offsets, sorted(offsets, reverse=True)):
        index = LineIndex(text)
        for offset in order:
            assert index.line_span(offset) == _reference(text, offset)
            assert index.line_of(offset) == _reference(text, offset)[0]


def test_line_text_and_start_agree_with_spans() -> None:
    text = "first\nsecond line\n\nlast"
    index = LineIndex(text)
    for offset in range(len(text)):
        number, start, end = index.line_span(offset)
        assert index.line_start(number) == start
        assert index.line_text(number) == text[start:end]


def test_the_line_before_a_line_start() -> None:
    text = "first\nsecond line\n\nlast"
    index = LineIndex(text)
    starts = [0, 6, 18, 19]
    assert [index.line_before(start) for start in starts] == ["", "first", "second line", ""]
