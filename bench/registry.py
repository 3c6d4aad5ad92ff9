"""Issue 15's benchmark: scanning an image from a local registry against scanning its tarball.

    python3 bench/registry.py [--image PATH] [--runs N]

Starts Debian's docker-registry on 127.0.0.1 (tests/support/registry.py; plain HTTP, no auth,
so the figure is the client's own cost), pushes the image with skopeo (which gzips the layers,
as registries hold them), then times `layerscan scan --no-cache -q` of `registry:…` and of the
`docker save` tarball, interleaved, medians of N runs; then a rescan with the layer cache, and
how many blob bytes each downloaded. Printed, never asserted. Goal (issue 15): at most 1.3x.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.registry import running_registry  # noqa: E402

DEFAULT_IMAGE = Path("/tmp/bench/full.tar")


def _scan(target: str, *extra: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "layerscan", "scan", "-q", target, *extra],
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"scan of {target} exited {done.returncode}: {done.stderr[-400:]}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="layerscan-bench-registry-") as scratch,
        running_registry(Path(scratch) / "registry", tls=False, auth=False) as registry,
    ):
        started = time.perf_counter()
        registry.push(f"docker-archive:{args.image}", "bench:1")
        print(f"pushed {args.image} in {time.perf_counter() - started:.0f} s")
        target = f"registry:{registry.host}/bench:1"
        insecure = ("--insecure-registry", registry.host)
        remote, local = [], []
        for run in range(args.runs):
            order = ("remote", "local") if run % 2 == 0 else ("local", "remote")
            for which in order:
                if which == "remote":
                    remote.append(_scan(target, "--no-cache", *insecure))
                else:
                    local.append(_scan(str(args.image), "--no-cache"))
        cache = Path(scratch) / "cache"
        _scan(target, "--cache-dir", str(cache), *insecure)
        before = len(registry.blob_requests())
        rescan = _scan(target, "--cache-dir", str(cache), *insecure)
        fetched = len(registry.blob_requests()) - before
    took, floor = statistics.median(remote), statistics.median(local)
    print(
        f"scan of the tarball        {floor:6.2f} s  (runs {', '.join(f'{x:.1f}' for x in local)})"
    )
    print(
        f"scan from the registry     {took:6.2f} s  (runs {', '.join(f'{x:.1f}' for x in remote)})"
    )
    print(f"ratio                      {took / floor:.2f}x (goal <= 1.3x)")
    print(f"cached rescan              {rescan:6.2f} s, {fetched} blobs downloaded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
