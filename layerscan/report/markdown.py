"""Markdown for pull-request and merge-request comments.

Everything that comes from the image (paths, keys, history lines, redacted secrets) is
attacker-controlled text landing in a page other people read: it is escaped so that it can
neither break the table, inject links, images, HTML or mentions, nor hide itself with
control or bidirectional characters.
"""

from __future__ import annotations

import re
from typing import Any

from ..model.instruction import abbreviate
from .fields import status_text, where_text
from .remediation import ROTATE
from .view import listed

_INSTRUCTION_WIDTH = 80
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2069\ufeff]"
)
"""Controls, zero-width characters, line separators and bidirectional overrides."""
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~@:&$])")
"""ASCII punctuation that Markdown or GitHub gives a meaning: emphasis, code, links and
images, HTML and entities, tables, headings and lists, autolinks (`http:`, `www.`), mentions,
math (`$`). CommonMark lets a backslash escape any ASCII punctuation."""
_SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]


def escape(text: object) -> str:
    """Literal text inside a Markdown paragraph or table cell."""
    value = _INVISIBLE.sub(lambda match: f"U+{ord(match.group()):04X}", str(text))
    return _PUNCTUATION.sub(r"\\\1", value)


def render(document: dict[str, Any]) -> str:
    """A heading, the verdict, a findings table grouped by layer, and the details folded."""
    summary = document["summary"]
    image = document["image"]
    lines = [
        f"### layerscan: {escape(image['reference'] or image['target'])}",
        "",
        _verdict(summary),
        "",
    ]
    everything, folded = listed(document)
    findings = [f for f in everything if f.get("kind", "secret") == "secret"]
    hygiene = [f for f in everything if f.get("kind") == "misconfig"]
    if findings:
        lines += _findings_table(findings, document["layers"])
        lines += ["", f"> {escape(ROTATE)}", ""]
    if hygiene:
        lines += ["**Image hygiene**", "", *_hygiene_table(hygiene, document["rules"]), ""]
    if folded is not None:
        lines += [escape(folded), ""]
    lines += _details(document)
    return "\n".join(lines).rstrip() + "\n"


def _verdict(summary: dict[str, Any]) -> str:
    counts = ", ".join(
        f"{summary['by_severity'][severity]} {severity}"
        for severity in _SEVERITY_ORDER
        if summary["by_severity"].get(severity)
    )
    text = f"**{summary['findings']} findings**" + (f" ({counts})" if counts else "")
    removed = summary["by_status"].get("deleted", 0) + summary["by_status"].get("overwritten", 0)
    if removed:
        text += f", {removed} of them in files a later layer deleted or overwrote"
    text += f" in {summary['files_scanned']} files and {summary['layers']} layers."
    policy = summary.get("policy")
    if policy is not None:
        accepted = policy["baselined"] + policy["ignored"]
        gate = "**failed**" if policy["exit_code"] == 1 else "passed"
        if policy["exit_code"] not in (0, 1):
            gate = "**incomplete**"
        text += f" Gate (fail on {policy['fail_on']}): {gate}"
        text += f", {accepted} accepted by baseline or ignore file." if accepted else "."
    if not summary["complete"]:
        text += f" **The scan is incomplete: {summary['errors']} errors** (see below)."
    return text


def _findings_table(findings: list[dict[str, Any]], layers: list[dict[str, Any]]) -> list[str]:
    instructions = {layer["index"]: layer["instruction"] for layer in layers}
    rows = [
        "| Layer | Severity | Rule | Where | Status | Secret |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for finding in sorted(findings, key=_order):
        rows.append(
            "| "
            + " | ".join(
                [
                    _layer_cell(finding, instructions),
                    escape(finding["severity"]),
                    escape(finding["rule"]),
                    escape(where_text(finding)),
                    escape(status_text(finding)),
                    escape(finding["secret"]),
                ]
            )
            + " |"
        )
    return rows


def _hygiene_table(findings: list[dict[str, Any]], rules: dict[str, Any]) -> list[str]:
    rows = ["| Severity | Check | Where | Seen | Fix |", "| --- | --- | --- | --- | --- |"]
    for finding in findings:
        rule = rules.get(finding["rule"], {})
        rows.append(
            "| "
            + " | ".join(
                escape(str(cell or ""))
                for cell in (
                    finding["severity"],
                    finding["rule"].removeprefix("misconfig."),
                    where_text(finding),
                    finding["evidence"],
                    rule.get("remediation"),
                )
            )
            + " |"
        )
    return rows


def _order(finding: dict[str, Any]) -> tuple[int, int, str]:
    """Build order: by history step (layer or not), the config last, worst first within."""
    layer = finding["layer"] or {}
    step = layer.get("history_index")
    position = (1 << 30) if finding["source"] == "config" or step is None else step
    return (position, _SEVERITY_ORDER.index(finding["severity"]), where_text(finding))


def _layer_cell(finding: dict[str, Any], instructions: dict[int, str | None]) -> str:
    layer = finding["layer"] or {}
    index = layer.get("index")
    if finding["source"] == "config":
        return "config"
    instruction = layer.get("instruction") or ""
    if not instruction and index is not None:
        instruction = instructions.get(index) or ""
    label = f"{index}" if index is not None else f"step {layer.get('history_index')}"
    short = abbreviate(instruction, _INSTRUCTION_WIDTH) if instruction else ""
    return escape(label) + (f": {escape(short)}" if short else "")


def _details(document: dict[str, Any]) -> list[str]:
    image = document["image"]
    summary = document["summary"]
    lines = [
        "<details><summary>Image, layers and scan details</summary>",
        "",
        f"- Image: {escape(image['reference'] or image['target'])} "
        f"({escape(image['source'] or 'not opened')})",
        f"- Digest: {escape(image['digest'] or image['config_digest'] or 'unknown')}",
        f"- Platform: {escape(image['platform'] or 'unknown')}",
        f"- Scanned {summary['files_scanned']} files, {summary['bytes_scanned']} bytes "
        f"in {summary['seconds']} s",
        "",
        "| Layer | Instruction | Verified |",
        "| --- | --- | --- |",
    ]
    for layer in document["layers"]:
        instruction = abbreviate(layer["instruction"] or "", _INSTRUCTION_WIDTH)
        verified = {True: "yes", False: "**NO (tampered)**", None: "not checked"}[layer["verified"]]
        lines.append(f"| {layer['index']} | {escape(instruction)} | {verified} |")
    if summary["skipped"]:
        lines += [
            "",
            "Skipped: " + escape(", ".join(f"{n} {r}" for r, n in summary["skipped"].items())),
        ]
    if document["errors"]:
        lines += ["", "Errors:", ""]
        for error in document["errors"]:
            where = ", ".join(
                part
                for part in [
                    f"layer {error['layer']}" if error["layer"] is not None else "",
                    str(error["path"] or ""),
                ]
                if part
            )
            lines.append(f"- {escape(where + ': ' if where else '')}{escape(error['message'])}")
    if document["warnings"]:
        lines += ["", "Warnings:", ""]
        lines += [f"- {escape(warning)}" for warning in document["warnings"]]
    lines += ["", "</details>"]
    return lines
