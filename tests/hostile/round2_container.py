"""Issue 19, class 2. Memory and recursion in the outer container (tar headers, OCI indexes and
manifests), and a repeated layer read once.
"""

from __future__ import annotations

from tests.hostile.corpus import Case

CASES: tuple[Case, ...] = ()
