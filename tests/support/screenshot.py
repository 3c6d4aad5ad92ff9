"""A picture of the demo's HTML report, for the README (docs/demo-report.png):

    python -m tests.support.screenshot OUT.png [--target TARGET] [--full-page]

Writes `layerscan scan fixtures/demo.tar -f html -o TMP/report.html` through the installed
command line (exit 1 is expected: the demo has findings), opens it in headless chromium
(tests/support/browser.py) at 1280x900, device scale 1, and saves the top of the page. What the
page did wrong on the way (a console error, an uncaught exception, a request) is printed on
stderr, redacted, and makes the exit code 1; the PNG is written all the same.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.browser import VIEWPORT, BrowserPage, BrowserUnavailable, launch
from tests.support.paths import BUNDLED_DEMO
from tests.support.report_images import write_html_report

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def take(
    target: str | Path, out: Path, full_page: bool = False, browser: Browser | None = None
) -> list[str]:
    """Render `target`'s HTML report and save its screenshot to `out`; returns what the page
    recorded (empty when it was quiet). In a browser already running (a test's), or in one
    started for it: Playwright's sync API allows one per thread."""
    with tempfile.TemporaryDirectory(prefix="layerscan-screenshot-") as folder:
        report = write_html_report(target, Path(folder) / "report.html")
        with contextlib.ExitStack() as stack:
            running = browser if browser is not None else stack.enter_context(launch())
            page = BrowserPage.new(running, viewport=VIEWPORT, device_scale_factor=1)
            try:
                page.open(report)
                page.screenshot(out, full_page=full_page)
                return page.problems()
            finally:
                page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument(
        "--target",
        default=os.path.relpath(BUNDLED_DEMO),  # as the README's command names it
        help="default: the bundled demo",
    )
    parser.add_argument("--full-page", action="store_true", help="the whole page, not its top")
    args = parser.parse_args(argv)
    try:
        problems = take(args.target, args.out.resolve(), args.full_page)
    except (BrowserUnavailable, RuntimeError) as error:
        print(f"screenshot: {error}", file=sys.stderr)
        return 2
    for line in problems:
        print(f"screenshot: the page reported {line}", file=sys.stderr)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
