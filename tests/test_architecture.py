"""The layout is the architecture: import contracts, the public API, one error family."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import layerscan
from tests.support.paths import ROOT

PACKAGE = ROOT / "layerscan"
_LINT_IMPORTS = (
    "from importlinter.cli import lint_imports; "
    "raise SystemExit(lint_imports(no_cache=True, no_logo=True))"
)


def test_the_import_contracts_in_pyproject_hold() -> None:
    """import-linter's layers, forbidden and acyclic contracts (deferred imports count)."""
    run = subprocess.run(
        [sys.executable, "-c", _LINT_IMPORTS], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_public_api_is_what_all_names() -> None:
    assert sorted(layerscan.__all__) == sorted(
        ["Finding", "LayerscanError", "ScanOptions", "ScanResult", "__version__", "scan"]
    )
    for name in layerscan.__all__:
        assert getattr(layerscan, name) is not None


def test_package_init_files_import_nothing_of_ours() -> None:
    """Importing a module then runs no other module's code: the static graph is the real one."""
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent == PACKAGE:
            continue  # the public API re-exports on purpose
        tree = ast.parse(init.read_text(encoding="utf-8"))
        relative = [
            node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level
        ]
        names = {alias.name for node in relative for alias in node.names}
        # content/ re-exports its plain data (limits, units), which import nothing heavy
        allowed = {"DEFAULT_LIMITS", "ContentLimits", "Reason", "Skipped", "Unit"}
        if init.parent.name == "content":
            assert names <= allowed, names
        elif init.parent.name == "report":
            assert all(node.module in (None,) for node in relative), init
        else:
            assert not relative, f"{init.relative_to(ROOT)} imports {names}"


def _exception_classes() -> list[tuple[Path, ast.ClassDef]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name)
                and (base.id.endswith(("Error", "Exception", "Exceeded")) or base.id == "Overflow")
                for base in node.bases
            ):
                found.append((path, node))
    return found


def test_every_public_exception_derives_from_the_error_base() -> None:
    """An exception a user can meet is a LayerscanError (with an exit code); control flow
    inside a package uses private classes (a leading underscore)."""
    import importlib

    checked = 0
    for path, node in _exception_classes():
        if node.name.startswith("_"):
            continue
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        cls = getattr(importlib.import_module(module_name), node.name)
        assert issubclass(cls, layerscan.LayerscanError), f"{module_name}.{node.name}"
        assert cls.exit_code in (2, 3)
        checked += 1
    assert checked >= 8
