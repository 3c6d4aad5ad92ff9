"""History lines shaped against detect/history.py: every secret reported once, in bounded time."""

from __future__ import annotations

import random

from fixtures.credentials import checksummed_token
from layerscan.detect.engine import Engine
from layerscan.detect.history import MetadataHit, scan_history
from layerscan.detect.rules import builtin_rules
from layerscan.image.model import HistoryEntry, Image
from tests.support.adversarial import SECONDS_PER_MB, timed

PAIRS = 20_000


def _image(created_by: str) -> Image:
    return Image(None, None, None, None, "test", "test", (), (HistoryEntry(0, created_by),), {})


def _scan(image: Image) -> list[tuple[str, str]]:
    engine = Engine(builtin_rules(), None)
    with engine.session():
        hits: list[MetadataHit] = scan_history(image, engine)
    return [(hit.key, hit.match.secret) for hit in hits]


def test_an_env_line_of_many_secrets_reports_each_once_in_bounded_time() -> None:
    """Issue 19, class 1: 20,000 KEY=token pairs on one ENV line. Each pair's finding was
    compared with every match of the whole line (400 million substring tests)."""
    rng = random.Random(7)
    tokens = [checksummed_token("ghp_", rng) for _ in range(PAIRS)]
    line = "/bin/sh -c #(nop)  ENV " + " ".join(f"T{n}={t}" for n, t in enumerate(tokens))
    result = timed(_scan, (_image(line),), SECONDS_PER_MB * 10)
    assert result.finished, result.error or "scan_history took over 30 s"
    by_secret: dict[str, set[str]] = {}
    for key, secret in result.value:
        by_secret.setdefault(secret, set()).add(key)
    assert set(by_secret) == set(tokens)
    assert all(keys == {f"ENV T{n}"} for n, keys in enumerate(by_secret[t] for t in tokens))
