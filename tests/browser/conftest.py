"""The browser tests' fixtures: headless Debian chromium under Playwright (tests/support/
browser.py), a recording page per test, and the images whose HTML reports they open.

Without playwright or chromium the browser tests skip with the reason, except when
LAYERSCAN_REQUIRE_ENGINE=1 (set by .ci/run): then they fail. A test that fails with a page
open gets a screenshot of it under its tmp_path; the failure report names the file and lists
what the page recorded.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.credentials import Credentials
from tests.support import report_images
from tests.support.browser import BrowserPage, BrowserUnavailable, launch
from tests.support.paths import BUNDLED_DEMO

_OPEN_PAGE = pytest.StashKey[BrowserPage]()


def _browser_unavailable(reason: str) -> None:
    if os.environ.get("LAYERSCAN_REQUIRE_ENGINE") == "1":
        pytest.fail(f"the browser is required here but {reason}", pytrace=False)
    pytest.skip(f"no browser: {reason}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless chromium (a playwright Browser), one for the session."""
    try:
        with launch() as started:
            yield started
    except BrowserUnavailable as error:
        _browser_unavailable(str(error))


@pytest.fixture
def browser_page(
    browser: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[BrowserPage]:
    """A fresh page (own context, 1280x900) that records console errors, uncaught exceptions,
    and every request but its document's; `browser_page.open(path)` loads a file."""
    page = BrowserPage.new(browser)
    page.failure_screenshot = tmp_path / "failure-screenshot.png"
    request.node.stash[_OPEN_PAGE] = page
    yield page
    del request.node.stash[_OPEN_PAGE]
    page.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    page = item.stash.get(_OPEN_PAGE, None)
    if report.failed and report.when in ("setup", "call") and page is not None:
        assert page.failure_screenshot is not None
        try:
            saved = f"screenshot: {page.screenshot(page.failure_screenshot)}"
        except Exception as error:  # the page may have crashed: say so, keep the failure
            saved = f"no screenshot ({type(error).__name__}: {str(error).splitlines()[0]})"
        recorded = page.problems() or ["nothing recorded"]
        report.sections.append(("browser page at failure", "\n".join([saved, *recorded])))
    return report


# --- the images whose reports the browser tests open --------------------------------------


@pytest.fixture(scope="session")
def demo_image() -> Path:
    """The bundled demo, fixtures/demo.tar (a docker-archive)."""
    return BUNDLED_DEMO


@pytest.fixture(scope="session")
def large_image(
    engine: Any, credentials: Credentials, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A docker-archive of report_images.build_large_image: ~40 layers, thousands of files, a
    few hundred findings of many rules, severities and statuses."""
    return report_images.build_large_image(engine, tmp_path_factory.mktemp("large-image"))


@pytest.fixture(scope="session")
def hostile_names_image(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docker-archive of report_images.build_hostile_names_image: HTML and script payloads in
    file names, a LABEL, an ENV value and a RUN instruction, each name holding a finding."""
    return report_images.build_hostile_names_image(engine, tmp_path_factory.mktemp("hostile-names"))


@pytest.fixture(scope="session")
def hostile_corpus_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A few readable cases of the hostile corpus, built: case name -> target."""
    return report_images.hostile_corpus_images(tmp_path_factory.mktemp("hostile-corpus"))
