"""Keep the heap from holding on to freed file contents.

A scan allocates and frees one large buffer per file (its bytes, its text, the copies sent to
a worker). glibc's malloc gives a buffer above its mmap threshold a mapping of its own and
returns it to the system when freed, but it raises that threshold to the largest buffer
freed so far (up to 32 MiB): after one large file, every smaller buffer comes from the heap,
whose freed holes mostly stay resident. Pinning the threshold keeps large buffers returned.
Measured on the 1 GB benchmark image: the scan and its workers peaked at about 420 MiB
(PSS) before, about 300 MiB with this alone; buffers under the threshold keep the heap's
speed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # malloc.h
MMAP_THRESHOLD = 4 << 20
TRIM_THRESHOLD = 8 << 20
"""Pinning the mmap threshold also pins this one, whose default (128 KiB) would shrink and
regrow the heap, page by page, with every file."""


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None)  # the C library this process already runs on


def return_large_buffers() -> bool:
    """Pin glibc's mmap threshold for this process and the workers it forks; False where
    there is no glibc malloc to tune (the scan is correct either way)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = _libc().mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def give_back_free_pages() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim): the file contents
    the reader held are freed in no particular order, leaving holes the heap keeps."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            _libc().malloc_trim(0)
