"""Every case of the hostile corpus, run through scan, layers, history and recover.

Each case must pass the oracle (bounded time and memory, documented exit codes, no traceback,
nothing written outside the output directory, nothing unsafe inside it, terminal-safe output)
and give the result it states (a finding, an error naming the layer and entry, a warning).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.all_cases import ALL_CASES, ROUND_TWO
from tests.hostile.corpus import CASES, Case
from tests.hostile.oracle import run_case


def test_corpus_covers_every_group_of_the_issue() -> None:
    assert {case.group for case in CASES} == set(range(1, 14))
    assert len(CASES) >= 25
    assert len({case.name for case in ALL_CASES}) == len(ALL_CASES)


def test_second_round_covers_every_class_with_several_shapes() -> None:
    """Issue 19: each of its eight classes has cases of more than one shape."""
    assert all(case.issue_round == 2 for case in ROUND_TWO)
    for group in range(1, 9):
        assert len([case for case in ROUND_TWO if case.group == group]) >= 2, group


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.name for case in ALL_CASES])
def test_hostile_case(case: Case, tmp_path: Path) -> None:
    result = run_case(case, tmp_path)
    if result.problems:
        pytest.fail(f"{case.name} ({case.builds}):\n\n" + "\n\n".join(result.problems), False)
