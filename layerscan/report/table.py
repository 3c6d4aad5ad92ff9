"""A terminal table: one row per finding, where it is, its status and the instruction."""

from __future__ import annotations

import re
from typing import Any

from tabulate import tabulate

from ..instruction import abbreviate
from .document import printable

_INSTRUCTION_WIDTH = 48


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Escape control characters: image paths and history lines must not drive the terminal.

    Bytes that are not UTF-8 show as \\xNN too (see document.printable).
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", printable(text))


def _short(text: str | None, width: int = _INSTRUCTION_WIDTH) -> str:
    return terminal_safe(abbreviate(text, width)) if text else ""


def _where(finding: dict[str, Any]) -> str:
    if finding["source"] == "file":
        where = str(finding["path"])
        where += f"!{finding['nested_path']}" if finding["nested_path"] else ""
        return where + (f":{finding['line']}" if finding["line"] else "")
    return f"{finding['source']}: {finding['key']}"


def _status(finding: dict[str, Any]) -> str:
    removed = finding["removed_by"]
    if removed is None:
        return str(finding["status"])
    return f"{finding['status']} by layer {removed['index']}"


def _secret_groups(findings: list[dict[str, Any]]) -> dict[str, str]:
    """A short tag (#1, #2, ...) for each secret seen in more than one place."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["secret_sha256"]] = counts.get(finding["secret_sha256"], 0) + 1
    tags: dict[str, str] = {}
    for finding in findings:
        digest = finding["secret_sha256"]
        if counts[digest] > 1 and digest not in tags:
            tags[digest] = f"#{len(tags) + 1} "
    return tags


def render(document: dict[str, Any]) -> str:
    image = document["image"]
    summary = document["summary"]
    lines = [
        f"Image {image['reference'] or image['target']} ({image['source']}, "
        f"{summary['layers']} layers)"
    ]
    rows = []
    groups = _secret_groups(document["findings"])
    for finding in document["findings"]:
        layer = finding["layer"] or {}
        layer_index = layer.get("index")
        rows.append(
            [
                finding["severity"],
                finding["rule"],
                terminal_safe(_where(finding)),
                _status(finding),
                "" if layer_index is None else layer_index,
                _short(layer.get("instruction")),
                groups.get(finding["secret_sha256"], "") + terminal_safe(finding["secret"]),
            ]
        )
    if rows:
        headers = ["severity", "rule", "where", "status", "layer", "instruction", "secret"]
        lines.append(tabulate(rows, headers=headers, tablefmt="simple"))
    else:
        lines.append("No secrets found.")
    for warning in document.get("warnings", []):
        lines.append(terminal_safe(f"warning: {warning}"))
    for error in document["errors"]:
        path = f" {error['path']}" if error["path"] else ""
        lines.append(terminal_safe(f"error: layer {error['layer']}{path}: {error['message']}"))
    by_severity = ", ".join(f"{n} {s}" for s, n in summary["by_severity"].items() if n)
    skipped = ", ".join(f"{n} {reason}" for reason, n in summary["skipped"].items())
    lines.append(
        f"{summary['findings']} findings"
        + (f" ({by_severity})" if by_severity else "")
        + f"; {summary['files_scanned']} files in {summary['layers']} layers scanned"
        + (f"; skipped: {skipped}" if skipped else "")
        + ("" if summary["complete"] else f"; INCOMPLETE: {summary['errors']} errors")
    )
    return "\n".join(lines) + "\n"
