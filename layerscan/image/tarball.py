"""Write an image as a `docker save` tarball that `docker load` accepts, verified as it goes.

Two ways in. A stream that already is such a tarball (the engine's `docker save`) is copied
byte for byte while every member is hashed, so what is kept as evidence is exactly what the
engine gave. Any other image is written from the model in the layout Docker 25 saves (an OCI
layout with a manifest.json beside it): each layer uncompressed and named by its diff_id,
the config as the image holds it. Either way each layer's tar is hashed and compared with the
diff_id its config names; a mismatch stops the export (IntegrityError, exit 3).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import BinaryIO, cast

from ..errors import ContentError, LayerscanError, TargetError
from ..streams.compression import LayerLimits, LayerMeter, open_metered
from ..streams.tarstream import TarFormatError, TarStream
from .blobstore import MAX_MEMBERS, TarStore, normalise_member_name
from .model import Image

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
_CHUNK = 1 << 20
_BLOCK = 512
_TAG = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
)
"""A `name:tag` reference docker load can tag (a bare name or a digest reference is not)."""

Progress = Callable[[int], None]
"""Told the number of bytes written so far."""


class IntegrityError(ContentError):
    """A layer's bytes do not hash to the diff_id the config names (exit code 3)."""


@dataclass(frozen=True)
class WrittenLayer:
    index: int
    diff_id: str
    size: int
    """Bytes of its uncompressed tar."""


@dataclass(frozen=True)
class Written:
    """What the tarball holds, for the evidence record beside it."""

    manifest_digest: str | None
    """Of the OCI manifest in the tarball (None when the engine wrote a legacy layout)."""
    config_digest: str
    layers: tuple[WrittenLayer, ...]
    repo_tags: tuple[str, ...]


def is_tag_reference(reference: str | None) -> bool:
    """True for a reference docker load can tag the image with."""
    return reference is not None and len(reference) <= 255 and _TAG.match(reference) is not None


# --- from the model --------------------------------------------------------------------------


def write_image(
    image: Image,
    out: BinaryIO,
    limits: LayerLimits,
    tags: tuple[str, ...] = (),
    progress: Progress | None = None,
    max_image_bytes: int | None = None,
) -> Written:
    """Write `image` to `out` (a new, seekable file) as a docker-save tarball.

    Each distinct layer is streamed once through its decompressor into the tarball; its tar
    header is written first with a size of 0 and rewritten once the size is known, so no layer
    is ever held in memory or spooled twice.
    """
    _check_diff_id_count(image)
    missing = [layer.index for layer in image.layers if layer.diff_id is None]
    if missing:
        raise IntegrityError(
            f"the config names no valid diff_id for layer {missing[0]}: a tarball of it could "
            "not be verified, and docker load would refuse it"
        )
    if not image.config_bytes:
        raise TargetError("the image's config bytes are not available to write")
    writer = _TarWriter(out, progress)
    writer.directory("blobs/")
    writer.directory("blobs/sha256/")
    sizes: dict[str, int] = {}
    for layer in image.layers:
        assert layer.diff_id is not None
        if layer.diff_id in sizes:
            continue  # one blob for a layer listed twice, as docker save writes it
        budget = limits
        if max_image_bytes is not None:  # the image's budget bounds each layer, as in a scan
            left = max(max_image_bytes - sum(sizes.values()), 0)
            budget = replace(limits, max_bytes=min(limits.max_bytes, left))
        sizes[layer.diff_id] = _write_layer(writer, image, layer.index, budget)
    config_digest = "sha256:" + hashlib.sha256(image.config_bytes).hexdigest()
    writer.file(_blob(config_digest), image.config_bytes)
    layers = tuple(
        WrittenLayer(layer.index, layer.diff_id or "", sizes[layer.diff_id or ""])
        for layer in image.layers
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": config_digest,
                "size": len(image.config_bytes),
            },
            "layers": [
                {"mediaType": LAYER_MEDIA_TYPE, "digest": layer.diff_id, "size": layer.size}
                for layer in layers
            ],
        }
    )
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    writer.file(_blob(manifest_digest), manifest)
    descriptor: dict[str, object] = {
        "mediaType": MANIFEST_MEDIA_TYPE,
        "digest": manifest_digest,
        "size": len(manifest),
    }
    if tags:
        descriptor["annotations"] = {
            "io.containerd.image.name": tags[0],
            "org.opencontainers.image.ref.name": tags[0].rsplit(":", 1)[1],
        }
    writer.file(
        "index.json",
        _json({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [descriptor]}),
    )
    writer.file(
        "manifest.json",
        _json(
            [
                {
                    "Config": _blob(config_digest),
                    "RepoTags": list(tags) or None,
                    "Layers": [_blob(layer.diff_id) for layer in layers],
                }
            ]
        ),
    )
    writer.file("oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
    writer.close()
    return Written(manifest_digest, config_digest, layers, tags)


def _check_diff_id_count(image: Image) -> None:
    """docker load pairs the config's diff_ids with the manifest's layers one to one."""
    rootfs = image.config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    count = len(diff_ids) if isinstance(diff_ids, list) else 0
    if count != len(image.layers):
        raise IntegrityError(
            f"the config lists {count} diff_ids for {len(image.layers)} layers: the image "
            "cannot be verified, and docker load would refuse it"
        )


def _write_layer(writer: _TarWriter, image: Image, index: int, limits: LayerLimits) -> int:
    """Stream one layer's tar into the tarball and check it against its diff_id."""
    layer = image.layers[index]
    assert layer.diff_id is not None
    start = writer.begin(_blob(layer.diff_id))
    meter = LayerMeter(limits)
    stream = _open_layer(image, index, meter)
    try:
        while chunk := _read_layer(stream, index):
            writer.data(chunk)  # a failure here is the destination's (atomic_file says so)
    finally:
        stream.close()
    size = meter.uncompressed_bytes
    writer.end(start, _blob(layer.diff_id), size)
    if meter.uncompressed_digest != layer.diff_id:
        raise IntegrityError(
            f"layer {index} does not match its diff_id: its tar hashes to "
            f"{meter.uncompressed_digest}, the config says {layer.diff_id}; export stopped"
        )
    return size


def _open_layer(image: Image, index: int, meter: LayerMeter) -> BinaryIO:
    try:
        stream, _ = open_metered(image.layers[index].opener(), meter)
    except LayerscanError:
        raise
    except Exception as exc:  # a missing blob, a damaged compressed stream
        raise ContentError(f"layer {index} cannot be read: {exc}") from exc
    return stream


def _read_layer(stream: BinaryIO, index: int) -> bytes:
    """The next chunk of a layer; a layer that breaks (or trips a limit) is ContentError."""
    try:
        return stream.read(_CHUNK)
    except LayerscanError:
        raise
    except Exception as exc:  # zlib's, ISA-L's, zstd's and lzma's errors; a truncated file
        raise ContentError(f"layer {index} cannot be read to its end: {exc}") from exc


def _blob(digest: str) -> str:
    algorithm, hexdigest = digest.split(":", 1)
    return f"blobs/{algorithm}/{hexdigest}"


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class _TarWriter:
    """The few tar members an image tarball needs, each header 512 bytes (GNU format: a size
    past 8 GiB is written base-256 in place), so a header can be rewritten once its size is
    known."""

    def __init__(self, out: BinaryIO, progress: Progress | None) -> None:
        self._out = out
        self._progress = progress
        self.written = 0

    def _header(self, name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
        info = tarfile.TarInfo(name)
        info.size = size
        info.type = kind
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        header = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "strict")
        assert len(header) == _BLOCK, name  # names are short blob paths
        return header

    def _put(self, data: bytes) -> None:
        self._out.write(data)
        self.written += len(data)
        if self._progress is not None:
            self._progress(self.written)

    def directory(self, name: str) -> None:
        self._put(self._header(name, 0, tarfile.DIRTYPE))

    def file(self, name: str, data: bytes) -> None:
        self._put(self._header(name, len(data)))
        self._put(data)
        self._put(b"\0" * (-len(data) % _BLOCK))

    def begin(self, name: str) -> int:
        start = self._out.tell()
        self._put(self._header(name, 0))
        return start

    def data(self, chunk: bytes) -> None:
        self._put(chunk)

    def end(self, start: int, name: str, size: int) -> None:
        self._put(b"\0" * (-size % _BLOCK))
        end = self._out.tell()
        self._out.seek(start)
        self._out.write(self._header(name, size))
        self._out.seek(end)

    def close(self) -> None:
        self._put(b"\0" * (2 * _BLOCK))


# --- copied from a stream that already is one ------------------------------------------------


class _Tee(io.RawIOBase):
    """Reads from a stream and writes every byte read to `out`, hashing the whole."""

    def __init__(self, source: BinaryIO, out: BinaryIO, progress: Progress | None) -> None:
        self._source = source
        self._out = out
        self._progress = progress
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        try:
            n = cast(io.RawIOBase, self._source).readinto(view) or 0
        except Exception as exc:  # the engine's connection broke (requests', urllib3's errors)
            raise ContentError(f"the stream broke after {self.size} bytes: {exc}") from exc
        if not n:
            return 0
        data = view[:n]  # written and hashed in place: no copy of the stream is made
        self._out.write(data)
        self.sha256.update(data)
        self.size += n
        if self._progress is not None:
            self._progress(self.size)
        return n


@dataclass(frozen=True)
class Copied:
    """A copied tarball: its own hash and size, and the sha256 of each regular member."""

    sha256: str
    size: int
    members: dict[str, str]


def copy_saved(source: BinaryIO, out: BinaryIO, progress: Progress | None = None) -> Copied:
    """Copy a docker-save stream to `out` unchanged, hashing every regular member on the way
    (read with the bounded tar reader: a hostile stream cannot make it recurse or hoard)."""
    tee = _Tee(source, out, progress)
    reader = io.BufferedReader(tee, _CHUNK)
    members: dict[str, str] = {}
    try:
        archive = TarStream(reader)
        for count, member in enumerate(archive):
            if count >= MAX_MEMBERS:
                raise ContentError(f"the stream holds more than {MAX_MEMBERS} members")
            name = normalise_member_name(member.name)
            if member.isreg() and not member.sparse and name is not None:
                digest = hashlib.sha256()
                for chunk in archive.chunks(_CHUNK):
                    digest.update(chunk)
                members[name] = "sha256:" + digest.hexdigest()
        while reader.read(_CHUNK):
            continue  # the end-of-archive blocks and padding are copied too
    except TarFormatError as exc:
        raise ContentError(f"the engine's stream is not a readable tar: {exc}") from exc
    return Copied("sha256:" + tee.sha256.hexdigest(), tee.size, members)


def verify_copied(
    path: str, copied: Copied, load: Callable[[TarStore], Image], limits: LayerLimits
) -> tuple[Image, Written]:
    """Open the copied tarball as an image and check every layer against its diff_id: from
    the hash taken while copying, or (a compressed or linked member) by reading it again."""
    store = TarStore(path)
    try:
        image = load(store)
        _check_diff_id_count(image)
        checked: dict[str, int] = {}
        layers = []
        for layer in image.layers:
            if layer.diff_id is None:
                raise IntegrityError(
                    f"the config names no valid diff_id for layer {layer.index}; the tarball "
                    "cannot be verified"
                )
            if layer.diff_id not in checked:
                checked[layer.diff_id] = _check_layer(layer.index, image, copied, limits)
            layers.append(WrittenLayer(layer.index, layer.diff_id, checked[layer.diff_id]))
    finally:
        store.close()
    tags = (image.reference,) if image.reference and is_tag_reference(image.reference) else ()
    written = Written(image.digest, image.config_digest or "", tuple(layers), tags)
    return image, written


def _check_layer(index: int, image: Image, copied: Copied, limits: LayerLimits) -> int:
    layer = image.layers[index]
    seen = copied.members.get(layer.blob_key or "")
    if seen is not None and seen == layer.diff_id and layer.size is not None:
        return layer.size
    meter = LayerMeter(limits)
    stream = _open_layer(image, index, meter)
    try:
        while _read_layer(stream, index):
            continue
    finally:
        stream.close()
    if meter.uncompressed_digest != layer.diff_id:
        raise IntegrityError(
            f"layer {index} does not match its diff_id: its tar hashes to "
            f"{meter.uncompressed_digest}, the config says {layer.diff_id}; export stopped"
        )
    return meter.uncompressed_bytes
