"""Reading untrusted tar streams with Python 3.11's tarfile, safely.

tarfile is used only to parse headers and read member bytes, never to extract. Two traps
remain in 3.11.7 and are closed here: pax headers that make its regular expressions
backtrack quadratically (CVE-2024-6232), and chains of pax or GNU long-name headers that it
follows by recursion. Works on seekable files and on forward-only streams alike.
"""

from __future__ import annotations

import re
import struct
import tarfile
from typing import IO, Any

PAX_LIMIT = 1 << 20
"""Real pax headers are a few hundred bytes; a megabyte is already hostile."""

_LONG_DIGITS = re.compile(rb"\d{33,}")
_DIGIT_WORK = 1 << 22  # a few milliseconds of backtracking

TAR_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    IndexError,
    OverflowError,
    RecursionError,  # a long run of pax / GNU long-name headers
    ValueError,
    struct.error,
)
"""What tarfile raises on malformed input (beyond TarError itself)."""


def pax_well_formed(buffer: bytes) -> bool:
    """Records "LEN key=value\\n" laid end to end, and no digit run long enough to backtrack."""
    # tarfile's `\d+ hdrcharset=` search costs the square of each digit run's length.
    if sum(len(run) ** 2 for run in _LONG_DIGITS.findall(buffer)) > _DIGIT_WORK:
        return False
    position = 0
    end = len(buffer.rstrip(b"\x00"))
    while position < end:
        space = buffer.find(b" ", position, position + 12)
        if space <= position or not buffer[position:space].isdigit():
            return False
        stop = position + int(buffer[position:space])
        if stop > len(buffer) or buffer[stop - 1 : stop] != b"\n":
            return False
        if buffer.find(b"=", space, stop) == -1:
            return False
        position = stop
    return True


class _Replay:
    """A file object that gives back bytes already read, then reads on from the original."""

    def __init__(self, head: bytes, original: IO[bytes]) -> None:
        self._head = head
        self._original = original

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._original.read(size)
        if 0 <= size < len(self._head):
            head, self._head = self._head[:size], self._head[size:]
            return head
        head, self._head = self._head, b""
        if size < 0:
            return head + self._original.read()
        return head + self._original.read(size - len(head)) if size > len(head) else head

    def tell(self) -> int:
        return self._original.tell() - len(self._head)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class GuardedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses pax headers tarfile 3.11 would parse in quadratic time."""

    def _proc_pax(self, tar: Any) -> Any:
        if self.size > PAX_LIMIT or self.size < 0:
            raise tarfile.HeaderError(f"refused a pax header of {self.size} bytes")
        original = tar.fileobj
        block = original.read(self._block(self.size))  # type: ignore[attr-defined]
        if not pax_well_formed(block[: self.size]):
            raise tarfile.HeaderError("refused a malformed pax header")
        tar.fileobj = _Replay(block, original)
        try:
            return super()._proc_pax(tar)  # type: ignore[misc]
        finally:
            tar.fileobj = original
