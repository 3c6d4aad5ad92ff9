"""Issue 19, class 1. Time: super-linear work on crafted text (a rule, a parser or an overlap check
that is not linear in its input).
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
