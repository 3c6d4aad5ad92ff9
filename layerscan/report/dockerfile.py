"""The reconstructed Dockerfile as text (`history --dockerfile`), from its document.

What each step did goes on a comment line above the instruction, not after it: in a
Dockerfile a `#` after ENV, LABEL or COPY is part of the value, and the output must build.
A line the history holds with line breaks (a heredoc, or a hostile name) is written with
continuation backslashes, so no line of an image's text starts an instruction of its own.
"""

from __future__ import annotations

from typing import Any

from .table import terminal_safe

_UNITS = ("B", "kB", "MB", "GB", "TB")


def size_text(size: int | None) -> str:
    """Bytes in decimal units, one decimal above 1 kB (`1.7 kB`)."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # (not reached)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _short(diff_id: str | None) -> str:
    return (diff_id or "unknown")[7:19] if diff_id else "unknown"


def _from_line(document: dict[str, Any]) -> list[str]:
    base = document["base"]
    name = base["name"] or "unknown base"
    if base["digest"] and base["name"] and "@" not in base["name"]:
        name = f"{base['name']}@{base['digest']}"
    layers = base["layers"]
    if layers:
        span = f"layers {layers[0]}-{layers[-1]}"
        ids = ", ".join(_short(diff_id) for diff_id in base["diff_ids"][:4])
        more = len(base["diff_ids"]) - 4
        where = f"{span}, diff_ids {ids}" + (f" and {more} more" if more > 0 else "")
    else:
        where = "no base layers identified"
    how = {
        "buildah": "buildah's first own step names it",
        "cmd": "the base ends at its last CMD/ENTRYPOINT",
        "import": "the base is an imported root filesystem",
        "builder": "the base is where the builder changes",
        "none": "no base boundary found",
    }.get(base["rule"], base["rule"])
    named = f"; named by {base['named_by']}" if base["named_by"] else ""
    return [f"# base: {how}{named}", f"FROM {name}  # {where}"]


def _base_lines(document: dict[str, Any]) -> list[str]:
    """The base summed up: how its end was found, its own steps as comments, one FROM."""
    heading, from_line = _from_line(document)
    lines = [terminal_safe(heading)]
    base_steps = [step for step in document["steps"] if step["base"]]
    if base_steps:
        lines[0] += f"; its {_plural(len(base_steps), 'step')}:"
        for step in base_steps:
            for piece in _instruction_lines(step["line"].removeprefix("# ")):
                lines.append(f"#   {piece}")
    return [*lines, terminal_safe(from_line)]


def _about(step: dict[str, Any], mixed: bool) -> str:
    """The comment above a step: where it is, what its layer did, what it holds."""
    parts = [f"step {step['step']}"] if step["step"] is not None else ["from the config"]
    if step["layer"] is not None:
        parts.append(f"layer {step['layer']}, {size_text(step['size'])}")
        written = step["files_written"]
        if written:
            shown = ", ".join("/" + path for path in step["written"])
            more = written - len(step["written"])
            parts.append(f"wrote {shown}" + (f" and {more} more" if more else ""))
        if step["files_deleted"]:
            parts.append(f"{step['files_deleted']} deleted")
    if step["arg_seen_in"]:
        seen = ", ".join(str(index) for index in step["arg_seen_in"][:6])
        more = " and more" if len(step["arg_seen_in"]) > 6 else ""
        values = {
            name: "the default" if value is None else value
            for name, value in step["arg_values"].items()
        }
        if len(values) == 1:
            parts.append(f"value (in steps {seen}{more}): {next(iter(values.values()))}")
        elif values:
            shown = ", ".join(f"{name}={value}" for name, value in values.items())
            parts.append(f"values (in steps {seen}{more}): {shown}")
    if step["findings"]:
        parts.append(_plural(step["findings"], "finding"))
    if mixed and step["origin"] == "history":
        parts.append(f"built by {step['builder']}")
    return "# " + "; ".join(parts)


def _instruction_lines(line: str) -> list[str]:
    pieces = line.split("\n")
    if len(pieces) == 1:
        return [terminal_safe(line)]
    return [terminal_safe(piece) + " \\" for piece in pieces[:-1]] + [terminal_safe(pieces[-1])]


def render(document: dict[str, Any]) -> str:
    """The Dockerfile text: a header, the base as one FROM, then each own step."""
    image = document["image"]
    name = image["reference"] or image["target"]
    digest = image["digest"] or image["config_digest"]
    builders = ", ".join(
        f"{builder} {_plural(count, 'step')}" for builder, count in document["builders"].items()
    )
    lines = [
        terminal_safe(f"# Reconstructed by layerscan from {name} ({(digest or '')[:19]}…)"),
        terminal_safe(f"# builders: {builders or 'none'}"),
    ]
    steps = document["steps"]
    own_builders = {s["builder"] for s in steps if s["origin"] == "history" and not s["base"]}
    mixed = len(own_builders) > 1
    lines += _base_lines(document)
    config_only = False
    for step in steps:
        if step["base"]:
            continue
        if step["origin"] == "config" and not config_only:
            config_only = True
            lines.append("# settings the config holds that no history step records:")
        if step["origin"] == "history":
            lines.append(terminal_safe(_about(step, mixed)))
        lines += _instruction_lines(step["line"])
    for warning in document["warnings"]:
        lines.append(terminal_safe(f"# warning: {warning}"))
    if not document["complete"]:
        lines.append("# incomplete: some layers could not be read (see the warnings above)")
    return "\n".join(lines) + "\n"
