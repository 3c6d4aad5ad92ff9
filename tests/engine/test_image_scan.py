"""How a whole image's findings are assembled: the order reports list them in."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from tests.hostile import builders as b
from tests.support.paths import ROOT


def _entropy_strings(count: int) -> list[str]:
    """Fabricated high-entropy runs (random bytes, base64): what the entropy plugin reports."""
    generator = random.Random(12)
    return [base64.b64encode(generator.randbytes(33)).decode() for _ in range(count)]


def _scan_json(target: Path, hash_seed: str) -> list[dict[str, object]]:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-m", "layerscan", "scan", str(target), "--no-cache", "-f", "json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr.decode(errors="replace")
    findings: list[dict[str, object]] = json.loads(done.stdout)["findings"]
    return findings


def test_findings_come_out_in_one_order_whatever_the_hash_seed(tmp_path: Path) -> None:
    """Several secrets of one rule on one line: the report lists them in the same order in
    every run (a set's order once decided it, which changes with the hash seed)."""
    line = "values = [" + ", ".join(f'"{s}"' for s in _entropy_strings(6)) + "]\n"
    layer = b.plain_layer([b.regular("srv/app/settings.py", line.encode())])
    target = tmp_path / "image.tar"
    b.write_tar(target, b.docker_save([layer]))
    runs = [_scan_json(target, seed) for seed in ("1", "2", "3", "4")]
    shown = [[finding["secret_sha256"] for finding in run] for run in runs]
    assert len(shown[0]) >= 2
    assert all(order == shown[0] for order in shown), shown


def test_one_secret_under_one_config_key_is_one_finding_under_the_most_telling_rule() -> None:
    from layerscan.detect.engine import Match
    from layerscan.detect.history import ENV_RULE, MetadataHit
    from layerscan.detect.rules import builtin_rules
    from layerscan.engine.image_scan import _metadata_findings
    from layerscan.image.model import Image

    github = next(rule.meta for rule in builtin_rules() if rule.meta.id == "github-token")
    token = "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"
    image = Image(None, None, None, None, "test", "test", (), (), {})
    hits = [
        MetadataHit(Match(ENV_RULE, token, 1), "config", "Env.GITHUB_TOKEN"),
        MetadataHit(
            Match(github, token, 1, also=("secret-assignment",)), "config", "Env.GITHUB_TOKEN"
        ),
    ]
    (finding,) = _metadata_findings(image, hits)
    assert finding.rule.id == "github-token"
    assert finding.also_matched == ["env-secret", "secret-assignment"]
