"""Every case of the hostile corpus: the first round (corpus.py, groups 1-13) and the second
(issue 19, classes 1-8), one module per class so that each class's shapes sit together."""

from __future__ import annotations

from tests.hostile import (
    round2_cache,
    round2_container,
    round2_crash,
    round2_evidence,
    round2_output,
    round2_spool,
    round2_terminal,
    round2_time,
    round2_writes,
)
from tests.hostile.corpus import CASES, Case

ROUND_TWO: tuple[Case, ...] = (
    *round2_time.CASES,
    *round2_container.CASES,
    *round2_cache.CASES,
    *round2_output.CASES,
    *round2_writes.CASES,
    *round2_terminal.CASES,
    *round2_evidence.CASES,
    *round2_spool.CASES,
    *round2_crash.CASES,
)
ALL_CASES: tuple[Case, ...] = (*CASES, *ROUND_TWO)
