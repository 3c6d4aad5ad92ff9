"""The report of `diff`: a terminal table, Markdown for a pull request, or JSON for scripts.

Each renders the redacted document engine/diff.py builds. Paths, instructions and names come
from the images and are hostile: the table escapes them as the scan table does, Markdown as
the Markdown report does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from ..model.instruction import abbreviate
from .fields import status_text, where_text
from .json_report import escape_unsafe
from .markdown import escape
from .table import terminal_safe

LISTED_AT_MOST = 50
"""Rows of one kind a table or Markdown lists (a base upgrade changes thousands of files);
the JSON report lists them all."""
_WIDTH = 60
_FILE_KINDS = (
    ("added", "added"),
    ("removed", "removed"),
    ("changed", "changed"),
    ("recoverable_only_in_new", "recoverable in new only"),
    ("recoverable_only_in_old", "recoverable in old only"),
)


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def render(document: dict[str, Any], output_format: DiffFormat) -> str:
    """The diff document in one format."""
    renderers: dict[DiffFormat, Callable[[dict[str, Any]], str]] = {
        DiffFormat.TABLE: render_table,
        DiffFormat.JSON: render_json,
        DiffFormat.MARKDOWN: render_markdown,
    }
    return renderers[output_format](document)


def render_json(document: dict[str, Any]) -> str:
    return escape_unsafe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _name(image: dict[str, Any]) -> str:
    return str(image["reference"] or image["target"])


def _base(document: dict[str, Any]) -> str:
    base = document["new"]["base"]
    count = base["layer_count"]
    what = (f"{base['name']}, " if base["name"] else "") + f"{count} layer{'s' * (count != 1)}"
    return ("changed" if document["base_changed"] else "unchanged") + f" ({what} in new)"


def _counts(summary: dict[str, int], names: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{summary[key]} {label}" for key, label in names)


def _layer_rows(document: dict[str, Any]) -> list[list[Any]]:
    layers = document["layers"]
    return [
        [
            layer["index"],
            change,
            (layer["diff_id"] or "")[7:19],
            abbreviate(layer["instruction"] or "", _WIDTH),
        ]
        for change in ("dropped", "added")
        for layer in layers[change]
    ]


def _file_rows(document: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for key, label in _FILE_KINDS:
        for item in document["files"][key][:LISTED_AT_MOST]:
            if key == "changed":
                old, new = item["old"], item["new"]
                detail = ", ".join(item["changes"])
                if "size" in item["changes"]:
                    detail += f" ({old['size']} -> {new['size']} bytes)"
                rows.append([label, item["path"], f"{old['layer']} -> {new['layer']}", detail])
            else:
                detail = f"{item['size']} bytes"
                if item["removed_by"] is not None:  # recoverable: what removed it
                    detail += f", {item['status']} by layer {item['removed_by']}"
                rows.append([label, item["path"], item["layer"], detail])
    return rows


def _more(document: dict[str, Any]) -> int:
    return sum(max(len(document["files"][key]) - LISTED_AT_MOST, 0) for key, _ in _FILE_KINDS)


def _finding_rows(findings: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            finding["severity"],
            finding["rule"],
            where_text(finding),
            "" if finding["layer"] is None else finding["layer"]["index"],
            abbreviate((finding["layer"] or {}).get("instruction") or "", _WIDTH),
            status_text(finding),
            finding["secret"]
            + (f" (accepted: {finding['accepted']})" if finding["accepted"] else ""),
        ]
        for finding in findings
    ]


def _verdict(summary: dict[str, Any]) -> str | None:
    policy = summary.get("policy")
    if policy is None:
        return None
    code = policy["exit_code"]
    if code == 1:
        said = f"new findings at or above {policy['fail_on']}"
    elif code == 3:
        said = "an image could not be read in full"
    else:
        said = f"no new finding at or above {policy['fail_on']}"
    return f"Result: {said} (exit {code})"


_FINDING_HEADERS = ["severity", "rule", "where", "layer", "instruction", "status", "secret"]
_LAYER_HEADERS = ["layer", "change", "diff_id", "instruction"]
_FILE_HEADERS = ["change", "path", "layer", "detail"]
_FINDING_KINDS = (("new", "new"), ("fixed", "fixed"), ("unchanged", "unchanged"))
_LAYER_KINDS = (("shared", "shared"), ("dropped", "dropped"), ("added", "added"))
_SECTIONS = (("new", "New findings (in new only)"), ("fixed", "Fixed findings (in old only)"))


def render_table(document: dict[str, Any]) -> str:
    """What a person reads in a terminal: counts, then the layers, files and findings that
    changed (unchanged findings are counted, not listed)."""
    from tabulate import tabulate  # deferred, as in report/table.py

    def table(rows: list[list[Any]], headers: list[str]) -> list[str]:
        safe = [[terminal_safe(str(cell)) for cell in row] for row in rows]
        return ["  " + line for line in tabulate(safe, headers, tablefmt="simple").splitlines()]

    summary = document["summary"]
    lines = [
        terminal_safe(f"old: {_name(document['old'])} ({document['old']['layers']} layers)"),
        terminal_safe(f"new: {_name(document['new'])} ({document['new']['layers']} layers)"),
        terminal_safe(f"Base: {_base(document)}"),
        f"Layers: {_counts(summary['layers'], _LAYER_KINDS)}",
    ]
    if rows := _layer_rows(document):
        lines += table(rows, _LAYER_HEADERS)
    lines.append(f"Files: {_counts(summary['files'], _FILE_KINDS)}")
    if rows := _file_rows(document):
        lines += table(rows, _FILE_HEADERS)
    if more := _more(document):
        lines.append(f"  … and {more} more (-f json lists them all)")
    lines.append(f"Findings: {_counts(summary['findings'], _FINDING_KINDS)}")
    for key, title in _SECTIONS:
        if document["findings"][key]:
            lines += [
                f"{title}:",
                *table(_finding_rows(document["findings"][key]), _FINDING_HEADERS),
            ]
    for error in document["errors"]:
        where = f" {error['path']}" if error["path"] else ""
        lines.append(
            terminal_safe(
                f"error: {error['image']} layer {error['layer']}{where}: {error['message']}"
            )
        )
    if verdict := _verdict(summary):
        lines.append(verdict)
    return "\n".join(lines) + "\n"


def render_markdown(document: dict[str, Any]) -> str:
    """For a pull-request comment: the verdict and counts first, the lists after."""

    def table(rows: list[list[Any]], headers: list[str]) -> list[str]:
        out = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
        out += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
        return [*out, ""]

    summary = document["summary"]
    lines = [
        f"### layerscan diff: {escape(_name(document['old']))} → {escape(_name(document['new']))}",
        "",
    ]
    if verdict := _verdict(summary):
        lines += [f"**{escape(verdict)}**", ""]
    lines += [
        f"- Base: {escape(_base(document))}",
        f"- Layers: {_counts(summary['layers'], _LAYER_KINDS)}",
        f"- Files: {_counts(summary['files'], _FILE_KINDS)}",
        f"- Findings: {_counts(summary['findings'], _FINDING_KINDS)}",
        "",
    ]
    for key, title in _SECTIONS:
        if document["findings"][key]:
            lines += [
                f"#### {title}",
                "",
                *table(_finding_rows(document["findings"][key]), _FINDING_HEADERS),
            ]
    if rows := _layer_rows(document):
        lines += ["#### Layers", "", *table(rows, _LAYER_HEADERS)]
    if rows := _file_rows(document):
        lines += ["#### Files", "", *table(rows, _FILE_HEADERS)]
    if more := _more(document):
        lines += [f"… and {more} more files (the JSON report lists them all)", ""]
    for error in document["errors"]:
        lines.append(
            f"- error: {error['image']} layer {error['layer']}: {escape(error['message'])}"
        )
    return "\n".join(lines).rstrip() + "\n"


def summary_line(document: dict[str, Any]) -> str:
    """The one line --quiet prints."""
    summary = document["summary"]
    return terminal_safe(
        f"{_counts(summary['findings'], _FINDING_KINDS)} findings; "
        f"layers {_counts(summary['layers'], _LAYER_KINDS)}; "
        f"files {_counts(summary['files'], _FILE_KINDS[:3])}; "
        f"base {'changed' if document['base_changed'] else 'unchanged'}"
        + ("" if summary["complete"] else f"; INCOMPLETE: {len(document['errors'])} errors")
    )
