"""How one archive and the files of one image are shared out between worker processes."""

from __future__ import annotations

import zlib

Shard = tuple[int, int]
"""(k, n): the members of a zip archive with shard_of(name, n) == k, for scanning one
archive in n processes at once."""


def shard_of(name: str, shards: int) -> int:
    """Which of n workers takes a file or an archive member: chosen by the last three parts of
    its path, so that a file and the same file inside its package's archive (a wheel's member,
    then its installed copy) go to the same worker, which then scans their text once."""
    tail = "/".join(name.rsplit("/", 3)[-3:])
    return zlib.crc32(tail.encode("utf-8", "surrogatepass")) % shards
