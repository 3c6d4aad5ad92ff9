"""A SQLite database -> one unit per table, one line per row: `table: col=value col2=value2`.

The file comes from the image, so it is treated as hostile: SQLite opens a private copy (in a
directory only we can read, deleted afterwards) read-only and immutable; the schema is not
trusted (`trusted_schema=OFF`: views, triggers and generated columns cannot call functions
with side effects); only real tables are read, never views (a view is a query its author
chose) or virtual tables (their module runs code); identifiers are quoted, never pasted; a
progress handler stops every statement once the time budget is spent; rows are capped per
table and values by SQLite's own length limit.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

from .limits import ContentLimits
from .model import Reason, Skipped

_PROGRESS_STEPS = 1000  # SQLite VM instructions between two looks at the clock
_FETCH = 256
_VIRTUAL = re.compile(r"\s*create\s+virtual\s", re.IGNORECASE)
_BLOB_RUNS = re.compile(rb"[\x20-\x7e]{4,}")
# Column names and SQLite's own error messages (which quote the schema) are decoded strictly
# by the sqlite3 module, whatever text_factory says.
_ERRORS = (sqlite3.Error, UnicodeDecodeError)


@dataclass(frozen=True, slots=True)
class Table:
    """The rows of one table, one line each."""

    name: str
    text: str


def read_tables(data: bytes, limits: ContentLimits) -> Iterator[Table | Skipped]:
    """Every table of the database `data`, in schema order (Skipped for what failed)."""
    # Everything is read before anything is yielded: the copy is deleted before the caller
    # sees a row, whether or not it iterates to the end.
    return iter(_read_all(data, limits))


def _read_all(data: bytes, limits: ContentLimits) -> list[Table | Skipped]:
    directory = tempfile.mkdtemp(prefix="layerscan-sqlite-")  # mode 0700
    try:
        descriptor, path = tempfile.mkstemp(suffix=".db", dir=directory)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        # immutable=1: no lock, no journal, no -wal or -shm file is created or read, even for
        # a database in WAL mode.
        return _read_copy(path, limits)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _read_copy(path: str, limits: ContentLimits) -> list[Table | Skipped]:
    uri = f"file:{urllib.parse.quote(path)}?mode=ro&immutable=1"
    deadline = time.monotonic() + limits.sqlite_seconds
    try:
        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error:
        return [Skipped(Reason.SQLITE_ERROR)]
    found: list[Table | Skipped] = []
    try:
        # Text in a hostile database need not be UTF-8; a bad byte costs one character.
        connection.text_factory = _decode
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_member_bytes)
        connection.execute("PRAGMA trusted_schema=OFF")
        connection.execute("PRAGMA query_only=ON")
        tables = [
            name
            for name, sql in connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )
            if isinstance(name, str) and not _VIRTUAL.match(str(sql or ""))
        ]
        for table in tables:
            try:
                found.extend(_read_table(connection, table, limits))
            except _ERRORS:
                failure = _failure(deadline, table)
                found.append(failure)
                if failure.reason == Reason.SQLITE_TIME:
                    break  # every later statement would be interrupted at once
    except _ERRORS:
        found.append(_failure(deadline))
    finally:
        connection.close()
    return found


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _failure(deadline: float, table: str | None = None) -> Skipped:
    if time.monotonic() > deadline:
        return Skipped(Reason.SQLITE_TIME, table)
    return Skipped(Reason.SQLITE_ERROR, table)


def _read_table(
    connection: sqlite3.Connection, name: str, limits: ContentLimits
) -> Iterator[Table | Skipped]:
    cursor = connection.execute(f"SELECT * FROM {quote_identifier(name)}")
    columns = [_one_line(str(column[0])) for column in cursor.description]
    label = _one_line(name)
    lines: list[str] = []
    size = 0
    truncated = False
    for row in _rows(cursor):
        if len(lines) >= limits.sqlite_max_rows or size > limits.max_member_bytes:
            truncated = True  # a row is left: the cap was reached, not the end of the table
            break
        line = f"{label}: " + " ".join(
            f"{column}={_render(value)}" for column, value in zip(columns, row, strict=False)
        )
        lines.append(line)
        size += len(line) + 1
    cursor.close()
    if lines:
        yield Table(name, "\n".join(lines))
    if truncated:
        yield Skipped(Reason.SQLITE_ROWS, name)


def _rows(cursor: sqlite3.Cursor) -> Iterator[tuple[object, ...]]:
    while rows := cursor.fetchmany(_FETCH):
        yield from rows


def quote_identifier(name: str) -> str:
    """An SQL identifier for any table name, however hostile: "a""b" for a"b."""
    return '"' + name.replace('"', '""') + '"'


def _render(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return " ".join(run.decode("ascii") for run in _BLOB_RUNS.findall(value))
    return _one_line(str(value))


def _one_line(text: str) -> str:
    # One row, one line: a value's own line breaks are kept visible instead.
    return text.replace("\r", "\\r").replace("\n", "\\n")
