"""`history --dockerfile`: the Dockerfile an image was built from, as far as it tells.

The steps come from the history (every builder's format, see image/builders.py and
model/dockerfile_syntax.py) and, where the history is silent (a squashed or hand-made
image), from the config. Each step carries what its layer actually did, from a scan: the
files it added, its size and the findings it holds. The base is summed up in one `FROM`
line (image/base.py says where it ends). Everything is redacted here, before any renderer
sees it: build-arg values always, and every secret the scan found, wherever it is quoted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from ..image.base import BaseInfo, find_base
from ..image.builders import Builder, builder_of
from ..image.model import HistoryEntry, Image, string_map
from ..layers.entries import EntryKind
from ..layers.timeline import Timeline
from ..model.dockerfile_syntax import dockerfile_line, healthcheck_config
from ..model.findings import Finding, Source, redact, redact_known
from ..model.instruction import Instruction
from ..model.safe_text import printable
from .options import ScanOptions, ScanResult
from .scan import scan

_MAX_ARG_NAMES = 256
"""Names read from one ARG line (a hostile one may hold a million)."""

SHOWN_PATHS = 3
"""How many of the paths a layer added are named beside its step (the rest are counted)."""

_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The PATH Docker gives every container: an image that has it set no ENV for it."""

_CONFIG_FIELDS = (
    ("User", "USER"),
    ("WorkingDir", "WORKDIR"),
    ("ExposedPorts", "EXPOSE"),
    ("Volumes", "VOLUME"),
    ("StopSignal", "STOPSIGNAL"),
    ("Shell", "SHELL"),
    ("OnBuild", "ONBUILD"),
    ("Healthcheck", "HEALTHCHECK"),
    ("Entrypoint", "ENTRYPOINT"),
    ("Cmd", "CMD"),
)


@dataclass(frozen=True)
class Step:
    """One reconstructed instruction, redacted, with what its layer did."""

    line: str
    keyword: str
    origin: str
    """"history" (a history entry) or "config" (a setting no history step records)."""
    builder: str
    base: bool
    history_index: int | None = None
    layer_index: int | None = None
    diff_id: str | None = None
    size: int | None = None
    empty_layer: bool = True
    created: str | None = None
    written: tuple[str, ...] = ()
    """The first paths (not directories) the step's layer wrote, added or changed."""
    files_written: int = 0
    files_added: int = 0
    files_changed: int = 0
    files_deleted: int = 0
    findings: int = 0
    build_args: dict[str, str] = field(default_factory=dict)
    arg_values: dict[str, str | None] = field(default_factory=dict)
    """For an ARG: each name it declares and the value later steps recorded for it
    (redacted), None where that is the default the line declares."""
    arg_seen_in: tuple[int, ...] = ()


@dataclass(frozen=True)
class Reconstruction:
    image: Image
    base: BaseInfo
    steps: list[Step]
    complete: bool
    warnings: list[str]


def reconstruct(
    target: str, options: ScanOptions | None = None, show_secrets: bool = False
) -> Reconstruction:
    """Scan the target (through the layer cache when `options` has one) and rebuild its
    Dockerfile from the history, the config and what each layer holds."""
    options = replace(options or ScanOptions(), reuse_image_results=False)  # paths needed
    result = scan(target, options)
    return reconstruct_result(result, show_secrets)


def reconstruct_result(result: ScanResult, show_secrets: bool = False) -> Reconstruction:
    """The reconstruction of an image already scanned (with its full timeline)."""
    image = result.image
    base = find_base(image)
    secrets = [] if show_secrets else [f.secret for f in result.findings]
    hide = (lambda text: text) if show_secrets else (lambda text: redact_known(text, secrets))
    per_step = _findings_per_step(image, result.findings)
    added = _added_paths(result.timeline)
    config = _container_config(image)
    env = dict(
        item.partition("=")[::2] for item in config.get("Env") or [] if isinstance(item, str)
    )
    labels = string_map(config.get("Labels"))
    arg_values = _arg_values(image.history)
    declared: set[str] = set()
    steps: list[Step] = []
    for entry in image.history:
        instruction = entry.parsed
        index = entry.layer_index
        layer = image.layers[index] if index is not None else None
        stats = result.timeline.stats.get(index) if index is not None else None
        paths = added.get(index, []) if index is not None else []
        values, seen = _arg_of(instruction, arg_values, declared)
        steps.append(
            Step(
                line=hide(_line(entry, instruction, env, labels)),
                keyword=instruction.keyword,
                origin="history",
                builder=builder_of(entry, image).value,
                base=entry.index < base.history_count,
                history_index=entry.index,
                layer_index=entry.layer_index,
                diff_id=layer.diff_id if layer else None,
                size=layer.size if layer else None,
                empty_layer=entry.empty_layer,
                created=entry.created,
                written=tuple(hide(path) for path in paths[:SHOWN_PATHS]),
                files_written=len(paths),
                files_added=stats.added if stats else 0,
                files_changed=stats.changed if stats else 0,
                files_deleted=stats.deleted if stats else 0,
                findings=per_step[entry.index],
                build_args={
                    k: v if show_secrets else redact(v) for k, v in instruction.build_args.items()
                },
                arg_values={
                    name: None if value is None else value if show_secrets else redact(value)
                    for name, value in values.items()
                },
                arg_seen_in=seen,
            )
        )
    steps += [replace(step, line=hide(step.line)) for step in _config_steps(image, env)]
    complete = result.complete
    warnings = list(result.warnings) + [
        f"layer {p.layer_index}" + (f" {p.path!r}" if p.path else "") + f": {p.message}"
        for p in result.problems
    ]
    if not image.history:
        warnings.append("the image has no history: the steps come from its config alone")
    return Reconstruction(image, base, steps, complete, warnings)


def _container_config(image: Image) -> dict[str, Any]:
    """The config's `config` object (the container settings), or {} when it has none."""
    config = image.config.get("config")
    return config if isinstance(config, dict) else {}


def _line(
    entry: HistoryEntry, instruction: Instruction, env: dict[str, str], labels: dict[str, str]
) -> str:
    line = dockerfile_line(instruction, env, labels)
    if line:
        return line
    text = (entry.created_by or entry.comment or "").strip()
    return f"# {text}" if text else "# (a step with no command)"


def _arg_values(history: tuple[HistoryEntry, ...]) -> dict[str, list[tuple[int, str]]]:
    """Each build arg's values as later steps recorded them (`|N K=V` before RUN)."""
    values: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for entry in history:
        for key, value in entry.parsed.build_args.items():
            values[key].append((entry.index, value))
    return values


def _arg_of(
    instruction: Instruction, values: dict[str, list[tuple[int, str]]], declared: set[str]
) -> tuple[dict[str, str | None], tuple[int, ...]]:
    """The names an ARG step declares, with the value later steps recorded for each, and
    those steps. buildah lists every name declared so far on each ARG step (`ARG A B`):
    a name an earlier ARG step declared is left to that one."""
    if instruction.keyword != "ARG":
        return {}, ()
    found: dict[str, str | None] = {}
    steps: set[int] = set()
    for word in instruction.arguments.split()[:_MAX_ARG_NAMES]:
        name, has_default, default = word.partition("=")
        if name in declared:
            continue
        declared.add(name)
        seen = values.get(name, [])
        if not seen:
            continue
        value = seen[-1][1]
        # The default the ARG line declares is in the line already: no value to add.
        found[name] = None if has_default and value == default else value
        steps.update(index for index, _ in seen)
    return found, tuple(sorted(steps))


def _findings_per_step(image: Image, findings: list[Finding]) -> Counter[int]:
    """Findings by history step: a file's by the step of its layer, a history finding by
    its step, a config finding by the last step whose line quotes it."""
    step_of_layer = {
        entry.layer_index: entry.index for entry in image.history if entry.layer_index is not None
    }
    counts: Counter[int] = Counter()
    for finding in findings:
        ref = finding.layer
        if ref is not None and ref.history_index is not None:
            counts[ref.history_index] += 1
        elif finding.source is Source.FILE and ref is not None and ref.index in step_of_layer:
            counts[step_of_layer[ref.index]] += 1
        elif finding.source is Source.CONFIG:
            for entry in reversed(image.history):
                if finding.secret and finding.secret in entry.created_by:
                    counts[entry.index] += 1
                    break
    return counts


def _added_paths(timeline: Timeline) -> dict[int, list[str]]:
    """What each layer wrote that was not a directory, by path (the walk's versions)."""
    paths: dict[int, list[str]] = defaultdict(list)
    for versions in timeline.versions.values():
        for version in versions:
            if version.kind is not EntryKind.DIRECTORY:
                paths[version.layer_index].append(version.path)
    for listed in paths.values():
        listed.sort()
    return paths


def _config_steps(image: Image, env: dict[str, str]) -> list[Step]:
    """Settings the config holds that no history step records (a squashed or hand-made
    image): written as the instructions that would set them."""
    recorded = {entry.parsed.keyword for entry in image.history}
    config = _container_config(image)
    steps: list[Step] = []

    def add(keyword: str, arguments: str) -> None:
        line = dockerfile_line(Instruction(keyword, arguments))
        steps.append(Step(line, keyword, "config", Builder.UNKNOWN.value, False))

    if "ENV" not in recorded:
        for key, value in env.items():
            if not (key == "PATH" and value == _DEFAULT_PATH):
                add("ENV", f"{key}={value}")
    if "LABEL" not in recorded:
        for key, label in string_map(config.get("Labels")).items():
            add("LABEL", f"{key}={label}")
    for name, keyword in _CONFIG_FIELDS:
        setting = config.get(name)
        if keyword in recorded or setting in (None, "", [], {}):
            continue
        if keyword == "ONBUILD" and isinstance(setting, list):
            for trigger in setting:
                add(keyword, str(trigger))
        else:
            add(keyword, _config_value(keyword, setting))
    return steps


def _config_value(keyword: str, value: Any) -> str:
    if keyword in ("EXPOSE", "VOLUME") and isinstance(value, dict):
        ports = " ".join(str(key) for key in value)
        return ports if keyword == "EXPOSE" else json.dumps(list(value))
    if keyword == "HEALTHCHECK" and isinstance(value, dict):
        return healthcheck_config(value)
    if isinstance(value, list):
        return json.dumps([str(item) for item in value])
    return str(value)


def reconstruction_document(reconstruction: Reconstruction) -> dict[str, Any]:
    """The reconstruction as plain data: what `-f json` prints and the text renderer reads."""
    image, base = reconstruction.image, reconstruction.base
    base_layers = image.layers[: base.layer_count]
    builders = Counter(step.builder for step in reconstruction.steps if step.origin == "history")
    document: dict[str, Any] = printable(
        {
            "schema_version": 1,
            "kind": "layerscan-dockerfile",
            "image": image.identity(),
            "base": {
                "name": base.name,
                "digest": base.digest,
                "named_by": base.named_by,
                "rule": base.rule,
                "history_steps": base.history_count,
                "layers": [layer.index for layer in base_layers],
                "diff_ids": [layer.diff_id for layer in base_layers],
            },
            "builders": dict(builders.most_common()),
            "steps": [_step_document(step) for step in reconstruction.steps],
            "complete": reconstruction.complete,
            "warnings": reconstruction.warnings,
        }
    )
    return document


def _step_document(step: Step) -> dict[str, Any]:
    return {
        "step": step.history_index,
        "origin": step.origin,
        "base": step.base,
        "builder": step.builder,
        "instruction": step.keyword or None,
        "line": step.line,
        "layer": step.layer_index,
        "diff_id": step.diff_id,
        "size": step.size,
        "empty_layer": step.empty_layer,
        "created": step.created,
        "written": list(step.written),
        "files_written": step.files_written,
        "files_added": step.files_added,
        "files_changed": step.files_changed,
        "files_deleted": step.files_deleted,
        "findings": step.findings,
        "build_args": step.build_args,
        "arg_values": step.arg_values,
        "arg_seen_in": list(step.arg_seen_in),
    }
