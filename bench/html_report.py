"""Issue 18's benchmark: how large the HTML report of the realistic image is, and how long
Debian's chromium takes to render it.

    python3 bench/html_report.py [--image PATH] [--runs N]

Writes the report of the realistic image (bench/realistic.py --save) as a scan does by default
(vendored low findings folded) and with `--all` (every finding a row), then opens each N
times in a fresh headless chromium page (tests/support/browser.py, Playwright) and times from
navigation to the page's script having run (`body[data-ready]`) and one frame drawn. Goals:
at most 3 MB and under 2 s for the default report. Printed, never asserted.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.arguments import realistic_image_arguments  # noqa: E402
from tests.support.browser import BrowserPage, launch  # noqa: E402


def _report(image: Path, path: Path, *extra: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "layerscan", "scan", str(image), "-q", "-o", str(path), *extra],
        capture_output=True,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"layerscan scan exited {done.returncode}: {done.stderr[-400:]!r}")
    return time.perf_counter() - started


def _render_seconds(path: Path, runs: int) -> tuple[float, int, list[str]]:
    """Median seconds to render, the number of finding rows, and what the page complained of."""
    seconds, rows, problems = [], 0, []
    with launch() as browser:
        for _ in range(runs):
            page = BrowserPage.new(browser)
            started = time.perf_counter()
            page.open(path)
            page.page.wait_for_selector("body[data-ready='1']", state="attached")
            seconds.append(time.perf_counter() - started)
            rows = page.page.locator("tr.finding").count()
            problems = page.problems()
            page.close()
    return statistics.median(seconds), rows, problems


def main() -> None:
    args = realistic_image_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="layerscan-bench-") as scratch:
        print(f"HTML report of {args.image} (median of {args.runs} renders)")
        print(f"{'report':<22}{'bytes':>12}{'rows':>8}{'write s':>10}{'render s':>10}")
        for name, extra in (("default (folded)", ()), ("--all", ("--all",))):
            path = Path(scratch) / f"{name.split()[0].strip('-')}.html"
            written = _report(args.image, path, *extra)
            render, rows, problems = _render_seconds(path, args.runs)
            size = path.stat().st_size
            print(f"{name:<22}{size:>12,}{rows:>8}{written:>10.2f}{render:>10.2f}")
            for problem in problems:
                print(f"    page problem: {problem}")


if __name__ == "__main__":
    main()
