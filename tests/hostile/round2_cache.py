"""Issue 19, class 3. The layer cache as an attack surface: links, foreign or shared directories,
planted and malformed rows.
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
