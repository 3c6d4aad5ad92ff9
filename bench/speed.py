"""Issue 7's benchmark: build the realistic image at three sizes and measure each.

    python3 bench/speed.py [--keep DIR]

Builds (with the real engine, see realistic.py) the quarter, half and full images, saves each
with `docker save`, and prints for each the floor (every member of every layer read with
tarfile and nothing else), a full cold scan, their ratio, MB/s, a cached rescan and the peak
memory of the scan with its workers (scan_fixture.py), then one table to show how the cost
grows with size. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import realistic  # noqa: E402
from scan_fixture import Figures, measure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="save the images here (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="layerscan-speed-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        figures: list[Figures] = []
        for scale in realistic.SCALES:
            saved = folder / f"{scale}.tar"
            if not saved.exists():
                realistic.save(realistic.build(scale), saved)
            figures.append(measure(str(saved)))
    print("| image | files | file data | floor | full scan | ratio | MB/s | rescan | peak memory |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for scale, item in zip(realistic.SCALES, figures, strict=True):
        print(
            f"| {scale} | {item.files:,} | {item.megabytes:.0f} MB | {item.floor_s:.1f} s "
            f"| {item.scan_s:.1f} s | {item.ratio:.1f}x | {item.megabytes / item.scan_s:.0f} "
            f"| {item.rescan_s:.2f} s ({100 * item.rescan_s / item.scan_s:.0f}%) "
            f"| {item.tree_pss} MiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
