"""Markdown reports, rendered by a real CommonMark + GFM-tables parser (markdown-it-py):
the table keeps its shape and every cell shows the image's text literally, whatever the
image put in its names — no HTML, links, images, mentions or hidden characters get through."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from layerscan.engine.document import build_document
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import build_engine, scan, scan_image
from layerscan.report import Format, render
from layerscan.report.markdown import escape
from tests.hostile.builders import secret_file
from tests.support.paths import BUNDLED_DEMO
from tests.support.synthetic import file, image

HOSTILE = [
    "pipe|split.env",
    "back\\|slash.env",
    "<img src=x onerror=alert(1)>.env",
    "[click](https://evil.example)/x.env",
    "![pic](https://evil.example/p.png).env",
    "@admin-team please.env",
    "`tick``s`.env",
    "*bold*_em_~~strike~~.env",
    "#123 www.evil.example.env",
    "&amp;&#x3c;entity.env",
    "rtl\u202eenv.exe",
    "zero\u200bwidth.env",
    "line\nbreak.env",
    "esc\x1b[31mred.env",
]
MARKDOWN = MarkdownIt("commonmark").enable("table")


def _table_rows(tokens: list[Token]) -> list[list[str]]:
    """The text of every body cell of the first table, as the reader sees it."""
    rows: list[list[str]] = []
    inside_body = False
    for token in tokens:
        if token.type == "tbody_open":
            inside_body = True
        elif token.type == "tbody_close":
            break
        elif inside_body and token.type == "tr_open":
            rows.append([])
        elif inside_body and token.type == "inline":
            rows[-1].append(token.content)
    return rows


def _visible(text: str) -> str:
    """What the reader must see for a name: invisible characters as U+XXXX."""
    return re.sub(
        "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2069\ufeff]",
        lambda match: f"U+{ord(match.group()):04X}",
        text,
    )


@pytest.fixture(scope="module")
def hostile_markdown() -> tuple[str, dict[str, Any]]:
    members = [file(name, secret_file(f"md-{n}")) for n, name in enumerate(HOSTILE)]
    hostile = image([members], instructions=["/bin/sh -c #(nop) COPY <b>bold</b> | [x](y) in /"])
    options = ScanOptions()
    engine = build_engine(options)
    with engine.session():
        document = build_document(scan_image(hostile, engine, options))
    return render(document, Format.MARKDOWN), document


def test_hostile_names_stay_literal_in_the_rendered_table(
    hostile_markdown: tuple[str, dict[str, Any]],
) -> None:
    text, document = hostile_markdown
    found = [finding for finding in document["findings"] if finding["kind"] == "secret"]
    assert len(found) == len(HOSTILE)
    tokens = MARKDOWN.parse(text)
    rows = _table_rows(tokens)
    assert len(rows) == len(HOSTILE) and all(len(row) == 6 for row in rows)
    html = MARKDOWN.render(text)
    html = html[html.index("<table>") : html.index("</table>")]
    assert "<img" not in html and "<a " not in html and "<b>" not in html and "<em>" not in html
    assert "<code>" not in html and "<del>" not in html and "<strong>" not in html
    shown = {_plain(row[3]).removesuffix(":1") for row in rows}
    assert shown == {_visible(finding["path"]) for finding in found}
    assert len(shown) == len(HOSTILE)
    assert "\x1b" not in text and "\u202e" not in text and "\u200b" not in text
    assert re.search(r"(?<!\\)@admin", text) is None  # no mention reaches GitHub


def test_instruction_cell_is_escaped(hostile_markdown: tuple[str, dict[str, Any]]) -> None:
    text, _ = hostile_markdown
    [first, *_] = _table_rows(MARKDOWN.parse(text))
    assert first[0].startswith("0: COPY ") and "<b>bold</b> | [x](y)" in _plain(first[0])


def _plain(cell: str) -> str:
    """A cell's inline Markdown reduced to the text a reader sees."""
    html = MarkdownIt("commonmark").renderInline(cell)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        html = html.replace(entity, char)
    return html


@pytest.mark.parametrize(
    "text", ["a\\", "\\|", "`", "a | b", "<script>", "[x]: https://e.example", "1. list", "- item"]
)
def test_escape_round_trips_through_a_parser(text: str) -> None:
    assert _plain(escape(text)) == text


def test_demo_report_for_a_pull_request() -> None:
    document = build_document(scan(str(BUNDLED_DEMO), ScanOptions()))
    text = render(document, Format.MARKDOWN)
    assert text.startswith("### layerscan: layerscan")
    assert "**15 findings** (5 critical, 9 high, 1 medium)" in text
    rows = _table_rows(MARKDOWN.parse(text))
    assert len(rows) == 14
    [key] = [row for row in rows if _plain(row[3]) == "/root/.ssh/id_rsa:1"]
    assert _plain(key[4]) == "deleted by layer 2" and _plain(key[2]) == "private-key"
    assert _plain(key[0]).startswith("1: COPY file:")
    assert "BEGIN RSA PRIVATE KEY-----…[1674 chars]" in _plain(key[5])
    assert "<details>" in text and "Treat the secret as exposed" in text
