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


class TreeMemory:
    """Peak memory of a process and all its descendants (the scan's workers included),
    sampled from /proc while it runs. PSS shares each page among the processes that map it
    (forked workers share the parent's pages), so the PSS sum is the memory the scan costs
    the machine; the RSS sum counts shared pages once per process and overstates it."""

    def __init__(self) -> None:
        self.pss_kib = 0
        self.rss_kib = 0
        self.main_rss_kib = 0

    def sample(self, root: int) -> None:
        pss = rss = 0
        for pid in [root, *_descendants(root)]:
            fields = _rollup(pid)
            pss += fields.get("Pss", 0)
            rss += fields.get("Rss", 0)
            if pid == root:
                self.main_rss_kib = max(self.main_rss_kib, fields.get("Rss", 0))
        self.pss_kib = max(self.pss_kib, pss)
        self.rss_kib = max(self.rss_kib, rss)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rollup(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0])
    return fields


@dataclass
class Run:
    seconds: float
    memory: TreeMemory
    output: str


def _child(argv: list[str], sampled: bool) -> Run:
    """Run a command in a fresh process; `sampled`: sample its process tree's memory every
    20 ms. Timed runs are not sampled: reading /proc every 20 ms takes about a tenth of a
    core, which a scan that keeps both cores busy would pay in its time."""
    memory = TreeMemory()
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    if sampled:
        while process.poll() is None:
            memory.sample(process.pid)
            time.sleep(0.02)
    process.wait()
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"benchmark child failed: {err[-2000:]}")
    return Run(seconds, memory, out)


FLOOR = """
import sys, tarfile
from layerscan.image.open import open_image
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


def _scan_command(target: str, report: str, cache: str | None) -> list[str]:
    """The CLI a user runs: JSON report written, no gate, cold (--no-cache) or cached."""
    caching = ["--cache-dir", cache] if cache else ["--no-cache"]
    return [sys.executable, "-m", "layerscan", "scan", target, "-f", "json", "-o", report,
            "--fail-on", "never", "-q", *caching]  # fmt: skip


@dataclass
class Figures:
    target: str
    files: int
    megabytes: float
    floor_s: float
    scan_s: float
    rescan_s: float
    main_rss: int
    tree_pss: int
    tree_rss: int

    @property
    def ratio(self) -> float:
        return self.scan_s / self.floor_s


def measure(target: str) -> Figures:
    # As `pip install` does: without the bytecode (this machine sets PYTHONDONTWRITEBYTECODE)
    # every scan would first compile layerscan's modules again.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "layerscan")], check=True)
    floor = [sys.executable, "-c", FLOOR, target]
    with tempfile.TemporaryDirectory(prefix="layerscan-bench-") as scratch:
        report = str(Path(scratch) / "report.json")
        cache = str(Path(scratch) / "cache")
        cold, warm = _scan_command(target, report, None), _scan_command(target, report, cache)
        floors, scans = [], []
        for _ in range(REPEAT):  # interleaved: a slow spell of the machine weighs on both
            floors.append(_child(floor, sampled=False))
            scans.append(_child(cold, sampled=False))
        summary = json.loads(Path(report).read_text())["summary"]
        measured = [_child(cold, sampled=True) for _ in range(REPEAT)]
        _child(warm, sampled=False)  # fills the cache
        rescans = [_child(warm, sampled=False) for _ in range(REPEAT)]
        if json.loads(Path(report).read_text())["summary"]["findings"] != summary["findings"]:
            raise SystemExit("the cached rescan found something else than the cold scan")
        warm_memory = _child(warm, sampled=True).memory
    floor_memory = _child(floor, sampled=True).memory
    floor_s = statistics.median(run.seconds for run in floors)
    scan_s = statistics.median(run.seconds for run in scans)
    rescan_s = statistics.median(run.seconds for run in rescans)
    megabytes = int(floors[-1].output.strip()) / 1e6
    main_rss = max(run.memory.main_rss_kib for run in measured) // 1024
    tree_pss = max(run.memory.pss_kib for run in measured) // 1024
    tree_rss = max(run.memory.rss_kib for run in measured) // 1024
    print(f"target            {target}")
    print(
        f"layers / files    {summary['layers']} / {summary['files_scanned']} "
        f"({megabytes:.1f} MB of file data)"
    )
    print(f"findings          {summary['findings']}")
    print(f"floor (read only) {floor_s:.2f} s  (median of {REPEAT}, fresh process each)")
    print(
        f"full scan         {scan_s:.2f} s  = {scan_s / floor_s:.1f}x the floor, "
        f"{megabytes / scan_s:.1f} MB/s  (`layerscan scan --no-cache -f json`)"
    )
    print(f"rescan (cached)   {rescan_s:.2f} s  = {100 * rescan_s / scan_s:.0f}% of the full scan")
    print(
        f"peak memory       {tree_pss} MiB PSS for the scan and its workers together "
        f"(RSS summed: {tree_rss} MiB; main process alone: {main_rss} MiB); "
        f"rescan {warm_memory.pss_kib // 1024} MiB, floor {floor_memory.pss_kib // 1024} MiB"
    )
    print()
    return Figures(
        target, summary["files_scanned"], megabytes, floor_s, scan_s, rescan_s,
        main_rss, tree_pss, tree_rss,
    )  # fmt: skip


def main() -> None:
    targets = sys.argv[1:] or [str(ROOT / "fixtures" / "demo.tar")]
    for target in targets:
        measure(target)


if __name__ == "__main__":
    main()
