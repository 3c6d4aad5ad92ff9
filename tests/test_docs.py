"""The rule list in docs/ is generated, never hand-kept; the README's commands name real
things and it stays a front door."""

from __future__ import annotations

from layerscan.engine.inspect import rule_catalogue
from layerscan.report.rules_doc import catalogue_markdown, section
from tests.support.paths import ROOT

README = ROOT / "README.md"
RULES_DOC = ROOT / "docs" / "rules.md"


def test_rule_catalogue_in_docs_is_current() -> None:
    assert section(RULES_DOC.read_text(encoding="utf-8")) == catalogue_markdown(rule_catalogue()), (
        "run: layerscan rules --into docs/rules.md"
    )


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].startswith("pip install . && layerscan scan fixtures/demo.tar")
    assert block[1].startswith("tests/prepare.sh && python3 -m pytest")


def test_readme_is_a_front_door_of_at_most_17_5_kb() -> None:
    """Detail lives in docs/; the README shows what each command is for (raised from 15 kB
    when the investigator's commands, history --dockerfile, diff and hunt, and the image
    hygiene checks arrived)."""
    assert len(README.read_bytes()) <= 17_500


def test_every_relative_link_in_the_docs_resolves() -> None:
    import re

    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
