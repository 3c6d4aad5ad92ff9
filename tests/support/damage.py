"""Damaged copies of real images: a truncated layer, a corrupt gzip stream, a non-image tar."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path


def rewrite_layer(
    saved: Path, layer_index: int, change: Callable[[bytes], bytes], destination: Path
) -> Path:
    """A copy of a legacy `docker save` whose layer N's bytes are changed; the manifest and
    the config (and so the layer's diff_id) are kept as they were."""
    with tarfile.open(saved) as source:
        [entry] = json.load(source.extractfile("manifest.json"))  # type: ignore[arg-type]
        victim = entry["Layers"][layer_index]
        with tarfile.open(destination, "w") as target:
            for info in source.getmembers():
                data = source.extractfile(info).read() if info.isreg() else None  # type: ignore[union-attr]
                if info.name == victim and data is not None:
                    data = change(data)
                    info.size = len(data)
                target.addfile(info, io.BytesIO(data) if data is not None else None)
    return destination


def truncate_layer(saved: Path, layer_index: int, destination: Path) -> Path:
    """A copy of a legacy `docker save` whose layer N's tar stops half-way through."""
    return rewrite_layer(saved, layer_index, lambda data: data[: len(data) // 2], destination)


def corrupt_gzip_layer(oci_dir: Path, layer_index: int, destination: Path) -> Path:
    """A copy of an OCI layout whose layer N's gzip stream is garbled in the middle."""
    shutil.copytree(oci_dir, destination)
    index = json.loads((destination / "index.json").read_text())
    manifest_hex = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((destination / "blobs" / "sha256" / manifest_hex).read_text())
    blob = (
        destination / "blobs" / "sha256" / manifest["layers"][layer_index]["digest"].split(":")[1]
    )
    data = bytearray(blob.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    blob.write_bytes(bytes(data))
    return destination


def plain_tar(destination: Path) -> Path:
    """A tar archive that is not an image."""
    with tarfile.open(destination, "w") as archive:
        info = tarfile.TarInfo("notes.txt")
        payload = b"just a tarball\n"
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return destination
