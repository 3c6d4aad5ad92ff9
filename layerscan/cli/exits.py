"""How a command ends on one of our errors: one terminal-safe line on stderr, its exit code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from ..errors import LayerscanError
from ..report.table import terminal_safe


def fail(error: LayerscanError) -> NoReturn:
    """Say what went wrong in one line (names from the image escaped) and exit with its code."""
    typer.echo(terminal_safe(f"layerscan: {error}"), err=True)
    raise typer.Exit(error.exit_code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the project's errors into one line on stderr and their exit code."""
    try:
        yield
    except LayerscanError as exc:
        fail(exc)


class _TerminalSafeFormatter(logging.Formatter):
    """Log lines quote paths and names from the image: escaped like the table, so an image
    cannot drive the terminal (ESC sequences, OSC 52 clipboard writes) through -v."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().format(record))


def log_to_stderr(verbose: bool) -> None:
    """Warnings (a layer cache refused) show without -v; -v adds what was skipped and why."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_TerminalSafeFormatter("layerscan: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
