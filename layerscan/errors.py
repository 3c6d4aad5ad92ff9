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


class LayerError(LayerscanError):
    """One layer could not be read to its end; the other layers are still scanned."""

    def __init__(self, layer_index: int, message: str) -> None:
        super().__init__(f"layer {layer_index}: {message}")
        self.layer_index = layer_index
        self.detail = message
