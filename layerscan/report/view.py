"""What a person's report lists: everything that matters, and one line for the vendored noise.

A real image's first scan finds thousands of low findings in vendored code (test keys inside
shared libraries, entropy strings in site-packages and node_modules) beside the handful that
matter. Table, Markdown and SARIF list what is at or above medium, and any low finding that
is not vendored; the vendored low ones are counted in one line (`--all` lists them; code
scanning services cap a run at a few thousand results, and would drop the real ones). The
JSON report lists every finding with its `reason`: scripts filter for themselves.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

FOLD_KEY = "view"
"""Where engine/document.py's build_document puts the choice; the JSON report leaves it out."""
_SHOWN_RULES = 4


def folds(document: dict[str, Any]) -> bool:
    """Whether this report folds vendored low findings (the default; not with --all)."""
    return bool(document.get(FOLD_KEY, {}).get("fold_vendored", False))


def is_folded(finding: dict[str, Any]) -> bool:
    """A low (or info) finding in vendored code: folded by default."""
    return finding["severity"] in ("low", "info") and finding.get("reason") == "vendored"


def listed(document: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The findings to list, and the line that counts the folded ones (None if none is)."""
    findings = document["findings"]
    if not folds(document):
        return findings, None
    shown = [finding for finding in findings if not is_folded(finding)]
    folded = [finding for finding in findings if is_folded(finding)]
    return shown, folded_line(folded)


def folded_line(folded: list[dict[str, Any]]) -> str | None:
    """ "5,416 low findings in vendored files hidden: 4,614 high-entropy-base64, ...; --all
    lists them"."""
    if not folded:
        return None
    by_rule = Counter(finding["rule"] for finding in folded).most_common()
    parts = [f"{count:,} {rule}" for rule, count in by_rule[:_SHOWN_RULES]]
    rest = sum(count for _, count in by_rule[_SHOWN_RULES:])
    if rest:
        parts.append(f"{rest:,} of {len(by_rule) - _SHOWN_RULES} more rules")
    noun = "finding" if len(folded) == 1 else "findings"
    return (
        f"{len(folded):,} low {noun} in vendored files hidden: {', '.join(parts)}; --all lists them"
    )
