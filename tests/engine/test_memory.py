"""The allocator settings the CLI makes on glibc: thresholds pinned, free pages returned."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc only")
def test_thresholds_are_pinned_and_free_pages_returned_in_a_fresh_process() -> None:
    code = (
        "from layerscan.engine.memory import return_large_buffers, give_back_free_pages\n"
        "assert return_large_buffers() is True\n"
        "blocks = [bytearray(3 << 20) for _ in range(20)]\n"  # under the threshold: heap
        "del blocks\n"
        "give_back_free_pages()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
