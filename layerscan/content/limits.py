"""How far the content stage may go into one file, and what one file has left to spend.

Image content is hostile: a zip bomb, an archive nested a hundred deep or a SQLite file with a
query that never ends must cost a bounded amount of memory and time. Every bound lives here so
that a caller can tune them in one place and the tests can shrink them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContentLimits:
    """Bounds for turning one file of an image into scan units."""

    # A file larger than this is not looked at ("over size limit"), like scan's --max-file-size.
    max_file_bytes: int = 32 << 20
    # Archive levels opened: the members of the third nested archive are the deepest read.
    max_depth: int = 3
    # One archive member or one decompressed stream, after expansion.
    max_member_bytes: int = 32 << 20
    # Everything inflated (decompressed or read out of a zip) from one top-level file.
    max_total_bytes: int = 256 << 20
    # Expanded size over compressed size, checked once a member expands past ratio_floor_bytes
    # (small members compress well and cost nothing, so they are never refused for it).
    max_ratio: int = 100
    ratio_floor_bytes: int = 1 << 20
    # Archive members read from one top-level file at every depth together; a zip whose central
    # directory lists more entries than this is not opened at all.
    max_members: int = 10_000
    # Memory an xz or zstd decoder may ask for (a hostile header can ask for gigabytes).
    decoder_memory: int = 128 << 20
    # SQLite: wall-clock budget per database and rows read per table.
    sqlite_seconds: float = 2.0
    sqlite_max_rows: int = 10_000
    # Printable runs shorter than this are not kept from binaries.
    min_string_length: int = 8


DEFAULT_LIMITS = ContentLimits()


@dataclass(slots=True)
class Budget:
    """What one top-level file may still expand into; shared by every nested level of it."""

    bytes_left: int
    members_left: int

    @classmethod
    def start(cls, limits: ContentLimits) -> Budget:
        """A fresh budget for one top-level file."""
        return cls(bytes_left=limits.max_total_bytes, members_left=limits.max_members)
