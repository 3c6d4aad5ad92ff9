"""Print how long a full scan takes and how much memory it needs, next to the read floor.

    python bench/scan_fixture.py [TARGET ...]     (default: the bundled fixtures/demo.tar)

The floor is what any scanner must pay: every member of every layer read once with tarfile
and nothing else. Figures are printed, never asserted: tests assert behaviour only.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
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
from layerscan.scan import scan
result = scan(sys.argv[1])
print(json.dumps({"findings": len(result.findings), "files": result.files_scanned,
                  "bytes": result.bytes_scanned, "layers": len(result.image.layers)}))
"""


def measure(target: str) -> None:
    floors = [_child(FLOOR, target) for _ in range(REPEAT)]
    scans = [_child(SCAN, target) for _ in range(REPEAT)]
    floor_s = statistics.median(s for s, _, _ in floors)
    scan_s = statistics.median(s for s, _, _ in scans)
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
    print(
        f"peak RSS          {max(rss for _, rss, _ in scans)} MiB (scan), "
        f"{max(rss for _, rss, _ in floors)} MiB (floor)"
    )
    print()


def main() -> None:
    targets = sys.argv[1:] or [str(ROOT / "fixtures" / "demo.tar")]
    for target in targets:
        measure(target)


if __name__ == "__main__":
    main()
