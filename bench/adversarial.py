"""Print how fast each rule and each detect-secrets plugin reads text built to be slow.

    python3 bench/adversarial.py            # every rule and plugin, worst shapes at 1 and 10 MB
    python3 bench/adversarial.py jwt ...    # only these rule ids (or plugin names)

For each pattern, every shape of tests/support/adversarial.py is screened at 64 KiB through
every path a scan can take (a rule: the engine with its Hyperscan prefilter, and its regular
expression on the whole text, which is what runs where the prefilter cannot; a plugin: the
engine with the prefilter and without it), then the three slowest shapes are timed at 1 MB
and the slowest at 10 MB. Each timing runs in a child process
killed after --timeout seconds, so a pattern that is not linear shows as a timeout instead of
holding the run. Figures are printed, never asserted (tests/detect/test_time_bound.py asserts
the bound).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layerscan.detect.rules import builtin_rules  # noqa: E402
from tests.support.adversarial import (  # noqa: E402
    MB,
    SCREEN_SIZE,
    fill,
    plugin_samples,
    plugin_scanners,
    rule_scanners,
    screen,
    shapes,
    timed,
)


def measure(
    name: str, scanners: dict[str, Callable[[str], object]], units: dict[str, str], timeout: float
) -> None:
    worst: list[tuple[float, str, str]] = []
    for path, scan in scanners.items():
        screened = timed(screen, (scan, units, SCREEN_SIZE), timeout)
        if not screened.finished:
            print(f"{name:34s} {path:6s} screening: {screened.error or 'timed out'}")
            continue
        worst += [(seconds, path, shape) for seconds, shape in screened.value[:3]]
    worst.sort(reverse=True)
    figures = []
    for rank, (_, path, shape) in enumerate(worst[:3]):
        for size in (1, 10) if rank == 0 else (1,):
            result = timed(scanners[path], (fill(units[shape], size * MB),), timeout)
            took = f"{size * MB / MB / result.seconds:7.1f} MB/s" if result.finished else "timeout"
            figures.append(f"{shape} [{path}] {size} MB: {result.error or took}")
    print(f"{name:34s} " + "; ".join(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*")
    parser.add_argument("--timeout", type=float, default=60.0)
    arguments = parser.parse_args()
    for rule in builtin_rules():
        if not arguments.only or rule.meta.id in arguments.only:
            units = shapes(rule.examples_match)
            measure(rule.meta.id, rule_scanners(rule), units, arguments.timeout)
    for plugin, samples in plugin_samples().items():
        if not arguments.only or plugin in arguments.only:
            measure(plugin, plugin_scanners(), shapes(samples), arguments.timeout)


if __name__ == "__main__":
    main()
