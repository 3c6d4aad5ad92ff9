"""Every rule in signatures/ matches its examples and rejects its counter-examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerscan.detect.rules import builtin_rules, load_rules, parse_rules
from layerscan.errors import UsageError

RULES = builtin_rules()


@pytest.mark.parametrize("rule", RULES, ids=[rule.meta.id for rule in RULES])
def test_rule_examples(rule: object) -> None:
    assert rule.examples_match and rule.examples_no_match, "every rule needs both kinds of example"  # type: ignore[attr-defined]
    for example in rule.examples_match:  # type: ignore[attr-defined]
        assert list(rule.find(example)), f"{rule.meta.id} misses {example!r}"  # type: ignore[attr-defined]
    for example in rule.examples_no_match:  # type: ignore[attr-defined]
        assert not list(rule.find(example)), f"{rule.meta.id} matches {example!r}"  # type: ignore[attr-defined]


def test_rule_ids_are_unique() -> None:
    ids = [rule.meta.id for rule in RULES]
    assert len(ids) == len(set(ids))


def test_user_rules_file_adds_a_rule(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "rules:\n"
        "  - id: acme-key\n"
        "    title: ACME key\n"
        "    severity: high\n"
        "    regex: '(?P<secret>acme_[0-9a-f]{16})'\n"
    )
    rules = {rule.meta.id: rule for rule in load_rules([extra])}
    hits = rules["acme-key"].find("key=acme_7f3a9c1e5b2d8f4a")
    assert [(hit.secret, hit.offset) for hit in hits] == [("acme_7f3a9c1e5b2d8f4a", 4)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{id: x1, title: t, severity: high, regex: 'abc'}]", "named group"),
        ("rules: [{id: x1, title: t, severity: dire, regex: '(?P<secret>a)'}]", "invalid"),
        ("rules: [{id: x1, title: t, severity: high, regex: '(?P<secret>'}]", "does not compile"),
        ("rules: [{title: t, severity: high, regex: '(?P<secret>a)'}]", "lacks 'id'"),
        ("nothing", "must be a mapping"),
    ],
)
def test_bad_rules_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_rules(text, "mine.yaml")


def test_a_token_whose_checksum_holds_is_reported_whatever_words_it_spells() -> None:
    """The noise filter drops "fake" and "tbd" values, but a GitHub token's random part
    spells them by chance (one in a thousand): its CRC32 checksum says it is real."""
    import random

    from fixtures.credentials import checksummed_token

    rng = random.Random(3)
    tokens = [checksummed_token("ghp_", rng) for _ in range(6000)]
    spelling = [t for t in tokens if any(w in t.lower() for w in ("fake", "tbd", "todo"))]
    assert spelling, "the seed no longer gives a token that spells a noise word"
    rule = next(rule for rule in RULES if rule.meta.id == "github-token")
    for token in spelling:
        assert [hit.secret for hit in rule.find(f"GITHUB_TOKEN={token}")] == [token]
