"""Compare scan results with a fixture's designed truth (fixtures/<name>/truth.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from fixtures.credentials import Credentials
from layerscan.engine.options import ScanResult
from layerscan.model.findings import Finding, Kind

Row = tuple[str, str, str, int | None, str, int | None]


def row(finding: Finding) -> Row:
    """(source, rule, path or key, layer, status, removed_by) of one finding."""
    return (
        str(finding.source),
        finding.rule.id,
        finding.path if finding.path is not None else (finding.key or ""),
        finding.layer.index if finding.layer else None,
        str(finding.status),
        finding.removed_by.index if finding.removed_by else None,
    )


def secrets(result: ScanResult) -> list[Finding]:
    """The secret findings (a fixture's truth lists its planted secrets; the hygiene
    checks have truths of their own)."""
    return [f for f in result.findings if f.kind is Kind.SECRET]


def finding_rows(result: ScanResult) -> set[Row]:
    return {row(f) for f in secrets(result)}


def attributed_rows(result: ScanResult) -> set[tuple[Any, ...]]:
    """Rows plus the instruction text and the secret's hash: the full attribution."""
    return {
        (
            *row(f),
            f.layer.instruction if f.layer else None,
            f.removed_by.instruction if f.removed_by else None,
            f.secret_sha256,
        )
        for f in secrets(result)
    }


def expected_rows(expected: list[tuple[Any, ...]]) -> set[Row]:
    return {tuple(entry[:6]) for entry in expected}  # type: ignore[misc]


def expected_hashes(expected: list[tuple[Any, ...]], creds: Credentials) -> dict[Row, str]:
    """Row -> sha256 of the fabricated credential planted there."""
    return {
        tuple(entry[:6]): hashlib.sha256(getattr(creds, entry[6]).strip().encode()).hexdigest()  # type: ignore[misc]
        for entry in expected
    }
