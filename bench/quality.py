"""Print detection quality: recall, decoys reported, attribution accuracy, and noise.

    python3 bench/quality.py                 # the planted fixture (built if missing)
    python3 bench/quality.py --realistic     # also the large realistic image (bench/realistic.py)

On fixtures/planted: every planted secret must be found (recall), none of the decoys may be
reported, and each found one must carry the right layer, status and removed_by (attribution).
On the realistic image (Debian, python3 and pip wheels, node_modules, openssh-server), every
high or critical finding that is not one of the planted secrets and not an SSH host key is
noise; the target is zero. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python3 bench/quality.py` puts bench/ first, not the root

from fixtures import build as fixture_build  # noqa: E402
from fixtures.credentials import generate  # noqa: E402
from fixtures.planted.truth import DECOY_PATHS, EXPECTED, decoy_secrets  # noqa: E402
from layerscan import ScanResult, scan  # noqa: E402
from layerscan.engine.document import build_document  # noqa: E402
from layerscan.model.findings import Kind  # noqa: E402
from layerscan.model.severity import Severity  # noqa: E402
from layerscan.report import Format, render  # noqa: E402


def planted_quality() -> None:
    creds = generate()
    tag = fixture_build.image_tag("planted")
    fixture_build.build("planted", creds)
    started = time.perf_counter()
    result = scan(f"docker:{tag}")
    seconds = time.perf_counter() - started
    found = 0
    attributed = 0
    for planted in EXPECTED:
        digest = hashlib.sha256(planted.secret(creds).encode()).hexdigest()
        candidates = [
            f
            for f in result.findings
            if f.rule.id == planted.rule
            and (f.path or f.key) == planted.where
            and f.secret_sha256 == digest
        ]
        if not candidates:
            print(f"  MISSED   {planted.rule} at {planted.where}")
            continue
        found += 1
        finding = candidates[0]
        right = (
            (finding.layer.index if finding.layer else None) == planted.layer
            and str(finding.status) == planted.status
            and (finding.removed_by.index if finding.removed_by else None) == planted.removed_by
            and finding.nested_path == planted.nested
        )
        attributed += right
        if not right:
            print(f"  MISATTRIBUTED {planted.rule} at {planted.where}")
    decoys = set(decoy_secrets(creds))
    decoys_reported = [f for f in result.findings if f.secret in decoys or f.path in DECOY_PATHS]
    extra = len(result.findings) - found
    print(f"planted fixture ({tag}, {len(result.image.layers)} layers, {seconds:.2f} s)")
    print(f"  recall                {found}/{len(EXPECTED)} = {found / len(EXPECTED):.0%}")
    print(f"  attribution accuracy  {attributed}/{found} (layer, status, removed_by, member)")
    print(f"  decoys reported       {len(decoys_reported)}")
    print(f"  findings not planted  {extra}")


EXPECTED_MISCONFIG = frozenset({"misconfig.ssh-server", "misconfig.root-user"})
"""The realistic image's real hygiene problems at medium or above: openssh-server installed
by its own RUN step, and no USER (its host keys are secret findings, `ssh-host-key`)."""


def _noise(result: ScanResult, planted_paths: set[str]) -> list[str]:
    noisy = []
    for finding in result.findings:
        if finding.kind is Kind.MISCONFIG:
            continue  # measured against EXPECTED_MISCONFIG instead
        if finding.severity is None or finding.severity.rank < Severity.HIGH.rank:
            continue
        if finding.path in planted_paths or finding.rule.id == "ssh-host-key":
            continue
        noisy.append(f"{finding.severity} {finding.rule.id} {finding.path or finding.key}")
    return noisy


def realistic_quality(scale: str) -> None:
    from bench.realistic import PLANTED, build

    tag = build(scale)
    started = time.perf_counter()
    result = scan(f"docker:{tag}")
    seconds = time.perf_counter() - started
    planted_paths = {p.path for p in PLANTED}
    found_paths = {f.path for f in result.findings if f.path in planted_paths}
    noise = _noise(result, planted_paths)
    by_severity = Counter(str(f.severity) for f in result.findings)
    print(f"realistic image ({tag}, {len(result.image.layers)} layers, {seconds:.1f} s)")
    print(f"  files scanned                  {result.files_scanned}")
    print(f"  planted files found            {len(found_paths)}/{len(planted_paths)}")
    host_keys = sum(f.rule.id == "ssh-host-key" for f in result.findings)
    print(f"  SSH host keys                  {host_keys}")
    print(f"  findings by severity           {dict(by_severity)}")
    print(f"  high/critical noise            {len(noise)} (target 0)")
    for line in noise[:20]:
        print(f"    {line}")
    hygiene = [f for f in result.findings if f.kind is Kind.MISCONFIG]
    serious = {f.rule.id for f in hygiene if f.severity and f.severity.rank >= Severity.MEDIUM.rank}
    print(f"  misconfig findings             {len(hygiene)}, at medium or above: {sorted(serious)}")
    print(
        f"  misconfig missed / unexpected  {sorted(EXPECTED_MISCONFIG - serious)} / "
        f"{sorted(serious - EXPECTED_MISCONFIG)} (target [] / [])"
    )
    table = render(build_document(result, fold_vendored=True), Format.TABLE)
    shown = sum(1 for path in planted_paths if path in table)
    print(
        f"  default table                  {len(table.splitlines())} lines (target 40), "
        f"planted files named {shown}/{len(planted_paths)}"
    )
    everything = render(build_document(result), Format.TABLE)
    print(f"  table with --all               {len(everything.splitlines())} lines")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--realistic", action="store_true", help="also measure the large image")
    parser.add_argument("--scale", default="full", choices=("quarter", "half", "full"))
    args = parser.parse_args()
    planted_quality()
    if args.realistic:
        realistic_quality(args.scale)


if __name__ == "__main__":
    main()
