"""Issue 19, class 1: every rule and every detect-secrets plugin reads text built to be slow
in time linear in its size.

Not a timing race: a rule that backtracks quadratically took minutes on 64 KiB and hours on
10 MB of these shapes, while a linear one reads them at about 1 MB/s or better (the figures:
bench/adversarial.py, docs/benchmarks.md). The budget, SECONDS_PER_MB, is several times what
the slowest rule needs on the 2-core benchmark machine. Each timing runs in a child process
that is killed at its budget, so a regression fails in seconds instead of holding the run.

Shapes come from each rule's own examples (tests/support/adversarial.py): a rule added later,
or an example added to one, is covered without a line here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from layerscan.detect.rules import builtin_rules
from layerscan.detect.secrets_core import SecretsCore, core_rules
from tests.support.adversarial import (
    MB,
    SCREEN_SIZE,
    SECONDS_PER_MB,
    fill,
    plugin_samples,
    plugin_scanners,
    rule_scanners,
    screen,
    shapes,
    timed,
)

SCREEN_SECONDS = 120.0
"""For ranking all of one pattern's shapes at SCREEN_SIZE (about 6 MB of text in all)."""
RULES = builtin_rules()
PLUGINS = plugin_samples()


def _within_budget(
    name: str, scanners: dict[str, Callable[[str], object]], units: dict[str, str]
) -> None:
    """Rank every shape through every path, then time the slowest at 1 MB and 10 MB and the
    second slowest at 1 MB; each must finish within SECONDS_PER_MB per MB."""
    ranked: list[tuple[float, str, str]] = []
    for path, scan in scanners.items():
        screened = timed(screen, (scan, units, SCREEN_SIZE), SCREEN_SECONDS)
        assert screened.finished, (
            f"{name} [{path}]: ranking its shapes at {SCREEN_SIZE >> 10} KiB "
            f"{screened.error or f'took over {SCREEN_SECONDS:.0f} s'}"
        )
        ranked += [(seconds, path, shape) for seconds, shape in screened.value[:2]]
    ranked.sort(reverse=True)
    plan = [(ranked[0], 1), (ranked[0], 10), *[(item, 1) for item in ranked[1:2]]]
    for (_, path, shape), megabytes in plan:
        budget = SECONDS_PER_MB * megabytes
        result = timed(scanners[path], (fill(units[shape], megabytes * MB),), budget)
        assert result.finished, (
            f"{name} [{path}] on {megabytes} MB of {shape!r} "
            f"{result.error or f'took over {budget:.0f} s'}"
        )


@pytest.mark.parametrize("rule", RULES, ids=[rule.meta.id for rule in RULES])
def test_rule_reads_adversarial_text_in_linear_time(rule: object) -> None:
    units = shapes(rule.examples_match)  # type: ignore[attr-defined]
    _within_budget(rule.meta.id, rule_scanners(rule), units)  # type: ignore[arg-type, attr-defined]


def test_every_plugin_has_samples_that_it_reports() -> None:
    """The samples exercise the plugin they are named for (else its bound tests nothing);
    asked of the core itself, since the engine keeps one finding where plugins agree."""
    assert set(PLUGINS) == set(core_rules())
    core = SecretsCore()
    with core.session():
        for plugin, samples in PLUGINS.items():
            for sample in samples:
                found = {match.rule.id for match in core.scan(sample, "adversarial.txt")}
                assert core_rules()[plugin].id in found, f"{plugin} misses its sample: {found}"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugin_reads_adversarial_text_in_linear_time(plugin: str) -> None:
    _within_budget(plugin, plugin_scanners(), shapes(PLUGINS[plugin]))


def test_every_shape_kind_is_built() -> None:
    """The generator gives each kind of shape the module docstring names."""
    units = shapes(["RUN echo 'root:Vq8fZt2LmN4p' | chpasswd"])
    kinds = {name.split("-")[1].rstrip("0123456789") for name in units}
    assert {"repeated", "prefix", "run", "endless", "blank", "wide"} <= kinds
    assert units["example0-prefix4-glued"] == "RUN "
    assert "\n" * 4096 in units["example0-blank-lines"]
