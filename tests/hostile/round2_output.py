"""Issue 19, class 4. Writes through planted links and special files, and layouts whose files are
links out of them.
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
