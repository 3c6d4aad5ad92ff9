"""A cache of layer outcomes in SQLite, so layers shared between images are scanned once.

The key is the layer's diff_id plus a fingerprint of everything else an outcome depends on:
layerscan's own code, detect-secrets' version, the rules (the text of the built-in and --rules
files, and PyYAML's version) and the options that change what is read. An entry is reused
only when the layer's blob hashes, now, to the digest recorded when the entry was made (and
that scan found both digests matching): a tampered blob, a corrupt row or a file from another
program is a miss, never a result.

Re-hashing every blob would cost a rescan most of its time, so the cache also remembers,
for a blob that is a byte range of a file the user gave (a `docker save` tar, an OCI layout),
the digest it hashed to and that file's identity and timestamps then (device, inode, size,
mtime and ctime in nanoseconds). While they are all unchanged the digest is taken as known,
the check git, rsync and make rely on: any write changes ctime, which no program can set
back (only a changed system clock can). A file changed less than RACY_SECONDS before it was
hashed is not remembered, since a second write in the same clock tick could leave every
timestamp as it was. The cache directory is therefore trusted like the code itself.

Entries hold what was found, secrets included, like the image itself: the cache directory
is created private to the user (0700, the database 0600).

Since whoever can write to the cache decides what a rescan reports, the cache is used only
when that is the user alone: the directory (never through a symbolic link at its name) and
the database (a regular file, not a link, as are its -journal, -wal and -shm companions)
must belong to the user and be writable by neither group nor others. Anything else is
refused with one warning and the scan runs without a cache. What comes back from a trusted
database is still read as untrusted: each row inflates to at most MAX_ROW_BYTES, must be
JSON of exactly the shape its writer gives it (result_store's strict readers), and any row
that does not fit is a miss, logged and deleted, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import stat
import sys
import time
import zlib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .result_store import StoredResult, Unusable, digest, dump_result, load_result

if TYPE_CHECKING:
    from ..detect.rule_files import RuleTexts
    from ..image.model import BlobLocation, Image, Layer
    from ..model.rule_meta import RuleMeta
    from .layer_scan import LayerOutcome

logger = logging.getLogger(__name__)

SCHEMA = 2
"""Bumped when a stored row changes shape (2: image entries keep the rule catalogue)."""
DEFAULT_MAX_ENTRIES = 2000
"""Layers kept; the least recently used go first."""
RACY_SECONDS = 2.0
"""A file changed this recently when it was hashed is hashed again next time."""
_MAX_KNOWN_FILES = 20_000
MAX_ROW_BYTES = 128 << 20
"""The most a stored outcome or result may take as JSON: put stores nothing larger (such a
layer is scanned every time), and a row that inflates further is refused while inflating."""
DATABASE = "layers.sqlite"
_COMPANIONS = ("-journal", "-wal", "-shm")
"""Files SQLite opens by name beside the database."""
_TABLES = {
    "layers": "CREATE TABLE layers (key TEXT PRIMARY KEY, schema INTEGER NOT NULL,"
    " blob_digest TEXT NOT NULL, used REAL NOT NULL, outcome BLOB NOT NULL)",
    "known_blobs": "CREATE TABLE known_blobs (path TEXT NOT NULL, offset INTEGER NOT NULL,"
    " size INTEGER NOT NULL, state TEXT NOT NULL, digest TEXT NOT NULL,"
    " used REAL NOT NULL, PRIMARY KEY (path, offset, size))",
    "images": "CREATE TABLE images (key TEXT PRIMARY KEY, schema INTEGER NOT NULL,"
    " used REAL NOT NULL, result BLOB NOT NULL)",
}
_OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_DATABASE = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

FileState = tuple[int, int, int, int, int]
"""(device, inode, size, mtime_ns, ctime_ns) of the file holding a blob."""


def file_state(location: BlobLocation | None) -> FileState | None:
    """The identity and timestamps of the regular file holding a blob (None if there is
    none, or it cannot be read)."""
    if location is None:
        return None
    try:
        found = os.stat(location.path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


_HASH_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/layerscan, else ~/.cache/layerscan."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "layerscan"


def code_fingerprint() -> str:
    """A hash of layerscan's own source: a changed detector invalidates every entry."""
    digest = hashlib.sha256()
    package = resources.files("layerscan")
    for item in sorted(_python_files(package), key=lambda item: str(item)):
        digest.update(str(item).encode())
        digest.update(item.read_bytes())
    digest.update(str(installed_version("detect-secrets")).encode())
    return digest.hexdigest()


def _python_files(folder: resources.abc.Traversable) -> Iterable[resources.abc.Traversable]:
    for item in folder.iterdir():
        if item.is_dir() and item.name != "__pycache__":
            yield from _python_files(item)
        elif item.name.endswith((".py", ".yaml")):
            yield item


def installed_version(name: str) -> str | None:
    """importlib.metadata.version(name), or None if it is not installed. Where the first
    metadata directory on sys.path is pip's `{name}-{version}.dist-info`, its name tells the
    version: importing importlib.metadata (and the email parser it reads metadata with) would
    cost a cached rescan a tenth of its time. Anything else is left to importlib.metadata."""
    prefix = name.replace("-", "_").replace(".", "_").lower() + "-"
    for entry in sys.path:
        try:
            found = [
                listed
                for listed in os.listdir(entry or ".")
                if listed.lower().startswith(prefix)
                and listed.endswith((".dist-info", ".egg-info"))
            ]
        except OSError:
            continue
        if len(found) == 1 and found[0].endswith(".dist-info"):
            return found[0][len(prefix) : -len(".dist-info")]
        if found:
            break
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def rules_fingerprint(texts: RuleTexts) -> str:
    """A hash of the text of every rules file (user rules included) and of the YAML parser
    that reads them: the compiled rules are made from these alone (rules.rules_from)."""
    digest = hashlib.sha256()
    digest.update(str(installed_version("PyYAML")).encode())
    for part, sources in (("builtin", texts.builtin), ("extra", texts.extra)):
        digest.update(f"\0{part}:{len(sources)}".encode())
        for origin, text in sources:
            for field in (origin, text):
                data = field.encode("utf-8", "surrogatepass")
                digest.update(b"\0%d:" % len(data) + data)
    return digest.hexdigest()


def blob_digest(layer: Layer) -> str:
    """sha256 of the layer's blob as stored (compressed if it is): a read, no decompression."""
    digest = hashlib.sha256()
    with layer.opener() as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class _Refused(Exception):
    """The cache directory or database is not the user's alone: used, it could lie."""


class _Foreign(Exception):
    """The user's own database holds tables that are not ours: made anew."""


class LayerCache:
    """Outcomes by (diff_id, settings fingerprint), in one SQLite file."""

    def __init__(self, directory: Path, settings: str, max_entries: int = DEFAULT_MAX_ENTRIES):
        self._settings = settings
        self._max_entries = max_entries
        self._directory = directory
        self._path = directory / DATABASE
        self._connection: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0
        self.refused: str | None = None
        """Why the cache is not used (None when it is)."""

        try:
            self._connection = self._connect()
        except _Refused as exc:
            self.refused = str(exc)
        except OSError as exc:
            self.refused = f"it cannot be used ({exc.strerror or exc})"
        if self.refused is not None:
            # One line, shown without -v: the user asked for a cache and gets none.
            logger.warning(
                "warning: not using the layer cache at %s: %s; scanning without it",
                shown(directory),
                self.refused,
            )

    def _connect(self) -> sqlite3.Connection:
        """The database in the cache directory, once both are found to be the user's alone;
        a database of the user's that SQLite cannot read, or with tables not ours, is made
        anew, once. _Refused otherwise."""
        directory_fd, directory_state = _enter_private_directory(self._directory)
        try:
            try:
                return self._open(directory_fd, directory_state)
            except sqlite3.OperationalError as exc:  # locked, full, unreadable: not corrupt
                raise _Refused(f"its database cannot be used ({exc})") from None
            except (sqlite3.DatabaseError, _Foreign) as exc:
                logger.info("the layer cache's database was unreadable (%s); made anew", exc)
            _remove_database(directory_fd)
            try:
                return self._open(directory_fd, directory_state)
            except (sqlite3.Error, _Foreign) as exc:
                raise _Refused(f"its database cannot be used ({exc})") from None
        finally:
            os.close(directory_fd)

    def _open(self, directory_fd: int, directory_state: os.stat_result) -> sqlite3.Connection:
        """Connect to the database, checked before and after SQLite opens it by name: a
        private regular file (created 0600 if missing) in the directory checked."""
        _check_companions(directory_fd)
        found = _lstat_at(directory_fd, DATABASE)
        if found is not None:
            _check_private_file(found, f"its database {DATABASE}")
        try:
            fd = os.open(DATABASE, _OPEN_DATABASE, 0o600, dir_fd=directory_fd)
        except OSError as exc:
            raise _Refused(_open_failure(directory_fd, DATABASE, "its database", exc)) from None
        try:
            held = os.fstat(fd)
            _check_private_file(held, f"its database {DATABASE}")
            if held.st_mode & 0o077:
                os.fchmod(fd, 0o600)  # ours, but readable by others: it holds secrets
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        finally:
            os.close(fd)
        try:
            # SQLite opened the database by name: the name must still lead to what was checked.
            now = os.stat(self._directory, follow_symlinks=False)
            if not _same_file(now, directory_state) or not _same_file(
                _lstat_at(directory_fd, DATABASE), held
            ):
                raise _Refused("it changed while it was opened")
            connection.execute("PRAGMA trusted_schema = OFF")
            for create in _TABLES.values():
                connection.execute(create.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
            _check_tables(connection)
            for table in _TABLES:
                connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        except BaseException:
            connection.close()
            raise
        return connection

    def _key(self, diff_id: str) -> str:
        return hashlib.sha256(f"{SCHEMA}\0{self._settings}\0{diff_id}".encode()).hexdigest()

    @staticmethod
    def usable(layer: Layer) -> bool:
        return bool(layer.diff_id and layer.diff_id.startswith("sha256:"))

    def get(self, layer: Layer, rules: Mapping[str, RuleMeta]) -> LayerOutcome | None:
        """The stored outcome of this layer, if its blob is byte for byte the one scanned."""
        outcome = self._lookup(layer, rules)
        if outcome is None:
            self.misses += 1
        else:
            self.hits += 1
        return outcome

    def _verified_row(self, layer: Layer, outcome: bool) -> tuple[str, str, object] | None:
        """(key, digest, stored outcome if asked for) of the layer's entry, if its blob is the
        one that was scanned. An entry whose columns are not ours is dropped: a miss."""
        if self._connection is None or not self.usable(layer):
            return None
        key = self._key(str(layer.diff_id))
        row = self._fetch(
            f"SELECT schema, blob_digest, {_bounded('outcome') if outcome else 'NULL'}"
            " FROM layers WHERE key = ?",
            (key,),
        )
        if row is None:
            return None
        try:
            if row[0] != SCHEMA:
                raise Unusable("written by another version")
            recorded = digest(row[1], "its blob digest")
            if outcome and row[2] is None:
                raise Unusable(f"not a blob of at most {MAX_ROW_BYTES >> 20} MiB")
        except Unusable as exc:
            self._discard("layers", key, f"layer {layer.index}", exc)
            return None
        if layer.digest and layer.digest.startswith("sha256:") and layer.digest != recorded:
            return None  # the manifest names other bytes: the scan must say so, not the cache
        try:
            if self._current_digest(layer) != recorded:
                return None  # same diff_id, other bytes: scan it (and the walk will say why)
        except (OSError, ValueError) as exc:
            logger.info("layer %d blob not hashable for the cache (%s)", layer.index, exc)
            return None
        return key, recorded, row[2]

    def _fetch(self, query: str, parameters: tuple[object, ...]) -> Any:
        """One row, or None (a failed read is logged, and a miss)."""
        assert self._connection is not None
        try:
            return self._connection.execute(query, parameters).fetchone()
        except sqlite3.Error as exc:
            logger.warning("warning: layer cache read failed (%s); taken as a miss", exc)
            return None

    def _discard(
        self, table: str, key: str, what: str, reason: Exception, instead: str = "scanned again"
    ) -> None:
        """A row that cannot be used is a miss, and is deleted (it would be a miss again).
        The reason only names a place or a type: a row's text may quote a cached secret."""
        why = str(reason) if isinstance(reason, Unusable) else type(reason).__name__
        logger.info("cache entry for %s unusable (%s); %s", what, why, instead)
        assert self._connection is not None
        with contextlib.suppress(sqlite3.Error):
            self._connection.execute(f"DELETE FROM {table} WHERE key = ?", (key,))

    def holds(self, layer: Layer) -> bool:
        """The layer has an entry and its blob is the one that was scanned (see get)."""
        return self._verified_row(layer, False) is not None

    def _lookup(self, layer: Layer, rules: Mapping[str, RuleMeta]) -> LayerOutcome | None:
        found = self._verified_row(layer, True)
        if found is None:
            return None
        key, recorded, stored = found
        # Deferred: layer_scan loads the detectors, which a rescan served whole by an image
        # entry never needs.
        from .layer_scan import load_outcome

        try:
            outcome = load_outcome(inflate(stored), layer.index, rules)
            if not outcome.cacheable or outcome.check is None:
                raise Unusable("not a complete, verified layer")
            if outcome.check.digest_actual != recorded:
                raise Unusable("its digests disagree")
        except Exception as exc:  # whatever is wrong with a row, it is only ever a miss
            self._discard("layers", key, f"layer {layer.index}", exc)
            return None
        self._touch(key)
        return outcome

    def _current_digest(self, layer: Layer) -> str:
        """The blob's digest now: remembered while its file is unchanged, else hashed (a
        content-addressed blob's is its manifest digest: reading it would download it)."""
        if layer.content_addressed and layer.digest:
            return layer.digest
        location = layer.location
        before = file_state(location)
        if location is not None and before is not None:
            known = self._known_digest(location, before)
            if known is not None:
                return known
        digest = blob_digest(layer)
        if location is not None and before is not None:
            self.remember_blob(location, before, digest)
        return digest

    def _known_digest(self, location: BlobLocation, state: FileState) -> str | None:
        assert self._connection is not None
        try:
            row = self._connection.execute(
                "SELECT state, digest FROM known_blobs WHERE path = ? AND offset = ? AND size = ?",
                (location.path, location.offset, location.size),
            ).fetchone()
        except sqlite3.Error:
            return None
        if row is None or row[0] != _state_text(state):
            return None
        try:
            return digest(row[1], "a known blob's digest")
        except Unusable:
            return None  # not one we wrote: the blob is hashed (and the row replaced)

    def remember_blob(self, location: BlobLocation, before: FileState, digest: str) -> None:
        """Remember the digest of a blob hashed (or read and checked) while its file was in
        state `before`, if the file is still in that state and was not changed too recently
        for its timestamps to tell a later change apart."""
        if self._connection is None or file_state(location) != before:
            return
        newest_change_ns = max(before[3], before[4])
        if newest_change_ns > (time.time() - RACY_SECONDS) * 1e9:
            return
        row = (location.path, location.offset, location.size, _state_text(before), digest)
        self._store("known_blobs", (*row, time.time()), _MAX_KNOWN_FILES)

    def put(self, layer: Layer, outcome: LayerOutcome, before: FileState | None = None) -> None:
        """Remember an outcome, when it is one that can be trusted again (see cacheable).
        `before`: the state of the blob's file when the scan began reading it."""
        if self._connection is None or not self.usable(layer) or not outcome.cacheable:
            return
        assert outcome.check is not None and outcome.check.digest_actual is not None
        if layer.location is not None and before is not None:
            self.remember_blob(layer.location, before, outcome.check.digest_actual)
        from .layer_scan import dump_outcome  # deferred, as in _lookup

        document = dump_outcome(outcome)
        if len(document) > MAX_ROW_BYTES:
            logger.info("layer %d: its outcome is too large to cache", layer.index)
            return
        data = zlib.compress(document, 6)
        key = self._key(str(layer.diff_id))
        row = (key, SCHEMA, outcome.check.digest_actual, time.time(), data)
        self._store("layers", row, self._max_entries)

    def image_result(self, key: str, layers: int | None = None) -> StoredResult | None:
        """A whole image's stored result (see result_store), every layer index it names one
        of the image's `layers`; the caller checks the layers themselves."""
        if self._connection is None:
            return None
        row = self._fetch(f"SELECT schema, {_bounded('result')} FROM images WHERE key = ?", (key,))
        if row is None:
            return None
        try:
            if row[0] != SCHEMA:
                raise Unusable("written by another version")
            if row[1] is None:
                raise Unusable(f"not a blob of at most {MAX_ROW_BYTES >> 20} MiB")
            result = load_result(inflate(row[1]), layers)
        except Exception as exc:  # whatever is wrong with a row, it is only ever a miss
            self._discard("images", key, "the image", exc, "its layers are replayed")
            return None
        with contextlib.suppress(sqlite3.Error):
            self._connection.execute("UPDATE images SET used = ? WHERE key = ?", (time.time(), key))
        return result

    def put_image_result(self, key: str, result: StoredResult) -> None:
        if self._connection is None:
            return
        document = dump_result(result)
        if len(document) > MAX_ROW_BYTES:
            logger.info("the image's result is too large to cache")
            return
        data = zlib.compress(document, 6)
        self._store("images", (key, SCHEMA, time.time(), data), self._max_entries)

    def _store(self, table: str, row: tuple[object, ...], keep: int) -> None:
        """Insert or replace one row of a table (one of ours, never a name from outside),
        then drop its least recently used rows beyond `keep`."""
        assert self._connection is not None
        places = ", ".join("?" * len(row))
        try:
            self._connection.execute(f"INSERT OR REPLACE INTO {table} VALUES ({places})", row)
            self._connection.execute(
                f"DELETE FROM {table} WHERE rowid NOT IN "
                f"(SELECT rowid FROM {table} ORDER BY used DESC LIMIT ?)",
                (keep,),
            )
        except sqlite3.Error as exc:
            logger.warning("warning: layer cache write failed (%s)", exc)

    def image_key(self, parts: Iterable[str]) -> str:
        """The key of an image's result: these settings and the given identity parts."""
        digest = hashlib.sha256(f"{SCHEMA}\0{self._settings}".encode())
        for part in parts:
            digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
        return "image:" + digest.hexdigest()

    def _touch(self, key: str) -> None:
        with contextlib.suppress(sqlite3.Error):
            assert self._connection is not None
            self._connection.execute("UPDATE layers SET used = ? WHERE key = ?", (time.time(), key))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inflate(data: object, limit: int = MAX_ROW_BYTES) -> bytes:
    """A stored row's bytes: one complete zlib stream inflating to at most `limit` bytes,
    refused (Unusable) the moment it would inflate past it."""
    if not isinstance(data, bytes):
        raise Unusable("not a blob")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise Unusable("not zlib data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise Unusable(f"inflates past {limit >> 20} MiB")
    if not inflater.eof or inflater.unused_data:
        raise Unusable("not one complete zlib stream")
    return out


def _bounded(column: str) -> str:
    """The column if it is a blob no larger than a row may be, else NULL: SQLite never hands
    over more than that."""
    bounded = f"typeof({column}) = 'blob' AND length({column}) <= {MAX_ROW_BYTES}"
    return f"CASE WHEN {bounded} THEN {column} END"


def shown(path: Path) -> str:
    """A path as a warning may print it: control characters and bytes that are not UTF-8
    as \\xNN (a cache directory's name must not drive the terminal)."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(
        f"\\x{ord(char):02x}" if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 else char
        for char in text
    )


def _enter_private_directory(directory: Path) -> tuple[int, os.stat_result]:
    """A descriptor of the cache directory and its state, created 0700 (its parents as
    usual) when missing. _Refused unless it is a directory, not a symbolic link, owned by
    this user and writable by neither group nor others: whoever else could write to it
    could make a changed image look scanned. Links above it are the user's own choice."""
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _Refused(f"it cannot be created ({exc.strerror or exc})") from None
    except OSError as exc:
        raise _Refused(f"it cannot be created ({exc.strerror or exc})") from None
    try:
        fd = os.open(directory, _OPEN_DIRECTORY)
    except OSError as exc:
        raise _Refused(_open_failure(None, directory, "it", exc)) from None
    try:
        state = os.fstat(fd)
        _check_private(state, "it")
    except BaseException:
        os.close(fd)
        raise
    return fd, state


def _check_private(state: os.stat_result, what: str) -> None:
    """_Refused unless owned by this user and writable by neither group nor others."""
    if state.st_uid != os.geteuid():
        raise _Refused(f"{what} belongs to another user (uid {state.st_uid})")
    if state.st_mode & 0o002:
        raise _Refused(f"{what} is writable by others")
    if state.st_mode & 0o020:
        raise _Refused(f"{what} is writable by its group")


def _check_private_file(state: os.stat_result, what: str) -> None:
    if stat.S_ISLNK(state.st_mode):
        raise _Refused(f"{what} is a symbolic link")
    if not stat.S_ISREG(state.st_mode):
        raise _Refused(f"{what} is not a regular file")
    _check_private(state, what)


def _check_companions(directory_fd: int) -> None:
    """SQLite opens its journal and WAL files by name: each, if there, must be a private
    regular file too (never a link it would write through)."""
    for suffix in _COMPANIONS:
        found = _lstat_at(directory_fd, DATABASE + suffix)
        if found is not None:
            _check_private_file(found, f"its file {DATABASE + suffix}")


def _check_tables(connection: sqlite3.Connection) -> None:
    """Exactly our three tables and their primary-key indexes: no trigger or view of
    another program's (which SQLite would run on our reads and writes)."""
    tables = {}
    for kind, name, sql in connection.execute("SELECT type, name, sql FROM sqlite_master"):
        if kind == "table":
            tables[name] = sql
        elif not (kind == "index" and sql is None and str(name).startswith("sqlite_autoindex_")):
            raise _Foreign(f"it holds a {kind} of its own")
    if tables != _TABLES:
        raise _Foreign("its tables are not the cache's")


def _lstat_at(directory_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _Refused(f"{name} cannot be examined ({exc.strerror or exc})") from None


def _same_file(a: os.stat_result | None, b: os.stat_result) -> bool:
    return a is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _open_failure(directory_fd: int | None, name: str | Path, what: str, exc: OSError) -> str:
    """Why `name` could not be opened, in words: a link or another kind of file is named as
    such (O_NOFOLLOW and O_DIRECTORY only say ELOOP or ENOTDIR)."""
    try:
        found = os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
    except OSError:
        found = None
    if found is not None and stat.S_ISLNK(found.st_mode):
        return f"{what} is a symbolic link"
    if found is not None and directory_fd is None and not stat.S_ISDIR(found.st_mode):
        return f"{what} is not a directory"
    if found is not None and directory_fd is not None and not stat.S_ISREG(found.st_mode):
        return f"{what} is not a regular file"
    return f"{what} cannot be opened ({exc.strerror or exc})"


def _remove_database(directory_fd: int) -> None:
    """Remove the user's own unreadable database and its companions (a leftover journal
    would otherwise be played into the new one)."""
    for name in (DATABASE, *(DATABASE + suffix for suffix in _COMPANIONS)):
        found = _lstat_at(directory_fd, name)
        if found is None:
            continue
        _check_private_file(found, name)
        try:
            os.unlink(name, dir_fd=directory_fd)
        except OSError as exc:
            raise _Refused(f"its database cannot be replaced ({exc.strerror or exc})") from None


def _state_text(state: FileState) -> str:
    return ":".join(str(part) for part in state)


def image_identity(image: Image) -> list[str]:
    """What a scan's result depends on besides the settings: the config (history, ENV,
    labels) and each layer's identity."""
    return [
        json.dumps(image.config, sort_keys=True, ensure_ascii=False),
        *(
            f"{layer.index}|{layer.diff_id}|{layer.digest}|{layer.size}|{layer.media_type}"
            for layer in image.layers
        ),
    ]
