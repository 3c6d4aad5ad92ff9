"""Scan file contents in worker processes while the main process reads the layers.

Reading a layer (decompressing, parsing tar headers) is one sequential stream; detecting is
per file and independent. The main process streams each layer and hands batches of file
contents to forked workers (which inherit the compiled engine), keeping a bounded number of
bytes in flight. Results come back by entry position, so the outcome is the same as a
sequential scan's. A worker that dies (a crash, the memory limit) costs the files of its
batch, which are reported, and the pool is started again.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from ..content.limits import ContentLimits
from ..content.shard import Shard
from ..detect.engine import Engine
from ..image.model import BlobLocation
from .file_scan import FileMatch, scan_file

BATCH_BYTES = 1 << 20
BATCH_FILES = 256
logger = logging.getLogger(__name__)
MAX_IN_FLIGHT_BYTES = 8 << 20
"""Bounds the memory the queue of batches can hold, whatever the layer holds."""
MAX_PARKED_BYTES = 256 << 20
"""Bounds the disk the parked contents (see FilePool.park) can take at once."""
MAX_IN_PLACE_BYTES = 256 << 20
"""Bounds how far the reader runs ahead of the workers on contents they read in place."""


@dataclass(frozen=True)
class Parked:
    """File contents written to the pool's private directory for a worker (or, for a zip
    split between them, every worker) to read: one write by the reader instead of pickled
    copies held in its memory until the workers take them (see FilePool.park)."""

    path: str

    def read(self) -> bytes:
        with open(self.path, "rb") as handle:
            return handle.read()


def read_in_place(location: BlobLocation) -> bytes:
    """A file's bytes where they sit in the image's own file (see Entry.stored_at)."""
    fd = os.open(location.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.pread(fd, location.size, location.offset)
    finally:
        os.close(fd)
    if len(data) != location.size:
        raise OSError(f"{location.path} is shorter than when its layer was read")
    return data


FileJob = tuple[int, str, "bytes | Parked | BlobLocation", Shard | None]
"""(entry position, display path, content: the bytes, a parked copy or where they sit in the
image's file, the share of a zip's members to read)."""
JobResult = tuple[int, list[FileMatch], list[tuple[str, str | None]]]
"""(entry position, matches, skipped (reason, nested path)) for one file."""

_ENGINE: Engine | None = None
_LIMITS: ContentLimits | None = None


def worker_count(requested: int | None) -> int:
    """0 or None: one worker per core when there are several cores; else what was asked."""
    if requested:
        return max(requested, 0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores if cores and cores > 1 else 0


_SESSION: AbstractContextManager[Engine] | None = None


def _enter_session() -> None:
    """A worker lives for one scan: its session is entered once and kept (referenced, so
    that collecting the context manager does not end it)."""
    global _SESSION
    assert _ENGINE is not None
    # Compiled here, in each worker, rather than once before the fork: it costs a fifth of a
    # second that the reader, which starts on the first layer meanwhile, would otherwise wait.
    _ = _ENGINE.prefilter
    _SESSION = _ENGINE.session()
    _SESSION.__enter__()


def _scan_batch(batch: list[FileJob]) -> list[JobResult]:
    assert _ENGINE is not None and _LIMITS is not None
    results: list[JobResult] = []
    for position, path, data, shard in batch:
        if isinstance(data, Parked):
            content = data.read()
        elif isinstance(data, BlobLocation):
            content = read_in_place(data)
        else:
            content = data
        results.append((position, *scan_file(path, content, _ENGINE, _LIMITS, shard)))
    return results


@dataclass
class BatchFailure:
    paths: list[str]
    reason: str


Collector = Callable[[list[JobResult] | BatchFailure], None]


@dataclass
class FilePool:
    """Worker processes scanning file contents for one scan."""

    engine: Engine
    limits: ContentLimits
    workers: int
    _executors: dict[int, ProcessPoolExecutor] = field(default_factory=dict)
    """One single-process executor per worker, so that a file goes to the worker chosen for
    it (see shard_of) and meets the copies of itself that worker already scanned."""
    _pending: deque[tuple[Future[list[JobResult]], list[FileJob], int, Collector, int]] = field(
        default_factory=deque
    )
    _in_flight: int = 0
    _park_dir: tempfile.TemporaryDirectory[str] | None = None
    _readers_left: dict[str, int] = field(default_factory=dict)
    """Parked file -> jobs yet to report on it (it is removed when none is left)."""
    _parked_sizes: dict[str, int] = field(default_factory=dict)
    _parked_bytes: int = 0
    _in_place_bytes: int = 0

    def _executor(self, worker: int) -> ProcessPoolExecutor:
        global _ENGINE, _LIMITS
        if worker not in self._executors:
            _ENGINE, _LIMITS = self.engine, self.limits  # inherited by the forked workers
            # What exists now lives as long as the scan: kept out of the collector's sight,
            # a worker's collections do not write to (and so copy) every inherited page.
            gc.freeze()
            self._executors[worker] = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("fork"), initializer=_enter_session
            )
        return self._executors[worker]

    def share(
        self, position: int, path: str, data: bytes | BlobLocation, collector: Collector
    ) -> int:
        """Give one zip to every worker, each to read its share of the members (see
        units_of); returns how many batches that makes (the collector hears from each)."""
        content = data if isinstance(data, BlobLocation) else self.park(data, self.workers)
        for part in range(self.workers):
            self.submit([(position, path, content, (part, self.workers))], collector, part)
        return self.workers

    def park(self, data: bytes, readers: int = 1) -> bytes | Parked:
        """Large contents go to the pool's private directory, to be read by `readers` jobs,
        rather than through the workers' queues (which would hold pickled copies of them in
        this process); the bytes themselves if they cannot be written."""
        try:
            if self._park_dir is None:
                self._park_dir = tempfile.TemporaryDirectory(prefix="layerscan-parked-")
            fd, name = tempfile.mkstemp(dir=self._park_dir.name)  # 0600, in a 0700 dir
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError as exc:  # no room on disk: send the bytes themselves
            logger.info("cannot park file contents for the workers (%s); sending them", exc)
            return data
        self._readers_left[name] = readers
        self._parked_bytes += len(data)
        self._parked_sizes[name] = len(data)
        return Parked(name)

    def submit(self, batch: list[FileJob], collector: Collector, worker: int = 0) -> None:
        """Queue a batch for one worker; `collector` gets its results (or the failure) when
        collected. When too many bytes are in flight, the oldest batches are collected first."""
        while self._pending and (
            self._in_flight >= MAX_IN_FLIGHT_BYTES
            or self._parked_bytes >= MAX_PARKED_BYTES
            or self._in_place_bytes >= MAX_IN_PLACE_BYTES
        ):
            self._collect_finished()
        size = sum(_held(data) for _, _, data, _ in batch)
        in_place = sum(d.size for _, _, d, _ in batch if isinstance(d, BlobLocation))
        future = self._executor(worker).submit(_scan_batch, batch)
        self._pending.append((future, batch, size, collector, worker))
        self._in_flight += size
        self._in_place_bytes += in_place

    def drain(self) -> None:
        """Collect every batch still out."""
        while self._pending:
            self._collect_finished()

    @property
    def busy(self) -> bool:
        """Some batch is still out."""
        return bool(self._pending)

    def poll(self) -> None:
        """Collect the batches already finished, without waiting."""
        finished = [item for item in self._pending if item[0].done()]
        for item in finished:
            self._pending.remove(item)
            self._collect(*item)

    def collect_some(self) -> bool:
        """Wait for at least one batch and collect it; False when none is out."""
        if not self._pending:
            return False
        self._collect_finished()
        return True

    def _collect_finished(self) -> None:
        """Wait for some batch to finish, then collect every finished one (in any order:
        results say which entry they belong to), so that one busy worker does not keep the
        reader from feeding the other."""
        wait([item[0] for item in self._pending], return_when=FIRST_COMPLETED)
        finished = [item for item in self._pending if item[0].done()]
        for item in finished:
            self._pending.remove(item)
            self._collect(*item)

    def _collect(
        self,
        future: Future[list[JobResult]],
        batch: list[FileJob],
        size: int,
        collector: Collector,
        worker: int,
    ) -> None:
        self._in_flight -= size
        for _, _, data, _ in batch:
            if isinstance(data, Parked):
                self._release(data.path)
            elif isinstance(data, BlobLocation):
                self._in_place_bytes -= data.size
        paths = sorted({path for _, path, _, _ in batch})
        try:
            results: list[JobResult] | BatchFailure = future.result()
        except BrokenProcessPool as exc:
            broken = self._executors.pop(worker, None)  # started again on the next submit
            if broken is not None:
                broken.shutdown(wait=True, cancel_futures=True)
            results = BatchFailure(paths, f"a scanning process died ({exc})")
        except Exception as exc:  # a detector's bug must not cost the other files
            results = BatchFailure(paths, f"scanning failed ({exc!r})")
        collector(results)

    def _release(self, name: str) -> None:
        self._readers_left[name] -= 1
        if self._readers_left[name] <= 0:
            del self._readers_left[name]
            self._parked_bytes -= self._parked_sizes.pop(name, 0)
            with contextlib.suppress(OSError):
                os.unlink(name)

    def close(self) -> None:
        """Stop the workers (batches still out are lost: drain() first)."""
        for executor in self._executors.values():
            executor.shutdown(wait=True, cancel_futures=True)
        self._executors.clear()
        self._readers_left.clear()
        self._parked_sizes.clear()
        self._parked_bytes = 0
        if self._park_dir is not None:
            self._park_dir.cleanup()
            self._park_dir = None


def _held(data: bytes | Parked | BlobLocation) -> int:
    """Bytes a job holds in the reader's memory until it is collected."""
    return len(data) if isinstance(data, bytes) else 0
