"""Issue 19, class 8. A crash never looks like a finding: one line, its own exit code, reports
that say the scan did not complete.

No input of the corpus may crash layerscan, so a crash is made the way a fault injector does:
a `sitecustomize` module on PYTHONPATH (a mechanism of Python itself, run before `main`)
replaces one internal function with one that raises. The oracle then holds the run to the
documented contract: exit 4, exactly one `layerscan: ...` line on stderr, no traceback, and
every report asked for that can still be written says `complete: false`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.hostile import builders as b
from tests.hostile.corpus import Case, Run, save

ROUND = 2
CRASHED = frozenset({4})
INJECT = "{out}/inject"


def build_image(work: Path) -> str:
    layer = b.plain_layer([b.regular("app/crash.env", b.secret_file("crash"))])
    return save(work, [layer])


def _inject(module: str, name: str, error: str) -> Callable[[Path], None]:
    """Plant a sitecustomize that makes `module.name` raise `error` when called."""
    source = (
        "import importlib\n"
        f"_module = importlib.import_module({module!r})\n"
        "def _fault(*args, **kwargs):\n"
        f"    raise {error}\n"
        f"setattr(_module, {name!r}, _fault)\n"
    )

    def prepare(out: Path) -> None:
        folder = out / "inject"
        folder.mkdir()
        (folder / "sitecustomize.py").write_text(source)

    return prepare


ENV = (("PYTHONPATH", INJECT), ("PYTHONDONTWRITEBYTECODE", "1"))


def _one_line(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0], lines[-3:]
    assert "did not complete" in lines[0], lines[0]


def _reports_say_incomplete(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
    _one_line(code, stdout, stderr, out)
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["complete"] is False and report["findings"] == []
    assert report["summary"]["policy"]["exit_code"] == 4
    sarif = json.loads((out / "report.sarif").read_text())
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 4


def _scan_runs(target: str) -> tuple[Run, ...]:
    fault = _inject("layerscan.engine.image_scan", "scan_image", "RuntimeError('injected')")
    return (
        Run(
            ("scan", "-f", "json", "--no-cache", "--", target),
            CRASHED,
            "scan -f json: the failed report on stdout",
            fault,
            _one_line,
            json=True,
            env=ENV,
        ),
        Run(
            (
                "scan",
                "--no-cache",
                "-f",
                "sarif",
                "-o",
                "{out}/report.sarif",
                "-f",
                "json",
                "-o",
                "{out}/report.json",
                "--",
                target,
            ),
            CRASHED,
            "scan to SARIF and JSON files: both say incomplete",
            fault,
            _reports_say_incomplete,
            env=ENV,
        ),
    )


def _render_runs(target: str) -> tuple[Run, ...]:
    fault = _inject("layerscan.report", "render", "MemoryError()")
    return (
        Run(
            ("scan", "--no-cache", "--", target),
            CRASHED,
            "the table cannot be drawn (MemoryError)",
            fault,
            _one_line,
            env=ENV,
        ),
    )


def _walk_runs(target: str) -> tuple[Run, ...]:
    fault = _inject("layerscan.layers.walk", "replay", "RecursionError('injected')")
    return (
        Run(
            ("layers", "--", target), CRASHED, "layers (RecursionError)", fault, _one_line, env=ENV
        ),
        Run(
            ("recover", "-o", "{out}/rec", "--", target, "/app/crash.env"),
            CRASHED,
            "recover (RecursionError)",
            fault,
            _one_line,
            env=ENV,
        ),
    )


CASES: tuple[Case, ...] = (
    Case(
        "crash-in-the-scan",
        8,
        "the image scan raises RuntimeError: JSON on stdout, SARIF and JSON files",
        build_image,
        CRASHED,
        lambda observed: None,
        issue_round=ROUND,
        runs=_scan_runs,
        own_runs_only=True,
    ),
    Case(
        "crash-in-the-table",
        8,
        "drawing the table raises MemoryError",
        build_image,
        CRASHED,
        lambda observed: None,
        issue_round=ROUND,
        runs=_render_runs,
        own_runs_only=True,
    ),
    Case(
        "crash-in-the-walk",
        8,
        "replaying the layers raises RecursionError (layers, recover)",
        build_image,
        CRASHED,
        lambda observed: None,
        issue_round=ROUND,
        runs=_walk_runs,
        own_runs_only=True,
    ),
)
