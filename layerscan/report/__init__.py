"""Reporters: one module per format, each rendering the same redacted report document."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from . import html, json_report, markdown, sarif, table


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"
    HTML = "html"


RENDERERS: dict[Format, Callable[[dict[str, Any]], str]] = {
    Format.TABLE: table.render,
    Format.JSON: json_report.render,
    Format.SARIF: sarif.render,
    Format.MARKDOWN: markdown.render,
    Format.HTML: html.render,
}


def render(document: dict[str, Any], output_format: Format) -> str:
    """Render a report document (built by engine/document.py) in one format."""
    return RENDERERS[output_format](document)
