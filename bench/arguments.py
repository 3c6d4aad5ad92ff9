"""The command line the benchmarks on the saved realistic image share."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_IMAGE = Path("/tmp/bench/full.tar")
"""Where `python3 bench/realistic.py --save` is told to write it in docs/benchmarks.md."""


def realistic_image_arguments(description: str) -> argparse.Namespace:
    """--image (the saved realistic image, which must exist) and --runs (for medians)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not args.image.is_file():
        raise SystemExit(f"{args.image} is missing: python3 bench/realistic.py --save {args.image}")
    return args
