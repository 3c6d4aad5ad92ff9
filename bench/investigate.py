"""Issue 16's benchmark: what the investigator's commands cost beside one scan.

    python3 bench/investigate.py [--image PATH] [--runs N]

On the realistic image (bench/realistic.py --save) and a second tag of it that adds one layer
(tests/support/derived.py, as a release on an unchanged base would), times with medians of N:
`scan --no-cache` of the new tag (the yardstick); `history --dockerfile` with no cache and
with a warm one; `diff OLD NEW` with an empty cache, with OLD alone cached (what a CI job
that scanned the last release has) and fully warm; `hunt` of a known secret across both
tags. Printed, never asserted. Goal (issue 16): a diff of two tags sharing their base costs
about one scan of the new layers.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.arguments import realistic_image_arguments  # noqa: E402
from tests.support.derived import with_one_more_layer  # noqa: E402


def _run(*args: str, codes: tuple[int, ...] = (0, 1), stdin: bytes | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "layerscan", *args], capture_output=True, input=stdin
    )
    seconds = time.perf_counter() - started
    if done.returncode not in codes:
        raise SystemExit(f"layerscan {args[0]} exited {done.returncode}: {done.stderr[-400:]!r}")
    return seconds


def _median(runs: int, prepare: Callable[[], None], measure: Callable[[], float]) -> float:
    seconds = []
    for _ in range(runs):
        prepare()
        seconds.append(measure())
    return statistics.median(seconds)


def main() -> None:
    args = realistic_image_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="layerscan-bench-") as scratch:
        work = Path(scratch)
        old = f"docker-archive:{args.image}"
        new_path = with_one_more_layer(
            args.image, work / "new.tar", {"srv/release.txt": b"release 2\n"}
        )
        new = f"docker-archive:{new_path}"
        cache = work / "cache"

        def empty() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        def old_cached() -> None:
            empty()
            _run("scan", "-q", old, "--cache-dir", str(cache))

        def nothing() -> None:
            return None

        with_cache = ("--cache-dir", str(cache))

        def dockerfile_cached() -> None:
            _run("history", "--dockerfile", new, *with_cache)

        def both_cached() -> None:
            _run("diff", "-q", old, new, *with_cache)

        rows = [
            ("scan --no-cache NEW", nothing, lambda: _run("scan", "-q", "--no-cache", new)),
            (
                "history --dockerfile, no cache",
                nothing,
                lambda: _run("history", "--dockerfile", "--no-cache", new),
            ),
            (
                "history --dockerfile, warm cache",
                dockerfile_cached,
                lambda: _run("history", "--dockerfile", new, *with_cache),
            ),
            ("diff, empty cache", empty, lambda: _run("diff", "-q", old, new, *with_cache)),
            ("diff, OLD cached", old_cached, lambda: _run("diff", "-q", old, new, *with_cache)),
            (
                "diff, warm cache",
                both_cached,
                lambda: _run("diff", "-q", old, new, *with_cache),
            ),
        ]
        secret = work / "secret.txt"
        secret.write_text("layerscan-bench-not-a-real-secret-0123456789\n")
        rows.append(
            (
                "hunt --secret-file, OLD and NEW",
                nothing,
                lambda: _run("hunt", "-q", old, new, "--secret-file", str(secret), codes=(0, 1)),
            )
        )
        size = args.image.stat().st_size
        print(f"image {args.image} ({size / 1e6:.0f} MB) and a second tag with one more layer")
        print(f"medians of {args.runs} runs, {sys.platform}, Python {sys.version.split()[0]}")
        for name, prepare, measure in rows:
            print(f"  {name:36} {_median(args.runs, prepare, measure):7.2f} s")


if __name__ == "__main__":
    main()
