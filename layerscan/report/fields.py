"""How a finding's place and status read in every human-facing report (table, Markdown, SARIF)."""

from __future__ import annotations

from typing import Any


def where_text(finding: dict[str, Any]) -> str:
    """Where a finding sits inside the image: path!member:line, or the history/config key."""
    if finding["source"] == "file":
        where = str(finding["path"])
        where += f"!{finding['nested_path']}" if finding["nested_path"] else ""
        return where + (f":{finding['line']}" if finding["line"] else "")
    return f"{finding['source']}: {finding['key']}"


def status_text(finding: dict[str, Any]) -> str:
    """present, or deleted/overwritten by layer N."""
    removed = finding["removed_by"]
    if removed is None:
        return str(finding["status"])
    return f"{finding['status']} by layer {removed['index']}"
