"""The README's rule list is generated, never hand-kept; its commands name real things."""

from __future__ import annotations

from pathlib import Path

from layerscan.report.rules_doc import catalogue_markdown, section

README = Path(__file__).resolve().parent.parent / "README.md"


def test_rule_catalogue_in_readme_is_current() -> None:
    assert section(README.read_text(encoding="utf-8")) == catalogue_markdown(), (
        "run: python3 -m layerscan.report.rules_doc README.md"
    )


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].startswith("pip install . && layerscan scan fixtures/demo.tar")
    assert block[1].startswith("tests/prepare.sh && python3 -m pytest")
