"""What the content stage hands to the detectors: units to scan, and what was skipped and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

Origin = Literal["text", "strings", "rows"]


@dataclass(frozen=True, slots=True)
class Unit:
    """Text to scan and its place inside the file it came from.

    `nested_path` is None for the file itself; otherwise the archive member (or SQLite table)
    the text came from, with one "!" between nesting levels: "lib/inner.jar!config/x.properties".
    `origin` says how the text was made: a text file ("text"), the printable strings of a
    binary, one per line ("strings"), or the rows of a SQLite table ("rows"); detectors may
    trust shape-based heuristics less on strings, whose neighbouring lines are unrelated.
    `utf8` is the file's own bytes when they are exactly `text` in UTF-8 (most files, all the
    ASCII ones): the engine hashes them, and scans them if ASCII, instead of encoding the
    text again. It is `text` in another form, so comparisons leave it out.
    """

    text: str
    filename: str
    nested_path: str | None = None
    origin: Origin = "text"
    utf8: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file, or a part of one, that produced no unit, and why (`reason` is a Reason key)."""

    reason: str
    nested_path: str | None = None


class Reason:
    """Skip reasons: short keys that reports count and scripts match, so they never change."""

    OVER_SIZE: Final = "over size limit"
    BINARY: Final = "binary"
    MEDIA: Final = "media"
    DEPTH: Final = "archive depth limit"
    RATIO: Final = "archive ratio limit"
    MEMBERS: Final = "archive member limit"
    SIZE: Final = "archive size limit"
    OVERLAP: Final = "archive overlap"
    CORRUPT: Final = "corrupt archive"
    ENCRYPTED: Final = "encrypted archive member"
    UNSUPPORTED: Final = "unsupported archive member"
    SQLITE_ERROR: Final = "sqlite error"
    SQLITE_TIME: Final = "sqlite time limit"
    SQLITE_ROWS: Final = "sqlite row limit"
