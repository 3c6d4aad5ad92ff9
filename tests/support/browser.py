"""Open a local HTML file in headless Debian chromium through Playwright, and record what an
HTML report must never do.

Playwright drives the system's chromium (`executable_path`): no browser is downloaded, and
`playwright install` is never run. We run as root, so chromium needs `--no-sandbox`. A
`BrowserPage` records, for the document it opened:

- `console_errors`: every console message of type error, CSP violations included (chromium
  reports each one there; `csp_violations` filters them);
- `page_errors`: every uncaught exception and unhandled rejection;
- `requests`: every request other than the document itself (http, https, other file:// URLs,
  navigations, beacons): each is aborted before it leaves the browser (a navigation is
  answered 204 No Content instead, so that the document stays open), and recorded;
- `websockets`: every WebSocket the page opened (none is connected);
- `data_requests`: every data: or blob: URL the page loaded (they never reach the network, so
  they cannot be aborted, but a self-contained report has no use for them either: they are seen
  through the DevTools protocol and recorded apart).

Texts shown in a test's output go through `shown`, which cuts every long token-like run down
to its first four characters and its length, the way layerscan redacts a secret.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Route, WebSocketRoute

VIEWPORT = (1280, 900)
CHROMIUM_ARGS = (
    "--no-sandbox",  # root cannot use chromium's sandbox
    "--disable-dev-shm-usage",  # containers give /dev/shm little room
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No name resolves: even a request that escaped the routes could go nowhere.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
_TOKENISH = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_SHOWN_CHARS = 400


class BrowserUnavailable(Exception):
    """Playwright or chromium is missing, or chromium would not start; the message says why."""


def shown(text: str, document: str | None = None) -> str:
    """`text` fit for a test's output: the document's folder written as `<dir>/`, every run of
    16 or more token characters cut to its first 4 and its length, and at most 400 characters."""
    if document:
        text = text.replace(document.rsplit("/", 1)[0] + "/", "<dir>/")
    text = _TOKENISH.sub(lambda match: f"{match[0][:4]}…[{len(match[0])} chars]", text)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + f"…[{len(text)} chars]"


class _Shown:
    """A record whose repr (what pytest prints of it) passes every text through `shown`."""

    def __repr__(self) -> str:
        values = (getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]
        parts = ", ".join(repr(shown(v)) if isinstance(v, str) else repr(v) for v in values)
        return f"{type(self).__name__}({parts})"


@dataclass(frozen=True, repr=False)
class ConsoleError(_Shown):
    text: str
    location: str


@dataclass(frozen=True, repr=False)
class PageError(_Shown):
    """An exception nothing caught (or a rejection nothing handled)."""

    name: str
    message: str


@dataclass(frozen=True, repr=False)
class BlockedRequest(_Shown):
    url: str
    resource_type: str
    method: str


@dataclass(frozen=True, repr=False)
class DataRequest(_Shown):
    """A data: or blob: URL the page loaded: its first 100 characters and its length."""

    url: str
    length: int
    resource_type: str


def chromium_executable() -> str:
    found = shutil.which("chromium")
    if found is None:
        raise BrowserUnavailable("chromium is not installed (apt-get install -y chromium)")
    return found


@contextmanager
def launch() -> Iterator[Browser]:
    """Headless chromium under Playwright's sync API, closed on exit."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        raise BrowserUnavailable(
            f"playwright is not installed (pip install -e '.[test]'): {error}"
        ) from error
    executable = chromium_executable()
    playwright = sync_playwright().start()
    try:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, args=list(CHROMIUM_ARGS), headless=True
            )
        except Error as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise BrowserUnavailable(
                f"{executable} did not start under playwright: {first}"
            ) from error
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@dataclass
class BrowserPage:
    """One page in a fresh browser context, recording everything listed in the module's doc.

    `open(path)` loads a local file and waits until it has loaded and run what it queued on
    load; `settle()` waits for one more frame and task (after a click, say).
    """

    page: Page
    console_errors: list[ConsoleError] = field(default_factory=list)
    page_errors: list[PageError] = field(default_factory=list)
    requests: list[BlockedRequest] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    data_requests: list[DataRequest] = field(default_factory=list)
    document: str | None = None
    """The file:// URL of the document opened (the only request let through)."""
    failure_screenshot: Path | None = None
    """Where a failing test's screenshot goes (set by the pytest fixture)."""

    @classmethod
    def new(
        cls,
        browser: Browser,
        viewport: tuple[int, int] = VIEWPORT,
        device_scale_factor: float = 1,
    ) -> BrowserPage:
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            device_scale_factor=device_scale_factor,
            service_workers="block",
        )
        watched = cls(context.new_page())
        context.route("**/*", watched._route)
        watched.page.route_web_socket(re.compile(r".*"), watched._websocket)
        watched.page.on("console", watched._console)
        watched.page.on("pageerror", watched._page_error)
        devtools = context.new_cdp_session(watched.page)
        devtools.on("Network.requestWillBeSent", watched._request_sent)
        devtools.send("Network.enable")
        return watched

    # --- what the page did ------------------------------------------------------------------

    def _route(self, route: Route) -> None:
        request = route.request
        if self.document is not None and request.url.split("#", 1)[0] == self.document:
            route.continue_()
            return
        self.requests.append(BlockedRequest(request.url, request.resource_type, request.method))
        if request.is_navigation_request():
            # 204 No Content: the browser stays on the document (an abort would leave it on an
            # error page), and nothing went out.
            route.fulfill(status=204)
        else:
            route.abort("blockedbyclient")

    def _websocket(self, socket: WebSocketRoute) -> None:
        self.websockets.append(socket.url)
        socket.close()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            self.console_errors.append(
                ConsoleError(message.text, f"{where.get('url', '')}:{where.get('lineNumber', '')}")
            )

    def _page_error(self, error: Any) -> None:
        self.page_errors.append(PageError(getattr(error, "name", "Error"), error.message))

    def _request_sent(self, event: dict[str, Any]) -> None:
        url = event["request"]["url"]
        # chromium's own error pages draw their icons from data: URLs: not the document's.
        ours = not event.get("documentURL", "").startswith("chrome-error:")
        if ours and url.startswith(("data:", "blob:")):
            self.data_requests.append(DataRequest(url[:100], len(url), event.get("type", "")))

    @property
    def csp_violations(self) -> list[ConsoleError]:
        return [e for e in self.console_errors if "Content Security Policy" in e.text]

    def problems(self) -> list[str]:
        """Everything recorded, one line each, fit for a test's output (empty: a quiet page)."""
        lines = [f"console error: {shown(e.text, self.document)}" for e in self.console_errors]
        lines += [f"uncaught {e.name}: {shown(e.message, self.document)}" for e in self.page_errors]
        lines += [
            f"request ({r.resource_type}, aborted): {r.method} {shown(r.url, self.document)}"
            for r in self.requests
        ]
        lines += [f"websocket (not connected): {shown(url)}" for url in self.websockets]
        lines += [
            f"{r.url.split(':', 1)[0]}: URL loaded ({r.resource_type}, {r.length} chars): "
            f"{shown(r.url)}"
            for r in self.data_requests
        ]
        return lines

    def assert_quiet(self) -> None:
        """No console error, uncaught exception, request, WebSocket or data:/blob: URL."""
        problems = self.problems()
        assert not problems, "the page was not quiet:\n  " + "\n  ".join(problems)

    # --- driving it -----------------------------------------------------------------------

    def open(self, path: Path) -> Page:
        self.document = path.resolve().as_uri()
        self.page.goto(self.document, wait_until="load")
        self.settle()
        return self.page

    def settle(self) -> None:
        """Let the page draw one frame and run the tasks it queued before it: what a handler
        logs or throws by then has been recorded when this returns."""
        self.page.evaluate(
            "() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))"
        )

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        """A PNG of the viewport (or the whole page)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    def close(self) -> None:
        self.page.context.close()
