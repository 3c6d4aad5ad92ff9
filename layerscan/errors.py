"""One error family, so the CLI can turn any failure into a message a user can act on.

Each error knows its exit code. The codes are the CLI's contract with CI jobs:
0 nothing found, 1 findings at or above --fail-on, 2 the target or the command line cannot be
used, 3 the scan is incomplete (some layer or file could not be read; the rest was scanned),
4 layerscan itself failed (an unexpected error: a bug, never a verdict on the image).
"""

from __future__ import annotations

EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_TARGET, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4


class LayerscanError(Exception):
    """Base of every error layerscan raises on purpose."""

    exit_code: int = EXIT_BAD_TARGET


class TargetError(LayerscanError):
    """The target cannot be opened as an image at all (exit code 2)."""


class UsageError(LayerscanError):
    """The command line asks for something that cannot be done (exit code 2)."""


class ImageFormatError(TargetError):
    """The target was found but its manifest, index or config is not a valid image."""


class OutputError(LayerscanError):
    """What was asked for cannot be written where the user asked (exit code 2)."""


class ContentError(LayerscanError):
    """Part of the image cannot be read: damaged, truncated or over a limit (exit code 3).

    The walk reports these per layer and goes on; one reaches the CLI only from a command that
    needs that very content (recovering a file from a damaged layer)."""

    exit_code = EXIT_INCOMPLETE
