"""Every rule layerscan can report, grouped by where it comes from (`layerscan rules`)."""

from __future__ import annotations

from ..model.rule_meta import RuleGroup
from .history import METADATA_RULES
from .paths import NAME_RULE_METAS
from .rules import builtin_rules
from .secrets_core import core_rules


def rule_groups() -> list[RuleGroup]:
    """The built-in rules in the order the catalogue lists them."""
    core = sorted(core_rules().values(), key=lambda meta: meta.id)
    return [
        RuleGroup(
            "Content rules (signatures/)",
            tuple((rule.meta, f"`{rule.origin}`") for rule in builtin_rules()),
        ),
        RuleGroup(
            "By file name and place (layerscan/detect/paths.py)",
            tuple((meta, "name") for meta in NAME_RULE_METAS),
        ),
        RuleGroup(
            "History and config keys (layerscan/detect/history.py)",
            tuple((meta, "key name") for meta in METADATA_RULES),
        ),
        RuleGroup(
            "detect-secrets heuristics (layerscan/detect/secrets_core.py)",
            tuple((meta, "detect-secrets") for meta in core),
        ),
    ]
