"""One error family, so the CLI can turn any failure into a message a user can act on."""

from __future__ import annotations


class LayerscanError(Exception):
    """Base of every error layerscan raises on purpose."""


class TargetError(LayerscanError):
    """The target cannot be opened as an image at all (exit code 2)."""


class UsageError(LayerscanError):
    """The command line asks for something that cannot be done (exit code 2)."""


class ImageFormatError(TargetError):
    """The target was found but its manifest, index or config is not a valid image."""
