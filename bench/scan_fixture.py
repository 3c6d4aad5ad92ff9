"""Print how long a full scan takes and how much memory it needs, next to the read floor.

    python bench/scan_fixture.py [TARGET ...]     (default: the bundled fixtures/demo.tar)

The floor is what any scanner must pay: every member of every layer read once with tarfile
and nothing else. The full scan runs without a layer cache (cold); the rescan runs with a
cache that one earlier scan filled (every layer already known). Figures are printed, never
asserted: tests assert behaviour only.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = 3


_PEAK = "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"


def _child(code: str, *args: str) -> tuple[float, int, str]:
    """Run python code in a fresh process; (seconds, its peak RSS in MiB, its first line)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + _PEAK, *args], capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed: {done.stderr[-2000:]}")
    first, peak_kib = done.stdout.strip().splitlines()[-2:]
    return seconds, int(peak_kib) // 1024, first


FLOOR = """
import sys, tarfile
from layerscan.sources import open_image
total = 0
with open_image(sys.argv[1]) as image:
    for layer in image.layers:
        stream = layer.open()
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for info in archive:
                if info.isreg():
                    handle = archive.extractfile(info)
                    while chunk := handle.read(1 << 20):
                        total += len(chunk)
        stream.close()
print(total)
"""

SCAN = """
import json, sys
from pathlib import Path
from layerscan.scan import ScanOptions, scan
cache = Path(sys.argv[2]) if len(sys.argv) > 2 else None
result = scan(sys.argv[1], ScanOptions(cache_dir=cache))
print(json.dumps({"findings": len(result.findings), "files": result.files_scanned,
                  "bytes": result.bytes_scanned, "layers": len(result.image.layers)}))
"""


@dataclass
class Figures:
    target: str
    files: int
    megabytes: float
    floor_s: float
    scan_s: float
    rescan_s: float
    scan_rss: int

    @property
    def ratio(self) -> float:
        return self.scan_s / self.floor_s


def measure(target: str) -> Figures:
    floors = [_child(FLOOR, target) for _ in range(REPEAT)]
    scans = [_child(SCAN, target) for _ in range(REPEAT)]
    with tempfile.TemporaryDirectory(prefix="layerscan-bench-cache-") as cache:
        _child(SCAN, target, cache)  # fills the cache
        rescans = [_child(SCAN, target, cache) for _ in range(REPEAT)]
    floor_s = statistics.median(s for s, _, _ in floors)
    scan_s = statistics.median(s for s, _, _ in scans)
    rescan_s = statistics.median(s for s, _, _ in rescans)
    facts = json.loads(scans[-1][2])
    megabytes = int(floors[-1][2]) / 1e6
    print(f"target            {target}")
    print(
        f"layers / files    {facts['layers']} / {facts['files']} ({megabytes:.1f} MB of file data)"
    )
    print(f"findings          {facts['findings']}")
    print(f"floor (read only) {floor_s:.2f} s  (median of {REPEAT}, fresh process each)")
    print(
        f"full scan         {scan_s:.2f} s  = {scan_s / floor_s:.1f}x the floor, "
        f"{megabytes / scan_s:.1f} MB/s"
    )
    print(f"rescan (cached)   {rescan_s:.2f} s  = {100 * rescan_s / scan_s:.0f}% of the full scan")
    print(
        f"peak RSS          {max(rss for _, rss, _ in scans)} MiB (scan), "
        f"{max(rss for _, rss, _ in rescans)} MiB (rescan), "
        f"{max(rss for _, rss, _ in floors)} MiB (floor)"
    )
    print()
    return Figures(
        target,
        facts["files"],
        megabytes,
        floor_s,
        scan_s,
        rescan_s,
        max(rss for _, rss, _ in scans),
    )


def main() -> None:
    targets = sys.argv[1:] or [str(ROOT / "fixtures" / "demo.tar")]
    for target in targets:
        measure(target)


if __name__ == "__main__":
    main()
