"""One finding per secret per place (issue 13): where several rules or plugins match the same
secret at the same spot, the most telling rule keeps it and the others are listed with it."""

from __future__ import annotations

from layerscan.detect.engine import Engine
from layerscan.detect.rules import builtin_rules
from layerscan.detect.secrets_core import SecretsCore
from layerscan.model.findings import Finding, Source

ENGINE = Engine(builtin_rules(), SecretsCore())


def _scan(text: str, filename: str) -> list[tuple[str, str, tuple[str, ...]]]:
    with ENGINE.session():
        return [(m.rule.id, m.secret, m.also) for m in ENGINE.scan_text(text, filename)]


def test_our_rule_and_the_plugin_on_one_secret_make_one_match() -> None:
    found = _scan('db_password = "Vq8fZt2LmN4pQ7"\n', "settings.py")
    assert found == [("secret-assignment", "Vq8fZt2LmN4pQ7", ("detect-secrets.secret-assignment",))]


def test_a_provider_format_beats_the_generic_rule_and_names_it() -> None:
    token = "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"
    assert _scan(f"export GITHUB_TOKEN={token}\n", "deploy.sh") == [
        ("github-token", token, ("secret-assignment",))
    ]


def test_matches_that_overlap_without_being_equal_are_one_secret() -> None:
    """perl's `my $pwd = `cmd /c cd`;`: our rule reads "`cmd", the plugin "cmd /c cd"; both
    were reported before, on one line, for one value."""
    found = _scan("    my $pwd = `cmd /c cd`;\n", "Cwd.pm")
    assert [(rule, also) for rule, _, also in found] == [
        ("secret-assignment", ("detect-secrets.secret-assignment",))
    ]


def test_two_secrets_on_one_line_stay_two_findings() -> None:
    text = 'a = {"password": "Vq8fZt2LmN4pQ7", "token": "Zq8vKj3LmN0pQr5S"}\n'
    assert {secret for _, secret, _ in _scan(text, "a.py")} == {
        "Vq8fZt2LmN4pQ7",
        "Zq8vKj3LmN0pQr5S",
    }


def test_the_fingerprint_does_not_depend_on_the_rules_that_also_matched() -> None:
    rule = next(rule.meta for rule in builtin_rules() if rule.meta.id == "github-token")
    alone = Finding(rule, Source.FILE, "ghp_x", None, path="/a")
    listed = Finding(
        rule, Source.FILE, "ghp_x", None, path="/a", also_matched=["secret-assignment"]
    )
    assert alone.fingerprint == listed.fingerprint
