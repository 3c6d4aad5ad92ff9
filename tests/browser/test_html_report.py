"""The HTML report in a real browser (Debian's chromium under Playwright): the demo, a large
generated image, an image whose names, labels, env and RUN line carry script payloads, and
readable images of the hostile corpus. Each page renders with no console error, no uncaught
exception and no request; its timeline has one row per layer; filters and sorting change the
rows shown; no payload runs (the canary global stays unset) or breaks out of its cell."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.support.browser import VIEWPORT, BrowserPage
from tests.support.command import layerscan
from tests.support.paths import BUNDLED_DEMO, ROOT
from tests.support.report_images import HOSTILE_FOLDER, HOSTILE_NAMES, PWNED, write_html_report

SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
README_SCREENSHOT = ROOT / "docs" / "demo-report.png"
MAX_DIFFERENT_PIXELS = 0.03
"""Of the README's screenshot against one taken now: the scan's duration and the target's
path may differ in a few glyphs, not more."""


def _reports(target: str | Path, folder: Path, *options: str) -> tuple[Path, dict[str, Any]]:
    """The HTML report of target and the JSON report of the same scan options."""
    folder.mkdir(parents=True, exist_ok=True)
    page = write_html_report(target, folder / "report.html", *options)
    run = layerscan("scan", str(target), "-f", "json", *options)
    assert run.code in (0, 1, 3), run.stderr[-600:]
    return page, json.loads(run.stdout)


def _opened(page: BrowserPage, path: Path) -> Any:
    opened = page.open(path)
    opened.wait_for_selector("body[data-ready='1']", state="attached")
    return opened


def _visible(opened: Any, selector: str = "tr.finding") -> list[dict[str, str]]:
    return list(
        opened.eval_on_selector_all(
            selector, "rows => rows.filter(r => !r.hidden).map(r => ({...r.dataset}))"
        )
    )


def _renders_cleanly(page: BrowserPage, path: Path, report: dict[str, Any]) -> Any:
    """The checks every report must pass: quiet, one timeline row per layer, no payload run,
    one heading, no element wider than the window."""
    opened = _opened(page, path)
    page.assert_quiet()
    assert opened.locator("#timeline-table tr.layer").count() == len(report["layers"])
    assert opened.evaluate(f"() => typeof window.{PWNED}") == "undefined"
    assert opened.locator("h1").count() == 1
    assert opened.locator("script").count() == 1
    assert opened.locator("img, iframe, svg, object, embed").count() == 0
    width = opened.evaluate("() => document.documentElement.scrollWidth")
    assert width <= VIEWPORT[0], f"the page is {width} px wide: something broke the layout"
    return opened


def test_the_demo_report_renders_and_tells_each_findings_life(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    path, report = _reports(BUNDLED_DEMO, tmp_path)
    opened = _renders_cleanly(browser_page, path, report)
    assert opened.locator("#verdict").inner_text().startswith("Gate failed")
    assert len(_visible(opened)) == len(report["findings"])
    key = next(f for f in report["findings"] if f["path"] == "/root/.ssh/id_rsa")
    row = opened.locator(f"tr.finding[data-fingerprint='{key['fingerprint']}']")
    assert "deleted by layer 2; still recoverable from layer 1" in row.inner_text()
    row.locator("summary").click()
    assert f"--finding {key['fingerprint']}" in row.locator("code.recover").inner_text()
    base = opened.locator("#timeline-table tr.layer.base")
    assert base.count() == 1 and base.get_attribute("data-layer") == "0"
    assert opened.locator("#timeline-table tr.step.empty").count() == 4
    assert "ARG NPM_TOKEN" in opened.locator("#dockerfile pre").inner_text()
    assert opened.locator("#hygiene-table tr.finding").count() == 1
    browser_page.assert_quiet()


def test_filters_and_sorting_change_the_rows_on_a_large_image(
    large_image: Path, browser_page: BrowserPage, tmp_path: Path
) -> None:
    path, report = _reports(large_image, tmp_path, "--all")  # its vendored lows as rows too
    opened = _renders_cleanly(browser_page, path, report)
    everything = _visible(opened)
    assert len(everything) == len(report["findings"]) >= 200

    def choose(control: str, value: str) -> list[dict[str, str]]:
        opened.select_option(f"#filter-{control}", value)
        browser_page.settle()
        return _visible(opened)

    critical = choose("severity", "critical")
    assert 0 < len(critical) < len(everything)
    assert {row["severity"] for row in critical} == {"critical"}
    high = choose("severity", "high")
    assert {row["severity"] for row in high} == {"critical", "high"} and len(high) > len(critical)
    choose("severity", "")
    deleted = choose("status", "deleted")
    expected = sum(1 for f in report["findings"] if f["status"] == "deleted")
    assert len(deleted) == expected and {row["status"] for row in deleted} == {"deleted"}
    count = opened.locator("#visible-count").inner_text()
    assert count == f"{expected} of {len(everything)} shown"
    choose("status", "")
    layer = next(f["layer"]["index"] for f in report["findings"] if f["source"] == "file")
    in_layer = choose("layer", str(layer))
    assert in_layer and {row["layer"] for row in in_layer} == {str(layer)}
    choose("layer", "-")
    assert {row["layer"] for row in _visible(opened)} == {""}  # history and config
    choose("layer", "")
    rule = report["findings"][0]["rule"]
    assert {row["rule"] for row in choose("rule", rule)} == {rule}
    choose("rule", "")
    opened.fill("#filter-text", "no such text anywhere")
    browser_page.settle()
    assert _visible(opened) == []
    opened.fill("#filter-text", "")
    browser_page.settle()
    assert len(_visible(opened)) == len(everything)

    header = opened.locator("#findings-table th[data-sort='layer']")
    header.click()
    layers = [int(row["layer"]) for row in _visible(opened, "#findings-table tr.finding")
              if row["layer"]]  # fmt: skip
    assert layers == sorted(layers) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    descending = [r["layer"] for r in _visible(opened, "#findings-table tr.finding") if r["layer"]]
    assert [int(n) for n in descending] == sorted(layers, reverse=True)
    opened.locator("#findings-table th[data-sort='severity']").click()
    ranks = [SEVERITY_RANK[r["severity"]] for r in _visible(opened, "#findings-table tr.finding")]
    assert ranks == sorted(ranks, reverse=True)
    browser_page.assert_quiet()


def test_script_payloads_in_names_labels_env_and_run_render_as_text(
    hostile_names_image: Path, browser_page: BrowserPage, tmp_path: Path
) -> None:
    path, report = _reports(hostile_names_image, tmp_path)
    opened = _renders_cleanly(browser_page, path, report)
    table = opened.locator("#findings-table").inner_text()
    for entry in HOSTILE_NAMES:
        if entry.name.isprintable():  # the others are shown as \uXXXX (test_html.py)
            assert f"{HOSTILE_FOLDER}/{entry.name}" in table, entry.label
    assert "\\u202e" in table and "\\u0008" in table
    timeline = opened.locator("#timeline-table").inner_text()
    assert f"<script>window.{PWNED}=9</script>" in timeline  # the RUN line, as text
    assert "</td></tr></table><h1>env broke out</h1>" in timeline  # the ENV step
    # hover and click every finding row and every link: no handler a payload hid fires
    for row in opened.locator("tr.finding").all():
        row.hover()
    for link in opened.locator("a").all():
        link.click()
    browser_page.settle()
    assert opened.evaluate(f"() => typeof window.{PWNED}") == "undefined"
    browser_page.assert_quiet()


def test_the_hostile_corpus_reports_render_cleanly(
    hostile_corpus_images: dict[str, str], browser_page: BrowserPage, tmp_path: Path
) -> None:
    for name, target in hostile_corpus_images.items():
        path, report = _reports(target, tmp_path / name)
        _renders_cleanly(browser_page, path, report)
        if not report["summary"]["complete"]:
            assert browser_page.page.locator("#problems li").count() >= 1, name
            assert browser_page.page.locator("body").get_attribute("data-verdict") == "incomplete"


def test_the_readme_screenshot_is_the_demo_report_as_it_renders_now(
    browser: Any, tmp_path: Path
) -> None:
    """docs/demo-report.png is made by `python3 -m tests.support.screenshot`; taken again
    here (tmp_path/now.png, kept with the test's output), it must match within a few glyphs:
    a change to the report that the README's picture does not show fails."""
    from PIL import Image, ImageChops

    from tests.support.screenshot import take

    now = tmp_path / "now.png"
    problems = take(os.path.relpath(BUNDLED_DEMO), now, browser=browser)
    assert problems == []
    with Image.open(README_SCREENSHOT) as committed, Image.open(now) as fresh:
        assert committed.size == fresh.size == VIEWPORT
        difference = ImageChops.difference(committed.convert("RGB"), fresh.convert("RGB"))
        changed = difference.convert("L").point(lambda v: 255 if v else 0).histogram()[255]
    share = changed / (VIEWPORT[0] * VIEWPORT[1])
    assert share <= MAX_DIFFERENT_PIXELS, (
        f"{share:.1%} of the pixels differ from docs/demo-report.png (see {now}): run "
        "`python3 -m tests.support.screenshot docs/demo-report.png`"
    )
