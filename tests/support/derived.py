"""Images derived from a saved one without a build: a second tag that shares all but one
layer, the way a release adds a layer on an unchanged base (registry tests, bench/)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path


def with_one_more_layer(
    saved: Path,
    destination: Path,
    files: dict[str, bytes] | None = None,
    *,
    first: bool = False,
    tag: str = "layerscan-fixture:second",
) -> Path:
    """The demo plus one layer of its own (last, or `first`): by default a second tag sharing
    all but one layer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as layer:
        for name, data in (files or {"srv/second.txt": b"second tag\n"}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            layer.addfile(info, io.BytesIO(data))
    new_layer = buffer.getvalue()
    with tarfile.open(saved) as source:
        [entry] = json.load(source.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(source.extractfile(entry["Config"]))  # type: ignore[arg-type]
        members = {
            info.name: source.extractfile(info).read()  # type: ignore[union-attr]
            for info in source.getmembers()
            if info.isreg()
        }
    diff_id = "sha256:" + hashlib.sha256(new_layer).hexdigest()
    step = {"created_by": "/bin/sh -c echo second > /srv/second.txt"}
    if first:
        config["rootfs"]["diff_ids"].insert(0, diff_id)
        config["history"].insert(0, step)
        layers = ["second/layer.tar", *entry["Layers"]]
    else:
        config["rootfs"]["diff_ids"].append(diff_id)
        config["history"].append(step)
        layers = [*entry["Layers"], "second/layer.tar"]
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    members.pop(entry["Config"])
    members[config_name] = config_bytes
    members["second/layer.tar"] = new_layer
    members["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": [tag], "Layers": layers}]
    ).encode()
    with tarfile.open(destination, "w") as target:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    return destination
