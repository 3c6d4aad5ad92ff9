"""The Hyperscan prefilter changes what runs, never what is found: scans with and without it
agree, and the patterns that stand in for detect-secrets' keyword plugin flag every line the
plugin reports on."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from fixtures import build as fixture_build
from layerscan.detect.engine import Engine
from layerscan.detect.prefilter import available, candidate_windows
from layerscan.detect.rules import load_rules, parse_rules
from layerscan.detect.secrets_core import SecretsCore
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import scan_image
from layerscan.image.open import open_image
from tests.support.paths import BUNDLED_DEMO

pytestmark = pytest.mark.skipif(not available(), reason="the hyperscan package is not installed")


def _findings(target: str, prefilter: bool) -> set[tuple[object, ...]]:
    engine = Engine(load_rules(), SecretsCore(), prefilter=prefilter)
    assert (engine.prefilter is not None) is prefilter
    with open_image(target) as image, engine.session():
        result = scan_image(image, engine, ScanOptions())
    return {
        (f.rule.id, f.path, f.nested_path, f.key, f.line, f.secret_sha256, str(f.status))
        for f in result.findings
    }


def test_demo_findings_are_the_same_with_and_without_the_prefilter() -> None:
    assert _findings(str(BUNDLED_DEMO), True) == _findings(str(BUNDLED_DEMO), False)


def test_planted_findings_are_the_same_with_and_without_the_prefilter(
    built_images: dict[str, str], tmp_path: Path
) -> None:
    saved = fixture_build.save(built_images["planted"], tmp_path / "planted.tar")
    with_prefilter = _findings(str(saved), True)
    assert with_prefilter == _findings(str(saved), False)
    assert len(with_prefilter) >= 40


KEYWORDS = [
    "password", "db_pass", "api_key", "secret", "PrivateKey", "client_key", "pwd", "contraseña"
]  # fmt: skip
SHAPES = [
    '{k} = "Vq8fZt2LmN4pXw"',
    "{k}: Vq8fZt2LmN4pXw",
    "{k} := 'Vq8fZt2LmN4pXw'",
    'my_{k}_value == "Vq8fZt2LmN4pXw"',
    '"Vq8fZt2LmN4pXw" != my_{k}',
    '{k}["x"] = "Vq8fZt2LmN4pXw";',
    'char {k}[25] = @"Vq8fZt2LmN4pXw";',
    '{k}.assign("Vq8fZt2LmN4pXw")',
    '{k} "Vq8fZt2LmN4pXw";',
    "{k} => 'Vq8fZt2LmN4pXw'",
    '  "{k}" :   "Vq8fZt2LmN4pXw",',
    "export {k}=Vq8fZt2LmN4pXw",
    # Odd spacing, operators and values: the prefilter assumes only that a value starts with
    # a word character (the plugin's own SECRET says so) and the operator-less form ends in ';'.
    '{k}=  "Vq8fZt2L mN4pXw";',
    "{k}=='Vq8f'",
    '{k}!=="Vq8fZt2LmN4pXw"',
    "{k} ==='9Vq8fZt2LmN4pXw'",
    "{k}\t=\tVq8f-Zt2L/mN4+pXw==",
    "$config['{k}'] = \"Vq8fZt2LmN4pXw\";",
    '{k}[]="Vq8fZt2LmN4pXw"',
    '{k} = @"Vq8fZt2LmN4pXw"',
    "{k}_secure := Vq8fZt2LmN4pXw",
    "{k} 'Vq8fZt2LmN4pXw';",
    "my{k}Field `Vq8fZt2LmN4pXw`;",
    "{k}:'_Vq8fZt2LmN4pXw'",
    '{k} = "Vq8fZt2LmN4pXw!"',
    "{k}=Vq8fZt2LmN4pXw,",
]
FILENAMES = ["app.py", "main.go", "config.yaml", "settings.ini", "Main.java", "a.c", "a.cpp", "x"]


def test_the_keyword_plugin_reports_nothing_the_prefilter_misses() -> None:
    """Every line the plugin reports on when it sees all lines is flagged by the prefilter."""
    core = SecretsCore()
    engine = Engine([], core)
    assert engine.prefilter is not None and not engine.prefilter.unfiltered_plugins
    checked = 0
    with engine.session():
        for keyword, shape, filename in itertools.product(KEYWORDS, SHAPES, FILENAMES):
            line = shape.format(k=keyword)
            everything = {(m.secret, m.rule.id) for m in core.scan(line, filename, None)}
            hits = engine.prefilter.scan(line.encode("ascii", "replace"))
            flagged = core.flagged_lines(line, hits.plugin_spans, engine.prefilter)
            assert flagged is not None
            prefiltered = {(m.secret, m.rule.id) for m in core.scan(line, filename, flagged)}
            keyword_found = {f for f in everything if f[1].endswith("secret-assignment")}
            assert keyword_found <= prefiltered, (line, filename)
            checked += bool(keyword_found)
    assert checked > 100  # the shapes really exercise the plugin


def _seen(engine: Engine, text: str, utf8: bytes | None) -> list[tuple[str, int | None, int]]:
    with engine.session():
        found = engine.scan_text(text, "settings.py", "/app/settings.py", utf8=utf8)
    return sorted((m.rule.id, m.line, hash(m.secret)) for m in found)


@pytest.mark.parametrize("size", ["small", "remembered"])
@pytest.mark.parametrize("extra", ["", "caf\u00e9 \u20ac \U0001f511"])
def test_a_text_given_with_its_utf8_bytes_gives_the_same_matches(size: str, extra: str) -> None:
    """The bytes a file was decoded from stand in for the text's encoding (the memo key, and
    the prefilter's view of an ASCII text): same matches as the text alone."""
    from tests.support.samples import token

    lines = [
        f"# {extra} settings",
        f"GITHUB = '{token('Bytes')}'",
        'db_password = "Vq8fZt2LmN4pXw"',
        "blob = 'q8Zt2LmN4pXwVf7kR3sT9yB1cD5eG0hJ'",
    ]
    if size == "remembered":  # past the size from which texts are remembered by content
        lines = [f"value_{n} = {n}" for n in range(600)] + lines
    text = "\n".join(lines) + "\n"
    plain = Engine(load_rules(), SecretsCore())
    given = Engine(load_rules(), SecretsCore())
    assert plain.prefilter is not None and given.prefilter is not None
    expected = _seen(plain, text, None)
    assert len(expected) >= 3
    assert _seen(given, text, text.encode("utf-8")) == expected
    assert _seen(given, text, None) == expected  # a memo hit for the remembered one


def test_bytes_that_cannot_be_the_texts_utf8_are_refused() -> None:
    engine = Engine([], None)
    with pytest.raises(ValueError, match="encoding"):
        engine.scan_text("abc", "a.txt", utf8=b"abcd")
    with pytest.raises(ValueError, match="encoding"):
        engine.scan_text("caf\u00e9", "a.txt", utf8=b"cafe")


def test_each_quoted_run_is_flagged_on_its_own_line_when_rich_enough() -> None:
    """Entropy plugins see the lines of quoted runs that could pass their limit, every copy
    of a run on its own line (runs are judged once per distinct text), and none of the runs
    too plain to (data files repeat such names thousands of times)."""
    core = SecretsCore()
    engine = Engine([], core)
    assert engine.prefilter is not None
    rich = "q8Zt2LmN4pXwVf7kR3sT9yB1cD5eG0hJ"  # 32 distinct characters
    plain = "DescribeInstancesRequestShape"  # 16 distinct: cannot carry 4.5 bits each
    lines = [f'"{plain}": 1', f'x = "{rich}"', f'"{plain}": 2', f'y = "{rich}"', f"'{plain}'"]
    text = "\n".join(lines) + "\n"
    with engine.session():
        hits = engine.prefilter.scan(text.encode("ascii"))
        assert len(hits.plugin_spans["Base64 High Entropy String"]) == 5
        flagged = core.flagged_lines(text, hits.plugin_spans, engine.prefilter)
    assert flagged is not None
    assert [(number, line) for number, line, _, plugins in flagged] == [
        (2, lines[1]),
        (4, lines[3]),
    ]
    assert all("Base64 High Entropy String" in plugins for *_, plugins in flagged)


def test_quoted_runs_are_reported_from_their_opening_quote() -> None:
    """The entropy plugins' quoted runs are found without Hyperscan's start-of-match
    tracking: each span must still be the leftmost match that ends where it ends."""
    core = SecretsCore()
    engine = Engine([], core)
    assert engine.prefilter is not None
    run = "q8Zt2LmN4pXwVf7kR3sT9yB1cD5eG0hJ"
    text = (
        f"a = \"{run}\" + '{run}'\n"
        f'"{run}"{run}"\n'  # two runs sharing the quote between them
        f'\'x\' "{run}\'{run}" "deadbeefdeadbeefdeadbeef"\n'
        f"caf\u00e9 = '{run}' \"{run}\"\n"  # offsets are characters, not bytes
    )
    patterns = core.prefilter_patterns()
    view = text.encode("ascii", "replace")
    hits = engine.prefilter.scan(view)
    checked = 0
    for plugin in ("Base64 High Entropy String", "Hex High Entropy String"):
        spans = hits.plugin_spans[plugin]
        assert spans and all(start is not None for start, _ in spans)
        for start, end in spans:
            assert start is not None
            fits = [p.pattern for p in patterns[plugin] if p.pattern.fullmatch(text, start, end)]
            assert fits, (plugin, start, end)
            assert not any(
                pattern.fullmatch(text, earlier, end)
                for pattern in fits
                for earlier in range(start)
            )
            checked += 1
    assert checked == 8  # 7 base64 runs (two share a quote), 1 hex run


def test_an_opener_must_open_an_exact_pattern() -> None:
    from layerscan.detect.prefilter import PluginPattern

    PluginPattern(re.compile('"[a-z]{4,}"'), exact=True, opener='"')
    with pytest.raises(ValueError, match="opener"):
        PluginPattern(re.compile('"[a-z]{4,}"'), opener='"')
    with pytest.raises(ValueError, match="opener"):
        PluginPattern(re.compile('x"[a-z]{4,}"'), exact=True, opener='"')


def test_windows_cover_each_possible_end_and_merge() -> None:
    assert candidate_windows([500, 100], 50, 10_000) == [(50, 356), (450, 756)]
    assert candidate_windows([100, 200], 50, 250) == [(50, 250)]
    assert candidate_windows([5], 1000, 100) == [(0, 100)]


def test_a_rule_hyperscan_cannot_take_still_runs() -> None:
    [verbose_rule] = parse_rules(
        "rules:\n"
        "  - id: verbose-token\n"
        "    title: A token written in verbose regex syntax\n"
        "    severity: high\n"
        "    regex: '(?x) tok_ (?P<secret> [A-Za-z0-9]{20} )'\n",
        "test",
    )
    engine = Engine([verbose_rule], None)
    assert engine.prefilter is not None and engine.prefilter.unfiltered_rules == {0}
    with engine.session():
        found = engine.scan_text("x = tok_Q7xK2mP9vL4tR8wN3zB6\n", "a.env")
    assert [m.secret for m in found] == ["Q7xK2mP9vL4tR8wN3zB6"]


def test_binaries_are_read_for_strings_only_when_a_provider_format_may_be_there(
    tmp_path: Path,
) -> None:
    """The strings of a .pyc, an ELF or a class file run only provider-format rules; a
    binary in which none of them can match is not taken apart. The findings are the same as
    without the check (an engine with no prefilter takes every binary apart)."""
    import shutil

    from layerscan.content import ContentLimits
    from layerscan.engine.file_scan import scan_file
    from tests.support.samples import class_with, elf_with, pyc_with, token

    builders = {"settings.pyc": pyc_with}
    if shutil.which("gcc"):
        builders["prog"] = elf_with
    if shutil.which("javac"):
        builders["Secret.class"] = class_with
    gated = Engine(load_rules(), SecretsCore(), prefilter=True)
    assert gated.prefilter is not None
    ungated = Engine(load_rules(), SecretsCore(), prefilter=False)
    for name, build in builders.items():
        for secret in (token("Gate"), "no provider format in here"):
            folder = tmp_path / f"{name}-{len(secret)}"
            folder.mkdir()
            data = build(secret, folder)
            assert gated.may_find_in_strings(data) is secret.startswith("ghp_"), name
            with gated.session():
                found = scan_file(f"/app/{name}", data, gated, ContentLimits())
            with ungated.session():
                expected = scan_file(f"/app/{name}", data, ungated, ContentLimits())
            assert found == expected, name
            matches, _ = found
            assert any(m.secret == secret for m, _ in matches) is secret.startswith("ghp_")


@pytest.mark.parametrize(
    ("regex", "single_line"),
    [
        (r"(?P<secret>ghp_[A-Za-z0-9]{36})", True),
        (r"(?i)key[ \t]*=[ \t]*(?P<secret>[^\s\"']{4,})", True),
        (r"(?P<secret>[^x]{4})", False),  # a negated set takes a line break
        (r"key\s*=\s*(?P<secret>\w+)", False),  # \s does
        (r"(?s)BEGIN(?P<secret>.+)END", False),  # so does '.' under DOTALL
        (r"BEGIN(?P<secret>.+)END", True),  # not without it
        (r"(?P<secret>a\nb)", False),
        (r"(?P<q>['\"])(?P<secret>\w+)(?P=q)", False),  # a back reference: not understood
        (r"(?=[\s\S])(?P<secret>[a-z]{8})(?![\s\S])", True),  # lookarounds consume nothing
    ],
)
def test_a_rule_is_single_line_only_when_no_match_can_hold_a_line_break(
    regex: str, single_line: bool
) -> None:
    [rule] = parse_rules(
        "rules:\n  - id: shape\n    title: t\n    severity: low\n    regex: " + json.dumps(regex),
        "test",
    )
    assert rule.single_line is single_line


def test_windows_of_single_line_rules_start_on_the_line_of_their_end() -> None:
    text = "a" * 100 + "\n" + "b" * 50 + "\n" + "c" * 30
    end = len(text) - 10
    assert candidate_windows([end], 1000, len(text)) == [(0, len(text))]
    assert candidate_windows([end], 1000, len(text), text) == [(152, len(text))]
    assert text[151] == "\n"
