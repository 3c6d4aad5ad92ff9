"""Issue 19, class 8. A crash never looks like a finding: one line, its own exit code, reports that
say the scan did not complete.
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
