"""Worker processes change how fast a scan is, never what it finds; a worker that dies costs
only the files it held, and the report says which."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from layerscan.engine import workers
from layerscan.engine.document import build_document
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import scan
from layerscan.image.open import open_image
from layerscan.layers.entries import EntryKind
from layerscan.layers.reader import WalkLimits, iter_layer
from layerscan.model.walk_log import WalkLog
from tests.hostile.corpus import CASES
from tests.support.paths import BUNDLED_DEMO


def _report(target: str, workers: int) -> dict[str, Any]:
    document = build_document(scan(target, ScanOptions(workers=workers)))
    document["summary"].pop("seconds")
    return document


def test_workers_give_the_same_report_as_one_process() -> None:
    assert _report(str(BUNDLED_DEMO), 2) == _report(str(BUNDLED_DEMO), -1)


@pytest.mark.parametrize(
    "name", ["hostile-names", "hardlink-chain", "hardlink-cross-layer", "nested-archives-too-deep"]
)
def test_hostile_images_give_the_same_report_with_workers(name: str, tmp_path: Path) -> None:
    [case] = [case for case in CASES if case.name == name]
    target = case.build(tmp_path)
    assert _report(target, 2) == _report(target, -1)


def _dies_on_notify(batch: list[workers.FileJob]) -> list[workers.JobResult]:
    """A worker that crashes (as native code can) on one file."""
    if any(path.endswith("/notify.env") for _, path, _, _ in batch):
        os._exit(70)
    return _ORIGINAL(batch)


_ORIGINAL = workers._scan_batch


def test_a_dead_worker_costs_only_its_files(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault no real input can be made to show on demand: the worker is forked after this
    # patch, so it runs the crashing version.
    monkeypatch.setattr(workers, "_scan_batch", _dies_on_notify)
    monkeypatch.setattr(workers, "BATCH_FILES", 1)
    monkeypatch.setattr("layerscan.engine.layer_scan.BATCH_FILES", 1)
    document = build_document(scan(str(BUNDLED_DEMO), ScanOptions(workers=2)))
    lost = {error["path"] for error in document["errors"]}
    assert "/srv/app/notify.env" in lost
    assert all("not scanned: a scanning process died" in e["message"] for e in document["errors"])
    assert document["summary"]["complete"] is False
    found = {finding["path"] for finding in document["findings"]}
    assert "/srv/app/notify.env" not in found
    assert "/root/.ssh/id_rsa" in found or "/root/.ssh/id_rsa" in lost
    assert any(f["source"] == "config" for f in document["findings"])


def test_a_large_zip_split_between_workers_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel or a jar over SHARD_FROM is read by every worker, each taking its share of
    the members; the findings are the same as one process reading it whole. The zip is
    parked in a private directory for the workers, which is gone after the scan."""
    import io
    import random
    import tempfile
    import zipfile

    from layerscan.engine.layer_scan import SHARD_FROM
    from layerscan.engine.scan import build_engine, scan_image
    from tests.hostile.builders import secret_file
    from tests.support.synthetic import file, image

    filler = random.Random(7).randbytes(SHARD_FROM)  # incompressible: the zip stays large
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("pkg/blob.bin", filler)
        for number in range(6):
            archive.writestr(f"pkg/conf{number}.env", secret_file(f"zip-member-{number}"))
    wheel = image([[file("wheels/pkg-1.0-py3-none-any.whl", buffer.getvalue())]])

    def report(workers: int) -> dict[str, Any]:
        options = ScanOptions(workers=workers)
        engine = build_engine(options)
        with engine.session():
            document = build_document(scan_image(wheel, engine, options))
        document["summary"].pop("seconds")
        return document

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    split = report(2)
    assert list(tmp_path.iterdir()) == []  # the parked copy and its directory are removed
    assert split == report(-1)
    members = {f["nested_path"] for f in split["findings"]}
    assert {f"pkg/conf{number}.env" for number in range(6)} <= members


def test_bytes_read_in_place_are_the_bytes_the_walk_streams() -> None:
    """Workers read a file of an uncompressed layer where it sits in the image's file: the
    range each entry names must hold exactly the bytes the tar stream gives."""
    checked = 0
    with open_image(str(BUNDLED_DEMO)) as image:
        for layer in image.layers:
            for entry in iter_layer(layer, WalkLog(), WalkLimits()):
                if entry.kind is not EntryKind.FILE:
                    continue
                assert entry.stored_at is not None
                streamed = entry.read(1 << 30)
                assert workers.read_in_place(entry.stored_at) == streamed
                checked += 1
    assert checked >= 10


def test_a_compressed_layer_is_never_read_in_place(tmp_path: Path) -> None:
    target = tmp_path / "demo-gzip.tar"
    with tarfile.open(BUNDLED_DEMO) as source, tarfile.open(target, "w") as copy:
        for info in source.getmembers():
            data = source.extractfile(info).read() if info.isreg() else None  # type: ignore[union-attr]
            if data is not None and info.name.endswith("layer.tar"):
                data = gzip.compress(data, mtime=0)
                info.size = len(data)
            copy.addfile(info, io.BytesIO(data) if data is not None else None)
    with open_image(str(target)) as image:
        entries = [e for layer in image.layers for e in iter_layer(layer, WalkLog(), WalkLimits())]
    assert any(e.kind is EntryKind.FILE for e in entries)
    assert all(e.stored_at is None for e in entries)


def test_an_image_file_changed_during_the_scan_is_reported(tmp_path: Path) -> None:
    """A scan whose workers read files in place must not report, or cache, what another
    writer's bytes gave: the change (any write moves the file's ctime) makes the layers
    read across it damaged."""
    target = tmp_path / "demo.tar"
    shutil.copyfile(BUNDLED_DEMO, target)
    touched = []

    def touch_once(layer: int, layers: int, files: int, size: int) -> None:
        if files and not touched:
            os.utime(target)  # as a write would, it moves the ctime
            touched.append(layer)

    result = scan(str(target), ScanOptions(workers=2), touch_once)
    document = build_document(result)
    changed = [
        e for e in document["errors"] if "changed while this layer was scanned" in e["message"]
    ]
    assert touched and changed and all(e["fatal"] for e in changed)
    assert document["summary"]["complete"] is False
