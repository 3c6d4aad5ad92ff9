"""Validate reports against the JSON Schema shipped in the package."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema

_SCHEMA = json.loads(resources.files("layerscan.report").joinpath("schema.json").read_text())


def validate_report(report: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        report
    )
