"""The browser harness itself (tests/support/browser.py), on small pages written here: what it
must catch (a console error, an uncaught exception, a request, a CSP violation, a data: URL)
it catches, and a clean page leaves it empty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import BrowserPage, shown
from tests.support.paths import ROOT


def _page(folder: Path, body: str, head: str = "") -> Path:
    path = folder / "page.html"
    path.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>t</title>{head}</head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def test_a_clean_page_records_nothing(browser_page: BrowserPage, tmp_path: Path) -> None:
    page = browser_page.open(
        _page(tmp_path, "<h1>report</h1><script>document.title = 'ready';</script>")
    )
    assert page.title() == "ready"
    assert browser_page.problems() == []
    browser_page.assert_quiet()


def test_console_error_is_recorded(browser_page: BrowserPage, tmp_path: Path) -> None:
    browser_page.open(_page(tmp_path, "<script>console.error('broken', 42)</script>"))
    assert [e.text for e in browser_page.console_errors] == ["broken 42"]
    assert browser_page.page_errors == []
    with pytest.raises(AssertionError, match="console error: broken 42"):
        browser_page.assert_quiet()


def test_uncaught_exception_and_rejection_are_recorded(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    browser_page.open(
        _page(
            tmp_path,
            "<script>Promise.reject(new RangeError('never handled'));</script>"
            "<script>null.property;</script>",
        )
    )
    names = sorted(e.name for e in browser_page.page_errors)
    assert names == ["RangeError", "TypeError"], browser_page.problems()
    assert any("never handled" in e.message for e in browser_page.page_errors)


def test_an_exception_in_a_handler_after_load_is_recorded(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    page = browser_page.open(
        _page(
            tmp_path,
            "<button id=b>go</button><script>document.getElementById('b')"
            ".addEventListener('click', () => { throw new Error('clicked') })</script>",
        )
    )
    assert browser_page.page_errors == []
    page.click("#b")
    browser_page.settle()
    assert [e.message for e in browser_page.page_errors] == ["clicked"]


def test_a_request_is_recorded_and_aborted(browser_page: BrowserPage, tmp_path: Path) -> None:
    (tmp_path / "sibling.png").write_bytes(b"")  # a file beside the document is not the document
    page = browser_page.open(
        _page(
            tmp_path,
            '<img id=remote src="http://127.0.0.1:9/x.png">'
            '<img id=local src="sibling.png">'
            "<script>fetch('https://example.invalid/beacon', {method: 'POST'})"
            ".catch(() => { document.title = 'fetch refused' })</script>",
        )
    )
    seen = {(r.url, r.resource_type, r.method) for r in browser_page.requests}
    assert seen == {
        ("http://127.0.0.1:9/x.png", "image", "GET"),
        ((tmp_path / "sibling.png").as_uri(), "image", "GET"),
        ("https://example.invalid/beacon", "fetch", "POST"),
    }
    # Aborted, not answered: the images never loaded and the fetch was refused.
    assert page.evaluate("document.getElementById('remote').naturalWidth") == 0
    assert page.title() == "fetch refused"


def test_navigation_away_and_websockets_are_recorded(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    document = _page(
        tmp_path,
        "<a id=away href='http://127.0.0.1:9/next'>next</a>"
        "<script>new WebSocket('ws://127.0.0.1:9/live')</script>",
    )
    page = browser_page.open(document)
    assert browser_page.websockets == ["ws://127.0.0.1:9/live"]
    page.click("#away")
    browser_page.settle()
    assert [(r.url, r.resource_type) for r in browser_page.requests] == [
        ("http://127.0.0.1:9/next", "document")
    ]
    assert page.url == document.resolve().as_uri()


def test_data_and_blob_urls_are_recorded_apart(browser_page: BrowserPage, tmp_path: Path) -> None:
    gif = "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs="
    browser_page.open(
        _page(
            tmp_path,
            f'<img src="{gif}"><script>fetch("data:text/plain,inline")'
            ".then(() => fetch(URL.createObjectURL(new Blob(['x']))))"
            ".then(() => { document.title = 'fetched' })</script>",
        )
    )
    browser_page.page.wait_for_function("document.title === 'fetched'")
    browser_page.settle()
    loaded = sorted(r.url.split(",", 1)[0].split(";", 1)[0] for r in browser_page.data_requests)
    assert len(loaded) == 3 and loaded[0].startswith("blob:null/"), loaded
    assert loaded[1:] == ["data:image/gif", "data:text/plain"], loaded
    assert browser_page.requests == []  # none of them is a network request
    assert any(line.startswith("data: URL loaded") for line in browser_page.problems())


def test_a_strict_csp_reports_the_inline_script(browser_page: BrowserPage, tmp_path: Path) -> None:
    page = browser_page.open(
        _page(
            tmp_path,
            "<script>document.title = 'ran'</script>",
            head='<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">',
        )
    )
    assert page.title() == "t"  # the script was blocked
    [violation] = browser_page.csp_violations
    assert "Executing inline script violates" in violation.text
    assert "default-src 'none'" in violation.text
    assert browser_page.page_errors == []


def test_shown_cuts_token_like_runs_and_the_folder() -> None:
    token = "ghp_" + "A1b2C3d4" * 4 + "x9Z8"  # 40 characters, not a real one
    line = shown(f"loaded file:///tmp/work/report.html?t={token}", "file:///tmp/work/report.html")
    assert token not in line
    assert "ghp_…[40 chars]" in line
    assert "<dir>/report.html" in line


def test_a_failing_page_test_gets_a_screenshot(browser: object, tmp_path: Path) -> None:
    """A failing browser test, run in a pytest session of its own: its report names a
    screenshot that exists, and lists what the page recorded. (`browser`: this needs one.)"""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text("from tests.browser.conftest import *  # noqa: F403\n")
    (suite / "test_fails.py").write_text(
        "def test_fails(browser_page, tmp_path):\n"
        "    page = tmp_path / 'p.html'\n"
        "    page.write_text(\n"
        "        \"<h1>shown</h1><script>console.error('seen by the harness')</script>\"\n"
        "    )\n"
        "    browser_page.open(page)\n"
        "    assert False, 'on purpose'\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 failed" in done.stdout
    assert "browser page at failure" in done.stdout
    assert "console error: seen by the harness" in done.stdout
    [line] = [line for line in done.stdout.splitlines() if line.startswith("screenshot: ")]
    screenshot = Path(line.removeprefix("screenshot: "))
    assert screenshot.name == "failure-screenshot.png"
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
