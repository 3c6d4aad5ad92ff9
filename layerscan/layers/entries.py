"""What the walk yields (an `Entry` of one layer) and what the timeline keeps (a `Version`).

Both are shared by the reader, the timeline and recovery; they live here so that none of
those modules has to import another for its types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from ..image.model import BlobLocation
from ..model.findings import Status


class EntryKind(StrEnum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    WHITEOUT = "whiteout"
    OPAQUE = "opaque"
    CHAR_DEVICE = "char-device"
    BLOCK_DEVICE = "block-device"
    FIFO = "fifo"
    OTHER = "other"


def normalise_path(name: str) -> str | None:
    """The image path of a tar member ('' for the root), or None when it must be rejected.

    `./`, a leading `/` and `//` are layout noise and are dropped; a `..` component could only
    mean an escape from the image root, so such entries are rejected and reported.
    """
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            return None
        parts.append(part)
    return "/".join(parts)


@dataclass(slots=True)
class Entry:
    """One member of one layer, as the walk saw it."""

    layer_index: int
    path: str
    kind: EntryKind
    size: int = 0
    mode: int = 0
    mtime: float = 0.0
    uid: int = 0
    gid: int = 0
    link_target: str | None = None
    version: Version | None = None
    stored_at: BlobLocation | None = None
    """Where the file's bytes sit, as they are, in a file on this host (an uncompressed
    layer of a tarball or layout): workers read them there instead of being sent a copy."""
    ordinal: int | None = None
    """Its position among the members of its layer's tar (0 for the first header the tar
    stream yields, skipped members counted): one layer can hold the same path several times,
    so recovery finds the member by this, never by its name. None when not recorded."""
    capabilities: bool = False
    """Its tar header gives it Linux file capabilities (the `security.capability` extended
    attribute, see streams.tarstream.Member.capabilities); set-id bits are in `mode`."""
    _reader: Callable[[int], bytes] | None = field(default=None, repr=False)
    _chunks: Callable[[int], Iterator[bytes]] | None = field(default=None, repr=False)

    @property
    def display_path(self) -> str:
        return "/" + self.path

    def read(self, limit: int) -> bytes:
        """Up to `limit` bytes of a regular file; only valid while it is the current entry."""
        if self._reader is None:
            return b""
        return self._reader(limit)

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """A regular file's bytes in pieces (bounded memory however large the file is);
        like read(), only while it is the current entry, and only once. A layer that breaks
        inside the file ends the pieces early (the walk reports the damage)."""
        if self._chunks is None:
            return iter(())
        return self._chunks(size)

    @property
    def readable(self) -> bool:
        """True while the entry's bytes can still be read (a replayed entry's cannot)."""
        return self._reader is not None

    def release(self) -> None:
        """Drop the reader: an entry kept after its layer must not keep the layer's tar."""
        self._reader = None
        self._chunks = None


@dataclass(eq=False, slots=True)
class Version:
    """One path as one layer wrote it."""

    layer_index: int
    path: str
    kind: EntryKind
    size: int = 0
    mode: int = 0
    mtime: float = 0.0
    uid: int = 0
    gid: int = 0
    link_target: str | None = None
    content: Version | None = None
    """For a hard link: the file version whose bytes it shares, the one its target path held
    when the link was written (never a later version of that path)."""
    ordinal: int | None = None
    """The entry's position in its layer's tar (see Entry.ordinal): which member holds these
    bytes when the layer holds the same path more than once."""
    capabilities: bool = False
    """The entry's own header gives the file capabilities (see Entry.capabilities). A hard
    link's is its own header's, and `content.capabilities` its target's: Docker extracts
    headers in order and chowns a link (which clears the capability of the inode both paths
    share) before it sets the link's own attributes, so of the headers of one inode in a
    layer the last decides for all its paths (tested on the real engine)."""
    removed_by: int | None = None
    status: Status = Status.PRESENT
    duplicate: bool = False
    """Superseded by the same path later in the same layer (tar semantics: last one wins)."""

    @property
    def display_path(self) -> str:
        return "/" + self.path

    @property
    def holds_content(self) -> bool:
        return self.kind is EntryKind.FILE or (
            self.kind is EntryKind.HARDLINK and self.content is not None
        )
