"""Issue 19, class 7. Spooling bounded by --max-image-bytes in every command and by the
free space.
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
