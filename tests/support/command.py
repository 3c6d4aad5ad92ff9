"""Run the installed command line in a fresh process, as a user would."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def layerscan(*args: str, stdin: bytes | None = None) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "layerscan", *args], input=stdin, capture_output=True, timeout=600
    )
    return Run(
        done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )
