"""A terminal table grouped by layer: what each build step leaked, and is it still there."""

from __future__ import annotations

import re
from typing import Any

from ..model.instruction import abbreviate
from ..model.safe_text import printable
from .fields import status_text, where_text
from .view import listed

_INSTRUCTION_WIDTH = 70
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEADERS = ["severity", "rule", "where", "status", "secret"]


def terminal_safe(text: str) -> str:
    """Escape control characters: image paths and history lines must not drive the terminal.

    Bytes that are not UTF-8 show as \\xNN too (see document.printable).
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", printable(text))


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


def _section(finding: dict[str, Any], layers: dict[int, dict[str, Any]]) -> tuple[int, str]:
    """(sort key, heading) of the group a finding is listed under."""
    layer = finding["layer"] or {}
    index = layer.get("index")
    if finding["source"] == "config":
        return (1 << 30, "Image config")
    if index is None:
        return (1 << 29, "Build history (steps without a layer)")
    instruction = layers.get(index, {}).get("instruction") or layer.get("instruction") or ""
    return (index, f"Layer {index}: {abbreviate(instruction, _INSTRUCTION_WIDTH)}")


def _hygiene_table(findings: list[dict[str, Any]]) -> str:
    """The misconfig findings: where each sits, the layer or step that caused it, what was
    seen (nothing secret: shown as it is, escaped)."""
    from tabulate import tabulate

    rows = []
    for finding in findings:
        layer = finding["layer"] or {}
        if layer.get("index") is not None:
            cause = f"layer {layer['index']}"
        elif layer.get("history_index") is not None:
            cause = f"step {layer['history_index']}"
        else:
            cause = "config"
        rows.append(
            [
                finding["severity"],
                finding["rule"].removeprefix("misconfig."),
                terminal_safe(where_text(finding)),
                cause,
                terminal_safe(finding["evidence"] or ""),
            ]
        )
    headers = ["severity", "check", "where", "cause", "seen"]
    return tabulate(rows, headers=headers, tablefmt="simple")


def summary_line(document: dict[str, Any]) -> str:
    """The one line --quiet prints: counts, what was scanned, and whether anything was lost."""
    summary = document["summary"]
    by_severity = ", ".join(f"{n} {s}" for s, n in summary["by_severity"].items() if n)
    skipped = ", ".join(f"{n} {reason}" for reason, n in summary["skipped"].items())
    policy = summary.get("policy") or {}
    accepted = policy.get("baselined", 0) + policy.get("ignored", 0)
    return terminal_safe(
        f"{summary['findings']} findings"
        + (f" ({by_severity})" if by_severity else "")
        + (f", {accepted} accepted by baseline or ignore file" if accepted else "")
        + f"; {summary['files_scanned']} files in {summary['layers']} layers scanned"
        + (f"; skipped: {skipped}" if skipped else "")
        + ("" if summary["complete"] else f"; INCOMPLETE: {summary['errors']} errors")
    )


def render(document: dict[str, Any]) -> str:
    from tabulate import tabulate  # deferred: the other formats and -q draw no table

    image = document["image"]
    layers = {layer["index"]: layer for layer in document["layers"]}
    lines = [
        terminal_safe(
            f"Image {image['reference'] or image['target']} ({image['source'] or 'not opened'}, "
            f"{document['summary']['layers']} layers)"
        )
    ]
    everything, folded = listed(document)
    findings = [f for f in everything if f.get("kind", "secret") == "secret"]
    hygiene = [f for f in everything if f.get("kind") == "misconfig"]
    groups = _secret_groups(findings)
    sections: dict[tuple[int, str], list[list[str]]] = {}
    for finding in findings:
        sections.setdefault(_section(finding, layers), []).append(
            [
                finding["severity"],
                finding["rule"],
                terminal_safe(where_text(finding)),
                status_text(finding),
                groups.get(finding["secret_sha256"], "") + terminal_safe(finding["secret"]),
            ]
        )
    for (_, heading), rows in sorted(sections.items()):
        lines += ["", terminal_safe(heading), tabulate(rows, headers=_HEADERS, tablefmt="simple")]
    if not sections:
        lines.append("No secrets found." if folded is None else "Nothing above the folded noise.")
    if hygiene:
        lines += ["", "Image hygiene (misconfig)", _hygiene_table(hygiene)]
    lines.append("")
    if folded is not None:
        lines.append(folded)
    lines += [terminal_safe(f"warning: {warning}") for warning in document.get("warnings", [])]
    for error in document["errors"]:
        layer = f" layer {error['layer']}" if error["layer"] is not None else ""
        path = f" {error['path']}" if error["path"] else ""
        lines.append(terminal_safe(f"error:{layer}{path}: {error['message']}"))
    lines.append(summary_line(document))
    return "\n".join(lines) + "\n"
