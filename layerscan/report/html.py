"""A self-contained HTML report: the image's build timeline with the findings on it.

One file, readable offline and attachable to a ticket: no external font, script, image or
request, and a Content-Security-Policy (report/html_assets.py) that allows only the page's
own stylesheet and script. The page is rendered here, in full; the script only filters and
sorts rows, so it reads the same with scripts blocked.

Everything from the image (paths, keys, history lines, labels, redacted secrets) is
attacker-controlled: it goes through `_text`, which escapes markup and shows control,
zero-width and bidirectional characters as `\\uXXXX` instead of letting them reorder or hide
what the reader sees. Secrets are as redacted as the document is (engine/document.py).

The timeline comes from the reconstructed Dockerfile (engine/dockerfile.py) that the scan
command attaches under `dockerfile`; without it, from the layers alone.
"""

from __future__ import annotations

import html
import re
import shlex
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from .dockerfile import render as render_dockerfile
from .dockerfile import size_text
from .fields import where_text
from .html_assets import BAR_STEPS, CONTENT_SECURITY_POLICY, CSS, SCRIPT
from .remediation import ROTATE
from .view import listed

DOCKERFILE_KEY = "dockerfile"
"""Where the scan command puts the reconstruction (engine/dockerfile.py) for this report."""
MAX_SHOWN = 2000
"""Characters of one instruction or name shown; the rest is counted (a hostile RUN line can
be a megabyte)."""
SEVERITIES = ("critical", "high", "medium", "low", "info")
STATUSES = ("present", "deleted", "overwritten")
_RANK = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2069\ufeff]"
)


def _text(value: object, limit: int = MAX_SHOWN) -> str:
    """Literal text in an element or attribute: markup escaped, invisible characters shown."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit:,} more characters)"
    text = _INVISIBLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return html.escape(text, quote=True)


def _size(size: int | None) -> str:
    return "" if size is None else size_text(size)


def _badges(counts: Counter[str]) -> str:
    return " ".join(
        f'<span class="sev {severity}">{counts[severity]} {severity}</span>'
        for severity in SEVERITIES
        if counts.get(severity)
    )


def render(document: dict[str, Any]) -> str:
    """The whole page."""
    findings, folded = listed(document)
    secrets = [f for f in findings if f.get("kind", "secret") == "secret"]
    hygiene = [f for f in findings if f.get("kind") == "misconfig"]
    image = document["image"]
    title = image.get("reference") or image.get("target") or "image"
    body = [
        _header(document, findings),
        "<main>",
        _timeline(document, findings),
        _findings_section(secrets, hygiene, folded, document),
        _hygiene_section(hygiene, document),
        _dockerfile_section(document),
        _problems_section(document),
        "</main>",
        _footer(document),
    ]
    exit_code = (document["summary"].get("policy") or {}).get("exit_code", "")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>layerscan: {_text(title, 200)}</title>\n"
        f"<style>{CSS}</style></head>\n"
        f'<body data-exit-code="{_text(exit_code)}" data-verdict="{_verdict_class(document)}">\n'
        + "\n".join(part for part in body if part)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


# -- header -----------------------------------------------------------------------------


def _verdict_class(document: dict[str, Any]) -> str:
    summary = document["summary"]
    code = (summary.get("policy") or {}).get("exit_code")
    if not summary["complete"] or code not in (None, 0, 1):
        return "incomplete"
    return "fail" if code == 1 else "pass"


def _verdict(document: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    summary = document["summary"]
    policy = summary.get("policy") or {}
    fail_on = policy.get("fail_on")
    verdict = _verdict_class(document)
    if verdict == "incomplete":
        code = policy.get("exit_code", "")
        text = f"Incomplete scan: {summary['errors']} errors (below); exit code {code}"
    elif fail_on and fail_on != "never" and fail_on in _RANK:
        over = sum(1 for f in findings if _RANK.get(f["severity"], 0) >= _RANK[fail_on])
        gate = "failed" if verdict == "fail" else "passed"
        text = (
            f"Gate {gate}: {over} findings at or above {fail_on} (exit code {policy['exit_code']})"
        )
    else:
        text = f"{summary['findings']} findings; the gate is off (--fail-on {fail_on or 'never'})"
    accepted = policy.get("baselined", 0) + policy.get("ignored", 0)
    if accepted:
        text += f"; {accepted} accepted by the baseline or the ignore file"
    return f'<div class="verdict {verdict}" id="verdict">{_text(text)}</div>'


def _header(document: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    image, summary = document["image"], document["summary"]
    identity = [
        ("reference", image.get("reference")),
        ("target", image.get("target")),
        ("source", image.get("source")),
        ("platform", image.get("platform")),
        ("digest", image.get("digest")),
        ("config digest", image.get("config_digest")),
        (
            "scanned",
            f"{summary['layers']} layers, {summary['files_scanned']:,} files, "
            f"{_size(summary['bytes_scanned'])} in {summary['seconds']} s",
        ),
    ]
    rows = "".join(
        f'<dt>{_text(name)}</dt><dd class="mono">{_text(value)}</dd>'
        for name, value in identity
        if value not in (None, "")
    )
    counts = Counter(f["severity"] for f in findings)
    badges = "".join(
        f'<li><span class="sev {s if counts.get(s) else "none"}">{counts.get(s, 0)} {s}</span></li>'
        for s in SEVERITIES
    )
    name = image.get("reference") or image.get("target") or ""
    return (
        "<header>"
        "<h1>layerscan report</h1>"
        f'<p class="target mono" id="image-name">{_text(name)}</p>'
        + _verdict(document, findings)
        + f'<dl class="identity" id="identity">{rows}</dl>'
        f'<ul class="counts" id="counts">{badges}</ul>' + _nav(document, findings) + "</header>"
    )


def _nav(document: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    """Links to the sections this page has (no anchor that leads nowhere)."""
    sections = [("timeline", "Timeline"), ("findings", "Findings")]
    if any(f.get("kind") == "misconfig" for f in findings):
        sections.append(("hygiene", "Hygiene"))
    if document.get(DOCKERFILE_KEY):
        sections.append(("dockerfile", "Dockerfile"))
    if document.get("errors") or document.get("warnings"):
        sections.append(("problems", "What could not be read"))
    return "<nav>" + "".join(f'<a href="#{key}">{name}</a>' for key, name in sections) + "</nav>"


# -- timeline ---------------------------------------------------------------------------


def _steps(document: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The history steps in build order with one row for every layer (a layer no step names,
    in a squashed or hand-made image, gets a row of its own), and the base."""
    recon = document.get(DOCKERFILE_KEY)
    layers = document["layers"]
    steps: list[dict[str, Any]] = []
    if recon:
        steps = [dict(step) for step in recon["steps"] if step["origin"] == "history"]
    covered = {step["layer"] for step in steps if step.get("layer") is not None}
    base_layers = set(recon["base"]["layers"]) if recon else set()
    for layer in layers:
        if layer["index"] in covered:
            continue
        row = {
            "step": layer.get("history_index"),
            "base": layer["index"] in base_layers,
            "line": layer.get("instruction") or "(no history step names this layer)",
            "layer": layer["index"],
            "size": layer.get("size"),
            "empty_layer": False,
            "files_added": layer.get("files_added", 0),
            "files_changed": layer.get("files_changed", 0),
            "files_deleted": layer.get("files_deleted", 0),
        }
        later = next(
            (
                i
                for i, s in enumerate(steps)
                if s.get("layer") is not None and s["layer"] > layer["index"]
            ),
            len(steps),
        )
        steps.insert(later, row)
    return steps, (recon["base"] if recon else None)


def _timeline(document: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    steps, base = _steps(document)
    by_layer: dict[int, Counter[str]] = defaultdict(Counter)
    by_step: dict[int, Counter[str]] = defaultdict(Counter)
    removed_by: Counter[int] = Counter()
    for finding in findings:
        layer = finding.get("layer")
        if layer is not None and layer.get("index") is not None:
            by_layer[layer["index"]][finding["severity"]] += 1
        elif layer is not None and layer.get("history_index") is not None:
            by_step[layer["history_index"]][finding["severity"]] += 1
        if finding.get("removed_by"):
            removed_by[finding["removed_by"]["index"]] += 1
    largest = max((step.get("size") or 0 for step in steps), default=0) or 1
    rows: list[str] = []
    in_base = None
    for step in steps:
        if step.get("base") != in_base:
            in_base = step.get("base")
            rows.append(_group_row(bool(in_base), base))
        rows.append(_step_row(step, largest, by_layer, by_step, removed_by))
    return (
        '<section id="timeline"><h2>Build timeline</h2>'
        '<p class="note">One row per history step in build order; steps that wrote a layer '
        "show its size and files. The base image's steps are shaded.</p>"
        '<table id="timeline-table"><thead><tr><th>layer</th><th>step</th><th>size</th>'
        "<th>files</th><th>findings</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _group_row(base: bool, info: dict[str, Any] | None) -> str:
    if not base:
        return '<tr class="own-head"><td colspan="5">This image\'s own steps</td></tr>'
    name = (info or {}).get("name") or "unnamed"
    rule = (info or {}).get("rule") or ""
    return (
        f'<tr class="base-head"><td colspan="5">Base image: {_text(name)}'
        f' <span class="note">(where it ends: rule "{_text(rule)}", docs/history.md)</span>'
        "</td></tr>"
    )


def _step_row(
    step: dict[str, Any],
    largest: int,
    by_layer: dict[int, Counter[str]],
    by_step: dict[int, Counter[str]],
    removed_by: Counter[int],
) -> str:
    classes = ["step"] + (["base"] if step.get("base") else [])
    line = f"<code>{_text(step.get('line'))}</code>"
    layer = step.get("layer")
    if layer is None:
        classes.append("empty")
        counts = by_step.get(step["step"], Counter()) if step.get("step") is not None else Counter()
        return (
            f'<tr class="{" ".join(classes)}" data-step="{_text(step.get("step"))}">'
            f'<td class="num">–</td><td>{line}</td><td></td><td></td>'
            f"<td>{_badges(counts)}</td></tr>"
        )
    classes.append("layer")
    size = step.get("size") or 0
    width = max(1, round(BAR_STEPS * size / largest)) if size else 0
    files = (
        f'<span class="add">+{step.get("files_added", 0)}</span> '
        f'<span class="chg">~{step.get("files_changed", 0)}</span> '
        f'<span class="del">−{step.get("files_deleted", 0)}</span>'
    )
    found = _badges(by_layer.get(layer, Counter()))
    if removed_by.get(layer):
        found += f' <span class="note">{removed_by[layer]} removed here</span>'
    return (
        f'<tr class="{" ".join(classes)}" data-layer="{layer}">'
        f'<td class="num">{layer}</td><td>{line}</td>'
        f'<td><div class="bar"><span class="w{width}"></span></div>'
        f'<span class="note">{_size(step.get("size"))}</span></td>'
        f'<td class="files num">{files}</td><td>{found}</td></tr>'
    )


# -- findings ---------------------------------------------------------------------------


def _order(finding: dict[str, Any]) -> tuple[int, int, str]:
    layer = (finding.get("layer") or {}).get("index")
    return (
        -_RANK.get(finding["severity"], 0),
        10**9 if layer is None else layer,
        where_text(finding),
    )


def _options(name: str, label: str, values: Iterable[tuple[str, str]]) -> str:
    options = "".join(f'<option value="{_text(v)}">{_text(t)}</option>' for v, t in values)
    return (
        f'<label>{label} <select id="filter-{name}">'
        f'<option value="">all</option>{options}</select></label>'
    )


def _controls(findings: list[dict[str, Any]]) -> str:
    rules = sorted({f["rule"] for f in findings})
    layers = sorted(
        {
            f["layer"]["index"]
            for f in findings
            if f.get("layer") and f["layer"].get("index") is not None
        }
    )
    layer_values = [(str(n), f"layer {n}") for n in layers]
    if any(not f.get("layer") or f["layer"].get("index") is None for f in findings):
        layer_values.append(("-", "no layer (history, config)"))
    return (
        '<div class="controls" id="filters">'
        + _options("severity", "severity at least", ((s, s) for s in SEVERITIES))
        + _options("rule", "rule", ((r, r) for r in rules))
        + _options("status", "status", ((s, s) for s in STATUSES))
        + _options("layer", "layer", layer_values)
        + '<label>text <input id="filter-text" type="search" placeholder="path, key, step"></label>'
        + f'<span id="visible-count" class="note">{len(findings)} of {len(findings)} shown</span>'
        "</div>"
    )


def _life(finding: dict[str, Any], layer_count: int, base_layers: set[int], target: str) -> str:
    """Where the finding lives on the timeline, in a track of one cell per layer and words."""
    layer = finding.get("layer") or {}
    written = layer.get("index")
    removed = (finding.get("removed_by") or {}).get("index")
    if finding["source"] != "file" or written is None:
        where = "the image config" if finding["source"] == "config" else "the build history"
        step = layer.get("history_index")
        at = f" (step {step})" if step is not None and finding["source"] != "config" else ""
        return f'<span class="note">in {where}{at}: shown to anyone who pulls the image</span>'
    cells = []
    for index in range(layer_count):
        kind = ""
        if index == written:
            kind = "w"
        elif removed is not None and index == removed:
            kind = "x"
        elif index > written and (removed is None or index < removed):
            kind = "on"
        if index in base_layers:
            kind = (kind + " b").strip()
        cells.append(f'<i class="{kind}"></i>' if kind else "<i></i>")
    words = [f"written in layer {written}"]
    if removed is not None:
        words.append(f"{finding['status']} by layer {removed}")
        words.append(f"still recoverable from layer {written}")
    else:
        words.append("present in the final image")
    command = (
        f"layerscan recover {shlex.quote(target)} --finding {finding['fingerprint']} -o evidence"
    )
    return (
        f'<div class="life" aria-hidden="true">{"".join(cells)}</div>'
        f'<span class="note">{_text("; ".join(words))}</span>'
        "<details><summary>recover the evidence</summary>"
        f'<code class="recover">{_text(command)}</code></details>'
    )


def _severity(finding: dict[str, Any]) -> str:
    return f'<span class="sev {_text(finding["severity"])}">{_text(finding["severity"])}</span>'


def _finding_row(finding: dict[str, Any], order: int, cells: list[str]) -> str:
    layer = finding.get("layer") or {}
    index = layer.get("index")
    return (
        f'<tr class="finding" data-order="{order}"'
        f' data-kind="{_text(finding.get("kind", "secret"))}"'
        f' data-severity="{_text(finding["severity"])}" data-rule="{_text(finding["rule"])}"'
        f' data-status="{_text(finding["status"])}"'
        f' data-layer="{"" if index is None else index}"'
        f' data-where="{_text(where_text(finding), 300)}"'
        f' data-fingerprint="{_text(finding["fingerprint"])}">'
        + "".join(f"<td>{cell}</td>" for cell in cells)
        + "</tr>"
    )


def _short_lines(document: dict[str, Any]) -> dict[int, str]:
    """Each history step's Dockerfile line (`COPY file:da428f7c /root/.ssh/id_rsa`, not the
    builder's 64-hex form), by step index, when the reconstruction is there."""
    recon = document.get(DOCKERFILE_KEY) or {}
    return {
        step["step"]: step["line"]
        for step in recon.get("steps", [])
        if step["origin"] == "history" and step.get("step") is not None
    }


def _layer_cell(finding: dict[str, Any], lines: dict[int, str]) -> str:
    layer = finding.get("layer")
    if layer is None:
        return '<span class="note">config</span>'
    index = "–" if layer.get("index") is None else layer["index"]
    line = lines.get(layer.get("history_index"), layer.get("instruction"))
    return f'{index}<br><code class="note">{_text(line, 90)}</code>'


def _findings_section(
    secrets: list[dict[str, Any]],
    hygiene: list[dict[str, Any]],
    folded: str | None,
    document: dict[str, Any],
) -> str:
    layer_count = len(document["layers"])
    recon = document.get(DOCKERFILE_KEY)
    base_layers = set(recon["base"]["layers"]) if recon else set()
    target = document["image"].get("target") or ""
    lines = _short_lines(document)
    rows = []
    for order, finding in enumerate(sorted(secrets, key=_order)):
        notes = []
        if finding.get("reason"):
            notes.append(finding["reason"])
        if finding.get("also_in_history"):
            notes.append("also in history: " + ", ".join(map(str, finding["also_in_history"])))
        where = f'<span class="where mono">{_text(where_text(finding))}</span>' + "".join(
            f'<br><span class="note">{_text(note, 300)}</span>' for note in notes
        )
        cells = [
            _severity(finding),
            _text(finding["rule"]),
            where,
            _layer_cell(finding, lines),
            _text(finding["status"]),
            f"<code>{_text(finding['secret'], 300)}</code>",
            _life(finding, layer_count, base_layers, target),
        ]
        rows.append(_finding_row(finding, order, cells))
    table = (
        '<table id="findings-table"><thead><tr>'
        '<th data-sort="severity">severity</th><th data-sort="rule">rule</th>'
        '<th data-sort="where">where</th><th data-sort="layer">layer</th>'
        '<th data-sort="status">status</th><th>secret</th><th>life on the timeline</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        if rows
        else '<p id="no-findings">No secret found.</p>'
    )
    folded_line = f'<p class="note" id="folded">{_text(folded)}</p>' if folded else ""
    rotate = f'<p class="note">{_text(ROTATE)}</p>' if rows else ""
    return (
        '<section id="findings"><h2>Findings</h2>'
        + (_controls(secrets + hygiene) if secrets or hygiene else "")
        + table
        + folded_line
        + rotate
        + "</section>"
    )


def _hygiene_section(hygiene: list[dict[str, Any]], document: dict[str, Any]) -> str:
    if not hygiene:
        return ""
    rules = document.get("rules", {})
    lines = _short_lines(document)
    rows = []
    offset = len(document["findings"])
    for order, finding in enumerate(sorted(hygiene, key=_order)):
        rule = rules.get(finding["rule"], {})
        fix = rule.get("remediation") or ""
        if rule.get("reference"):
            fix += f" ({rule['reference']})"
        where = f'<span class="where mono">{_text(where_text(finding))}</span>'
        if finding.get("reason"):
            where += f'<br><span class="note">{_text(finding["reason"], 300)}</span>'
        cells = [
            _severity(finding),
            _text(finding["rule"].removeprefix("misconfig.")),
            where,
            _layer_cell(finding, lines),
            _text(finding.get("evidence")),
            f'<span class="note">{_text(fix)}</span>',
        ]
        rows.append(_finding_row(finding, offset + order, cells))
    return (
        '<section id="hygiene"><h2>Image hygiene</h2>'
        '<table id="hygiene-table"><thead><tr><th data-sort="severity">severity</th>'
        '<th data-sort="rule">check</th><th data-sort="where">where</th>'
        '<th data-sort="layer">cause</th><th>seen</th><th>fix</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _dockerfile_section(document: dict[str, Any]) -> str:
    recon = document.get(DOCKERFILE_KEY)
    if not recon:
        return ""
    text = render_dockerfile(recon)
    return (
        '<section id="dockerfile"><h2>Reconstructed Dockerfile</h2>'
        '<p class="note">From the history and the config (layerscan history --dockerfile); '
        "values the scan found are redacted.</p>"
        f"<pre>{_text(text, 200_000)}</pre></section>"
    )


def _problems_section(document: dict[str, Any]) -> str:
    errors = document.get("errors") or []
    warnings = document.get("warnings") or []
    if not errors and not warnings:
        return ""
    items = [
        "<li><strong>error</strong> "
        + _text(
            ("layer " + str(e["layer"]) + " " if e.get("layer") is not None else "")
            + (e.get("path") or "")
            + ": "
            + e["message"]
        )
        + "</li>"
        for e in errors
    ] + [f"<li>warning: {_text(w)}</li>" for w in warnings]
    return (
        f'<section id="problems"><h2>What could not be read</h2><ul>{"".join(items)}</ul></section>'
    )


def _footer(document: dict[str, Any]) -> str:
    tool = document.get("tool", {})
    return (
        f"<footer>layerscan {_text(tool.get('version'))}: a self-contained report (no script or "
        "request leaves this file). Secrets are redacted unless the scan was run with "
        "--show-secrets.</footer>"
    )
