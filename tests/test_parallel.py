"""Worker processes change how fast a scan is, never what it finds; a worker that dies costs
only the files it held, and the report says which."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from layerscan import parallel
from layerscan.report.document import build_document
from layerscan.scan import ScanOptions, scan
from tests.hostile.corpus import CASES

from .conftest import BUNDLED_DEMO


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


def _dies_on_notify(batch: list[parallel.FileJob]) -> list[parallel.JobResult]:
    """A worker that crashes (as native code can) on one file."""
    if any(path.endswith("/notify.env") for _, path, _, _ in batch):
        os._exit(70)
    return _ORIGINAL(batch)


_ORIGINAL = parallel._scan_batch


def test_a_dead_worker_costs_only_its_files(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault no real input can be made to show on demand: the worker is forked after this
    # patch, so it runs the crashing version.
    monkeypatch.setattr(parallel, "_scan_batch", _dies_on_notify)
    monkeypatch.setattr(parallel, "BATCH_FILES", 1)
    monkeypatch.setattr("layerscan.layer_scan.BATCH_FILES", 1)
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

    from layerscan.layer_scan import SHARD_FROM
    from layerscan.scan import build_engine, scan_image

    from .hostile.builders import secret_file
    from .synthetic import file, image

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
