"""Spooling a stream (a compressed tarball, stdin) stops before the disk is full: a real small
filesystem (tmpfs, mounted as root) stands in for a full /tmp."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import builders as b
from tests.support.paths import ROOT


@pytest.fixture
def small_tmp(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs: less than the spool's reserve, so any spool there is refused."""
    folder = tmp_path / "small-tmp"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_spool_that_would_fill_the_disk_is_refused_in_one_line(
    small_tmp: Path, tmp_path: Path
) -> None:
    layer = b.plain_layer([b.regular("app/.env", b.secret_file("spool-space"))])
    image = tmp_path / "image.tar.gz"
    image.write_bytes(gzip.compress(b.tar_bytes(b.docker_save([layer]))))
    done = subprocess.run(
        [sys.executable, "-m", "layerscan", "scan", "--no-cache", str(image)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(small_tmp)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "free" in lines[0] and "TMPDIR" in lines[0], lines
    assert list(small_tmp.iterdir()) == []  # the spool directory is gone too
