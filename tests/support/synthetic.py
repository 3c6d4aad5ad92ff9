"""Images assembled in memory from hand-written layer tars.

Used where a real build cannot show a case: opaque whiteouts (only overlay2 diffs write
them; the vfs engine here writes plain whiteouts), duplicate names in one layer, hostile
paths. Everything else is tested on images the real engine built.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass

from layerscan.image.model import Image, LayerBlob, assemble_image


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    link: str = ""
    mode: int = 0o644


def file(name: str, data: bytes | str = b"", mode: int = 0o644) -> Member:
    return Member(name, data.encode() if isinstance(data, str) else data, mode=mode)


def directory(name: str) -> Member:
    return Member(name, kind=tarfile.DIRTYPE, mode=0o755)


def symlink(name: str, target: str) -> Member:
    return Member(name, kind=tarfile.SYMTYPE, link=target)


def hardlink(name: str, target: str) -> Member:
    return Member(name, kind=tarfile.LNKTYPE, link=target)


def whiteout(path: str) -> Member:
    parent, _, base = path.rpartition("/")
    return file(f"{parent}/.wh.{base}" if parent else f".wh.{base}")


def opaque(directory_path: str) -> Member:
    return file(f"{directory_path}/.wh..wh..opq")


def layer_tar(members: Sequence[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type, info.mode, info.linkname, info.mtime = (
                member.kind,
                member.mode,
                member.link,
                1,
            )
            info.size = len(member.data) if member.kind == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(member.data) if info.size else None)
    return buffer.getvalue()


def image(
    layers: Sequence[Sequence[Member] | bytes],
    instructions: Sequence[str] | None = None,
    config_extra: dict[str, object] | None = None,
    compress: bool = False,
) -> Image:
    """An Image whose layers are the given member lists (or raw blob bytes)."""
    tars = [raw if isinstance(raw, bytes) else layer_tar(raw) for raw in layers]
    blobs_bytes = [gzip.compress(blob) for blob in tars] if compress else tars
    instructions = instructions or [f"/bin/sh -c step {i}" for i in range(len(layers))]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars],
        },
        "history": [{"created_by": text} for text in instructions],
        "config": {},
        **(config_extra or {}),
    }
    blobs = [LayerBlob(opener=lambda data=data: io.BytesIO(data)) for data in blobs_bytes]  # type: ignore[misc]
    return assemble_image(
        config_bytes=json.dumps(config).encode(),
        blobs=blobs,
        source="docker-archive",
        target="synthetic",
        reference="synthetic:test",
        digest=None,
    )
