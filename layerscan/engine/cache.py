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

from .result_store import StoredResult, dump_result, load_result

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


class LayerCache:
    """Outcomes by (diff_id, settings fingerprint), in one SQLite file."""

    def __init__(self, directory: Path, settings: str, max_entries: int = DEFAULT_MAX_ENTRIES):
        self._settings = settings
        self._max_entries = max_entries
        self._path = directory / "layers.sqlite"
        self._connection: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._connection = self._open()
        except (OSError, sqlite3.Error) as exc:
            logger.warning("layer cache %s unusable (%s); scanning without it", self._path, exc)
            self._connection = self._rebuild()

    def _open(self) -> sqlite3.Connection:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS layers (key TEXT PRIMARY KEY, schema INTEGER NOT NULL,"
            " blob_digest TEXT NOT NULL, used REAL NOT NULL, outcome BLOB NOT NULL)"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS known_blobs (path TEXT NOT NULL, offset INTEGER NOT NULL,"
            " size INTEGER NOT NULL, state TEXT NOT NULL, digest TEXT NOT NULL,"
            " used REAL NOT NULL, PRIMARY KEY (path, offset, size))"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, schema INTEGER NOT NULL,"
            " used REAL NOT NULL, result BLOB NOT NULL)"
        )
        connection.execute("SELECT count(*) FROM layers").fetchone()
        connection.execute("SELECT count(*) FROM known_blobs").fetchone()
        connection.execute("SELECT count(*) FROM images").fetchone()
        return connection

    def _rebuild(self) -> sqlite3.Connection | None:
        """A corrupt or foreign database file is replaced, once; else no cache."""
        with contextlib.suppress(OSError):
            if self._path.is_file() and not self._path.is_symlink():
                self._path.unlink()
        try:
            return self._open()
        except (OSError, sqlite3.Error):
            return None

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

    def _verified_row(self, layer: Layer, columns: str) -> tuple[str, Any] | None:
        """(key, row) of the layer's entry, if its blob is the one that was scanned."""
        if self._connection is None or not self.usable(layer):
            return None
        key = self._key(str(layer.diff_id))
        row = self._fetch(f"SELECT schema, blob_digest{columns} FROM layers WHERE key = ?", key)
        if row is None:
            return None
        if layer.digest and layer.digest.startswith("sha256:") and layer.digest != row[1]:
            return None  # the manifest names other bytes: the scan must say so, not the cache
        try:
            if self._current_digest(layer) != row[1]:
                return None  # same diff_id, other bytes: scan it (and the walk will say why)
        except (OSError, ValueError) as exc:
            logger.info("layer %d blob not hashable for the cache (%s)", layer.index, exc)
            return None
        return key, row

    def _fetch(self, query: str, key: str) -> Any:
        """The row of `key` if it is in this schema (a failed read is logged, and a miss)."""
        assert self._connection is not None
        try:
            row = self._connection.execute(query, (key,)).fetchone()
        except sqlite3.Error as exc:
            logger.warning("layer cache read failed (%s); scanning without it", exc)
            return None
        return row if row is not None and row[0] == SCHEMA else None

    def holds(self, layer: Layer) -> bool:
        """The layer has an entry and its blob is the one that was scanned (see get)."""
        return self._verified_row(layer, "") is not None

    def _lookup(self, layer: Layer, rules: Mapping[str, RuleMeta]) -> LayerOutcome | None:
        found = self._verified_row(layer, ", outcome")
        if found is None:
            return None
        key, row = found
        # Deferred: layer_scan loads the detectors, which a rescan served whole by an image
        # entry never needs.
        from .layer_scan import load_outcome

        try:
            outcome = load_outcome(zlib.decompress(row[2]), layer.index, rules)
        except (ValueError, zlib.error, TypeError) as exc:
            # The reason only by its type: a corrupt entry's text may quote a cached secret.
            logger.warning(
                "layer cache entry for layer %d is corrupt (%s); scanning the layer",
                layer.index,
                type(exc).__name__,
            )
            return None
        if outcome.check is None or outcome.check.digest_actual != row[1]:
            return None
        self._touch(key)
        return outcome

    def _current_digest(self, layer: Layer) -> str:
        """The blob's digest now: remembered while its file is unchanged, else hashed."""
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
        return str(row[1])

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

        data = zlib.compress(dump_outcome(outcome), 6)
        key = self._key(str(layer.diff_id))
        row = (key, SCHEMA, outcome.check.digest_actual, time.time(), data)
        self._store("layers", row, self._max_entries)

    def image_result(self, key: str) -> StoredResult | None:
        """A whole image's stored result (see result_store); the caller checks its layers."""
        if self._connection is None:
            return None
        row = self._fetch("SELECT schema, result FROM images WHERE key = ?", key)
        if row is None:
            return None
        try:
            result = load_result(zlib.decompress(row[1]))
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            logger.warning("an image entry of the cache is corrupt (%s)", type(exc).__name__)
            return None
        with contextlib.suppress(sqlite3.Error):
            self._connection.execute("UPDATE images SET used = ? WHERE key = ?", (time.time(), key))
        return result

    def put_image_result(self, key: str, result: StoredResult) -> None:
        if self._connection is None:
            return
        data = zlib.compress(dump_result(result), 6)
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
            logger.warning("layer cache write failed (%s)", exc)

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
