"""Issue 14's benchmark: `extract` against `tar -x`, `export` against `docker save -o`.

    python3 bench/evidence.py [--image PATH] [--runs N] [--scratch DIR]

`--image` is a `docker save` tarball (default: the full realistic image, built and saved by
realistic.py if /tmp/bench/full.tar is not there). Figures are medians of N runs, printed,
never asserted:

- extract: `layerscan extract IMAGE -o DIR` (layers/, rootfs/, removed/ and the manifest)
  against the floor an investigator would otherwise use: every layer piped out of the image
  with `tar -xOf` into its own `tar -x -C DIR/NN` (the same kind of directories, without a
  final filesystem or any record). Peak memory is the extract process's max RSS.
- export: `layerscan export docker:REF -o FILE` against `docker save -o FILE REF` for the
  same image in the engine (loaded there first if absent); caches are warm for both.

Goals (issue 14): extract at most 1.5x tar -x and under 200 MB; export at most 1.2x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_IMAGE = Path("/tmp/bench/full.tar")


def _timed(argv: list[str], **kwargs: object) -> tuple[float, int]:
    """Wall seconds and the child's max RSS in MiB (os.wait4: that child alone)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0,):
        raise SystemExit(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss // 1024


def _layers(image: Path) -> list[str]:
    with tarfile.open(image) as archive:
        [entry] = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
    return list(entry["Layers"])


def _tar_floor(image: Path, target: Path) -> float:
    started = time.perf_counter()
    for index, member in enumerate(_layers(image)):
        folder = target / f"{index:02d}"
        folder.mkdir(parents=True)
        subprocess.run(
            f"tar -xOf {image} {member} | tar -x -C {folder} -f -",
            shell=True,
            check=True,
        )
    os.sync()
    return time.perf_counter() - started


def _spread(values: list[float]) -> str:
    return ", ".join(f"{value:.1f}" for value in values)


def _fresh(path: Path) -> Path:
    if path.exists():
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)
    return path


def _sync() -> None:
    """Flush dirty pages between runs, so one run's writeback does not slow the next (and
    each extraction is timed until its bytes are on disk: the kernel's writeback, which
    dominates here, is then counted for both sides alike)."""
    os.sync()


def bench_extract(image: Path, scratch: Path, runs: int) -> None:
    ours, floors, memory = [], [], []
    command = [sys.executable, "-m", "layerscan", "extract", "-q", str(image), "-o"]
    for run in range(runs):
        for which in ("tar", "ours") if run % 2 == 0 else ("ours", "tar"):  # interleaved
            _sync()
            if which == "tar":
                floors.append(_tar_floor(image, _fresh(scratch / "tar")))
            else:
                started = time.perf_counter()
                _, rss = _timed([*command, str(_fresh(scratch / "extract"))])
                os.sync()
                ours.append(time.perf_counter() - started)
                memory.append(rss)
    manifest = json.loads((scratch / "extract" / "manifest.json").read_text())
    counts = manifest["counts"]
    floor, took = statistics.median(floors), statistics.median(ours)
    size = image.stat().st_size / 1e6
    print(f"extract of {image} ({size:,.0f} MB, {len(manifest['layers'])} layers)")
    print(
        f"  tar -x of every layer     {floor:6.2f} s   (runs {_spread(floors)}; each until synced)"
    )
    print(f"  layerscan extract         {took:6.2f} s   (runs {_spread(ours)})")
    print(f"  ratio of the medians      {took / floor:.2f}x (goal <= 1.5x)")
    print(f"  peak memory (max RSS)     {max(memory):6d} MiB (goal < 200 MiB)")
    print(
        f"  wrote layers/ {counts['layers']['files']:,} files, rootfs/ "
        f"{counts['rootfs']['files']:,}, removed/ {counts['removed']['files']:,}; "
        f"{len(manifest['records']):,} records; complete={manifest['complete']}"
    )
    _fresh(scratch / "tar")
    _fresh(scratch / "extract")


def _engine_reference(image: Path) -> str:
    with tarfile.open(image) as archive:
        [entry] = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
    tag = (entry.get("RepoTags") or [None])[0]
    config_id = "sha256:" + Path(entry["Config"]).name.removesuffix(".json").split("/")[-1]
    known = subprocess.run(["docker", "image", "inspect", config_id], capture_output=True)
    if known.returncode != 0:
        print(f"loading {image} into the engine (once)...", flush=True)
        subprocess.run(["docker", "load", "-q", "-i", str(image)], check=True)
    return tag or config_id


def bench_export(image: Path, scratch: Path, runs: int) -> None:
    reference = _engine_reference(image)
    ours, saves = [], []
    for _ in range(runs):
        for path in (
            scratch / "saved.tar",
            scratch / "exported.tar",
            scratch / "exported.tar.json",
        ):
            path.unlink(missing_ok=True)
        _sync()
        started = time.perf_counter()
        _timed(["docker", "save", "-o", str(scratch / "saved.tar"), reference])
        os.sync()  # export fsyncs its tarball before the rename: both timed until on disk
        saves.append(time.perf_counter() - started)
        _sync()
        started = time.perf_counter()
        _timed(
            [
                sys.executable,
                "-m",
                "layerscan",
                "export",
                "-q",
                f"docker:{reference}",
                "-o",
                str(scratch / "exported.tar"),
            ]
        )
        os.sync()
        ours.append(time.perf_counter() - started)
    same = (scratch / "saved.tar").read_bytes() == (scratch / "exported.tar").read_bytes()
    save, took = statistics.median(saves), statistics.median(ours)
    size = (scratch / "exported.tar").stat().st_size
    print(f"export of docker:{reference} ({size / 1e6:,.0f} MB)")
    print(f"  docker save -o            {save:6.2f} s   (runs {_spread(saves)}; each until synced)")
    print(f"  layerscan export          {took:6.2f} s   (runs {_spread(ours)})")
    print(f"  ratio of the medians      {took / save:.2f}x (goal <= 1.2x)")
    print(f"  byte-identical to docker save: {same}")
    for path in (scratch / "saved.tar", scratch / "exported.tar", scratch / "exported.tar.json"):
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/layerscan-bench-evidence"))
    parser.add_argument("--skip-export", action="store_true", help="no engine: extract only")
    args = parser.parse_args(argv)
    if not args.image.exists():
        import realistic

        args.image.parent.mkdir(parents=True, exist_ok=True)
        realistic.save(realistic.build("full"), args.image)
    args.scratch.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; medians of {args.runs} runs\n")
    bench_extract(args.image, args.scratch, args.runs)
    if not args.skip_export and shutil.which("docker"):
        print()
        bench_export(args.image, args.scratch, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
