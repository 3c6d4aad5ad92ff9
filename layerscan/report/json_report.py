"""JSON: the versioned contract with users' scripts (schema in report/schema.json)."""

from __future__ import annotations

import json
import re
from typing import Any

from .view import FOLD_KEY

_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")
"""DEL and the C1 controls (U+009B acts like ESC on many terminals), and the two line
separators: JSON allows them raw inside strings, a terminal or a JavaScript reader should
not get them raw. Outside strings valid JSON holds none, so escaping them is always safe."""


def render(document: dict[str, Any]) -> str:
    """Every finding the scan listed: folding is for people (report/view.py), not scripts."""
    data = {key: value for key, value in document.items() if key != FOLD_KEY}
    return escape_unsafe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def escape_unsafe(text: str) -> str:
    """JSON text with the characters above escaped (still the same JSON value)."""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
