"""Check SARIF logs the way the issue asks: the official 2.1.0 JSON schema (as shipped by the
npm package @microsoft/jest-sarif) and Microsoft's SARIF Multitool `validate`.

tests/prepare.sh installs both into LAYERSCAN_SARIF_TOOLS (default ~/.cache/layerscan-sarif).
Without them the SARIF tests skip with the reason, except under LAYERSCAN_REQUIRE_ENGINE=1
(CI), where a missing checker is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import pytest

TOOLS = Path(os.environ.get("LAYERSCAN_SARIF_TOOLS", Path.home() / ".cache" / "layerscan-sarif"))
SCHEMA = TOOLS / "node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"
MULTITOOL = TOOLS / "node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"


@dataclass
class SarifChecker:
    schema_path: Path
    multitool: Path

    @cached_property
    def _validator(self) -> jsonschema.protocols.Validator:
        schema = json.loads(self.schema_path.read_text(encoding="utf-8"))
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        return validator_class(schema)

    def schema_errors(self, log: dict[str, Any]) -> list[str]:
        """Every place the log breaks the official schema (empty when it conforms)."""
        return [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
            for error in self._validator.iter_errors(log)
        ]

    def multitool_findings(self, paths: list[Path], work: Path) -> list[str]:
        """What `Sarif.Multitool validate` reports at warning or error level, over all files
        in one run (it takes about 2 s to start)."""
        output = work / "multitool-validation.sarif"
        run = subprocess.run(
            [
                str(self.multitool),
                "validate",
                *map(str, paths),
                "-o",
                str(output),
                "--log",
                "ForceOverwrite",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"},
        )
        if run.returncode != 0 or not output.exists():
            return [f"the Multitool failed ({run.returncode}): {run.stdout[-800:]}"]
        found = []
        for result in json.loads(output.read_text(encoding="utf-8"))["runs"][0].get("results", []):
            if result.get("level", "warning") in ("error", "warning"):
                message = result.get("message", {})
                where = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                found.append(
                    f"{where}: {result['level']} {result.get('ruleId')} "
                    f"{message.get('text') or message.get('arguments')}"
                )
        return found


def sarif_checker() -> SarifChecker:
    """The checker, or a skip (a failure in CI) naming what is missing."""
    missing = [str(path) for path in (SCHEMA, MULTITOOL) if not path.is_file()]
    if missing:
        reason = (
            f"SARIF checkers not installed (run tests/prepare.sh): missing {', '.join(missing)}"
        )
        if os.environ.get("LAYERSCAN_REQUIRE_ENGINE") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    if not os.access(MULTITOOL, os.X_OK):
        MULTITOOL.chmod(MULTITOOL.stat().st_mode | 0o100)
    return SarifChecker(SCHEMA, MULTITOOL)
