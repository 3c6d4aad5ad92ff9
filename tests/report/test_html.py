"""The HTML report as a file: self-contained, its policy allowing exactly its own style and
script, one timeline row per layer, redacted unless --show-secrets, and every text from the
image escaped. (How it behaves in a real browser: tests/browser.)"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from layerscan.report import Format, render
from tests.support.command import layerscan
from tests.support.paths import BUNDLED_DEMO

PAYLOAD = '"><script>window.__pwned=1</script><img src=x onerror=alert(1)>\u202etxt.exe'


class _Page(HTMLParser):
    """The elements of a page, with their attributes, and the text of each <script>/<style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag
            self.raw[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.raw[self._in][-1] += data

    def having(self, tag: str, css_class: str | None = None) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag
            and (css_class is None or css_class in (attrs.get("class") or "").split())
        ]


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any], list[str]]:
    """The demo's HTML report (format told by the suffix), its JSON report and its secrets."""
    work = tmp_path_factory.mktemp("html-demo")
    run = layerscan(
        "scan", str(BUNDLED_DEMO), "-o", str(work / "r.html"), "-o", str(work / "r.json")
    )
    assert run.code == 1, run.stderr
    clear = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "--show-secrets")
    secrets = [f["secret"] for f in json.loads(clear.stdout)["findings"] if f["secret"]]
    return (work / "r.html").read_text(), json.loads((work / "r.json").read_text()), secrets


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_page_allows_its_own_style_and_script_and_nothing_else(
    demo: tuple[str, dict[str, Any], list[str]],
) -> None:
    text, _, _ = demo
    page = _parse(text)
    [policy] = [a for a in page.having("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    directives = dict(part.partition(" ")[::2] for part in (policy["content"] or "").split("; "))
    [script], [style] = page.raw["script"], page.raw["style"]
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'{_sha(script)}'"
    assert directives["style-src"] == f"'{_sha(style)}'"
    assert directives["img-src"] == "'none'" and directives["base-uri"] == "'none'"
    # Nothing to fetch: no source, no stylesheet or link to elsewhere, no CSS import or url().
    assert [a for _, a in page.elements if a.get("src")] == []
    assert [a for a in page.having("link")] == []
    hrefs = [a.get("href") or "" for a in page.having("a")]
    assert hrefs and all(href.startswith("#") for href in hrefs)
    ids = {a.get("id") for _, a in page.elements}
    assert [href for href in hrefs if href[1:] not in ids] == []  # every link leads somewhere
    assert not re.search(r"@import|url\(", style)
    # no handler attributes anywhere: the script attaches its listeners
    assert [a for _, a in page.elements if any(k.startswith("on") for k in a)] == []


def test_the_timeline_has_a_row_per_layer_and_sets_the_base_apart(
    demo: tuple[str, dict[str, Any], list[str]],
) -> None:
    text, report, _ = demo
    page = _parse(text)
    layers = page.having("tr", "layer")
    assert [row["data-layer"] for row in layers] == [str(n) for n in range(len(report["layers"]))]
    assert [row["data-layer"] for row in layers if "base" in (row["class"] or "")] == ["0"]
    steps = page.having("tr", "step")
    assert len(steps) == 14  # the demo's history: 10 layers and 4 steps without one
    assert len(page.having("tr", "empty")) == 4
    assert len(page.having("tr", "base-head")) == 1


def test_every_finding_is_a_row_with_its_life_and_the_recover_command(
    demo: tuple[str, dict[str, Any], list[str]],
) -> None:
    text, report, _ = demo
    rows = _parse(text).having("tr", "finding")
    assert sorted(row["data-fingerprint"] or "" for row in rows) == sorted(
        f["fingerprint"] for f in report["findings"]
    )
    key = next(f for f in report["findings"] if f["path"] == "/root/.ssh/id_rsa")
    assert "written in layer 1; deleted by layer 2; still recoverable from layer 1" in text
    command = f"layerscan recover {BUNDLED_DEMO} --finding {key['fingerprint']} -o evidence"
    assert command in text
    assert "Gate failed: 14 findings at or above high (exit code 1)" in text
    assert 'id="hygiene"' in text and "root-user" in text
    assert 'id="dockerfile"' in text and "# Reconstructed by layerscan" in text


def test_secrets_are_redacted_unless_asked_for(
    demo: tuple[str, dict[str, Any], list[str]], tmp_path: Path
) -> None:
    text, _, secrets = demo
    assert len(secrets) >= 10
    leaked = [secret[:6] for secret in secrets if secret in text]
    assert leaked == []
    shown = tmp_path / "shown.html"
    run = layerscan("scan", str(BUNDLED_DEMO), "-f", "html", "-o", str(shown), "--show-secrets")
    assert run.code == 1
    page = shown.read_text()
    single_line = [s for s in secrets if "\n" not in s]
    assert single_line and all(secret in page for secret in single_line)


def test_text_from_the_image_cannot_make_markup(
    demo: tuple[str, dict[str, Any], list[str]],
) -> None:
    """Every string the image controls, replaced by a payload: still one script, no new
    element, no handler, and the bidirectional override shown, not obeyed."""
    _, report, _ = demo
    hostile = copy.deepcopy(report)
    for finding in hostile["findings"]:
        for key in ("path", "key", "secret", "rule", "evidence", "reason"):
            if finding.get(key):
                finding[key] = PAYLOAD
        if finding["layer"]:
            finding["layer"]["instruction"] = PAYLOAD
    for layer in hostile["layers"]:
        layer["instruction"] = PAYLOAD
    hostile["image"] = {key: PAYLOAD for key in hostile["image"]}
    hostile["warnings"] = [PAYLOAD]
    clean = _parse(render(report, Format.HTML))
    page = _parse(render(hostile, Format.HTML))
    assert len(page.raw["script"]) == 1 and page.having("img") == []
    assert sorted({tag for tag, _ in page.elements}) == sorted({tag for tag, _ in clean.elements})
    assert [a for _, a in page.elements if any(k.startswith("on") for k in a)] == []
    assert "\u202e" not in render(hostile, Format.HTML)
    assert "\\u202etxt.exe" in render(hostile, Format.HTML)


def test_an_enormous_instruction_is_cut_and_counted(
    demo: tuple[str, dict[str, Any], list[str]],
) -> None:
    _, report, _ = demo
    huge = copy.deepcopy(report)
    huge["layers"][3]["instruction"] = "RUN " + "x" * 1_000_000
    text = render(huge, Format.HTML)
    assert len(text) < 200_000 and "(998,004 more characters)" in text


def test_a_scan_that_failed_says_so() -> None:
    from layerscan.engine.document import failed_document

    page = render(failed_document("app.tar", "layerscan failed: KeyError", "high", 4), Format.HTML)
    assert 'data-verdict="incomplete"' in page and 'data-exit-code="4"' in page
    assert "Incomplete scan: 1 errors (below); exit code 4" in page
    assert "layerscan failed: KeyError" in page and 'id="no-findings"' in page
