"""The facade of `extract`: open any target and lay it out on disk (layers/extract.py),
with every instruction it records redacted as the reports redact them."""

from __future__ import annotations

from pathlib import Path

from ..image.open import open_image
from ..image.source import OpenOptions
from ..layers.extract import ExtractOptions, ExtractSummary, Progress, extract
from ..model.findings import redact_known
from .inspect import history_secrets


def extract_image(
    target: str,
    out_dir: Path,
    options: ExtractOptions | None = None,
    open_options: OpenOptions | None = None,
    progress: Progress | None = None,
) -> ExtractSummary:
    """Extract `target` into `out_dir` (new or empty); see layers/extract.py for the layout."""
    with open_image(target, open_options) as image:
        secrets = history_secrets(image)
        return extract(
            image,
            out_dir,
            options,
            clean=lambda text: redact_known(text, secrets) if text else text,
            progress=progress,
        )
