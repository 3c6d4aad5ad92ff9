"""The report of `hunt`: where one secret was found, image by image, as a table or JSON.

It names places only: what matched is not in the document (engine/hunt.py), and every
name from an image is escaped for the terminal.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from ..model.instruction import abbreviate
from .json_report import escape_unsafe
from .table import terminal_safe

_HEADERS = ["image", "layer", "step", "where", "status", "form", "instruction"]
_WIDTH = 60


class HuntFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def render(document: dict[str, Any], output_format: HuntFormat) -> str:
    """The document in the format asked for: JSON for scripts, else the table."""
    if output_format is HuntFormat.JSON:
        return escape_unsafe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
    return render_table(document)


def _where(hit: dict[str, Any]) -> str:
    if hit["source"] == "file":
        return str(hit["path"]) + (f"!{hit['nested_path']}" if hit["nested_path"] else "")
    if hit["source"] == "path":
        return f"{hit['path']} ({'link target' if hit['key'] == 'link_target' else 'name'})"
    if hit["source"] == "config":
        return f"config: {hit['key']}"
    return "history"


def _status(hit: dict[str, Any]) -> str:
    if hit["removed_by"] is None:
        return str(hit["status"])
    return f"{hit['status']} by layer {hit['removed_by']}"


def summary_line(document: dict[str, Any]) -> str:
    """One line for `-q` and the table's foot: the sha256 prefix, never the secret."""
    summary = document["summary"]
    needle = document["needle"]["sha256"][:12]
    line = (
        f"sha256:{needle}…: {summary['hits']} places in {summary['found_in']} of "
        f"{summary['images']} images"
    )
    if summary["unreadable"]:
        line += f"; {summary['unreadable']} could not be read in full"
    return line


def render_table(document: dict[str, Any]) -> str:
    """One row per place, then what could not be read, then the summary."""
    from tabulate import tabulate  # deferred, as in table.py

    rows = [
        [
            terminal_safe(hit["target"]),
            "" if hit["layer"] is None else hit["layer"],
            "" if hit["history_index"] is None else hit["history_index"],
            terminal_safe(_where(hit)),
            _status(hit),
            hit["form"],
            terminal_safe(abbreviate(hit["instruction"] or "", _WIDTH)),
        ]
        for hit in document["hits"]
    ]
    lines = []
    if rows:
        lines.append(tabulate(rows, headers=_HEADERS, tablefmt="simple"))
    else:
        lines.append("Not found in any image.")
    for image in document["images"]:
        if image["error"]:
            lines.append(terminal_safe(f"error: {image['target']}: {image['error']}"))
        for problem in image["problems"]:
            lines.append(terminal_safe(f"warning: {image['target']}: {problem}"))
    lines.append(terminal_safe(summary_line(document)))
    return "\n".join(lines) + "\n"
