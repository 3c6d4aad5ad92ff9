"""Issue 19, class 6. Evidence integrity: hard links to the version they linked, evidence re-
checked before it is reported.
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
