"""Issue 19, class 5. Terminal escapes from image content on stdout and stderr (errors, logs,
messages).
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
