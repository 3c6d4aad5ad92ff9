"""How a command ends on one of our errors: one terminal-safe line on stderr, its exit code."""

from __future__ import annotations

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
