"""Issue 19, class 2. Memory and recursion in the outer container (tar headers, OCI indexes and
manifests), and a repeated layer read once.

The image's own container (the `docker save` tar, an OCI index and manifest) is read under
the same kind of bounds as layers: extension headers bounded in size and number, member names
bounded, members counted, index fan-out counted, and a layer the manifest lists again is read
once. Each case would once have ended in RecursionError or MemoryError (a traceback).
"""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path

from tests.hostile import builders as b
from tests.hostile.builders import TarEntry
from tests.hostile.corpus import (
    Case,
    Check,
    all_of,
    finding,
    findings_count,
    oci_archive,
    save,
    save_entries,
    secret_layer,
)

ROUND = 2
FINDINGS = frozenset({1})
UNREADABLE = frozenset({2})
LONG_NAME_CHAIN = 50_000
"""GNU long-name headers in a row: tarfile recursed once per header (RecursionError)."""
LONG_LINKS = 2_000
LONG_LINK_BYTES = 600_000
"""Symlinks whose targets are 600 KB each: 1.2 GB of names held by tarfile (MemoryError
under the oracle's 2 GiB), gzip-compressed to a few MB."""
FAN_OUT = 6_000
REPEATS = 1_500


def _raw_record(kind: bytes, data: bytes, name: str = "././@LongLink") -> bytes:
    """One extension header (GNU long name 'L', long link 'K') with its data, as raw bytes."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data)
    header = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
    return header + data + bytes(-len(data) % tarfile.BLOCKSIZE)


def _pax_member(path: str, linkpath: str = "", kind: bytes = tarfile.SYMTYPE) -> bytes:
    """A member whose name or link target is carried by a pax record (any length)."""
    info = tarfile.TarInfo("short")
    info.type = kind
    info.pax_headers = {"path": path, **({"linkpath": linkpath} if linkpath else {})}
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _image_members(label: str) -> list[TarEntry]:
    return b.docker_save([secret_layer(label)])


def build_long_name_chain_after_the_image(work: Path) -> str:
    """A valid image, then 50,000 GNU long-name headers in a row: the image is read, the chain
    is stopped at the reader's bound and said to be unreadable."""
    chain = _raw_record(b"L", b"x" * 100 + b"\0") * LONG_NAME_CHAIN
    path = Path(save_entries(work, _image_members("chain-after")))
    data = path.read_bytes()
    path.write_bytes(data[: -2 * tarfile.BLOCKSIZE] + chain + bytes(2 * tarfile.BLOCKSIZE))
    return str(path)


def build_long_name_chain_first(work: Path) -> str:
    """The chain before anything else: nothing of the archive can be read (exit 2)."""
    chain = _raw_record(b"L", b"y" * 200 + b"\0") * LONG_NAME_CHAIN
    folder = work / "image"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.tar"
    path.write_bytes(chain + b.tar_bytes(_image_members("chain-first")))
    return str(path)


def build_gzip_long_links(work: Path) -> str:
    """A gzip-compressed save whose tail is thousands of symlinks with 600 KB targets (pax
    linkpath records): spooled with names bounded, the image itself is read."""
    image = b.tar_bytes(_image_members("long-links"), end=False)
    junk = b"".join(
        _pax_member(f"junk/{number}", "t" * LONG_LINK_BYTES) for number in range(LONG_LINKS)
    )
    folder = work / "image"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.tar.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(image + junk + bytes(2 * tarfile.BLOCKSIZE))
    return str(path)


def build_long_pax_names(work: Path) -> str:
    """Thousands of members whose pax paths are 900 KB each, before the image's own members
    (in an uncompressed tar, indexed in place)."""
    junk = b"".join(
        _pax_member("p" * 900_000 + str(number), kind=tarfile.DIRTYPE) for number in range(1_200)
    )
    folder = work / "image"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.tar"
    path.write_bytes(junk + b.tar_bytes(_image_members("long-pax")))
    return str(path)


def _fan_out_files(nested: bool) -> dict[str, bytes]:
    """An OCI layout whose index lists thousands of manifests (or indexes of them)."""
    files = b.oci_layout([secret_layer("fan-out")])
    index = json.loads(files["index.json"])
    real = index["manifests"][0]
    if not nested:
        index["manifests"] = [real] * FAN_OUT
    else:
        inner = json.dumps({"schemaVersion": 2, "manifests": [real] * 80}).encode()
        files[f"blobs/sha256/{b.sha256_hex(inner)}"] = inner
        pointer = {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": b.digest(inner),
            "size": len(inner),
        }
        index["manifests"] = [pointer] * 80
    files["index.json"] = json.dumps(index).encode()
    return files


def build_index_fan_out(work: Path) -> str:
    return oci_archive(work, _fan_out_files(nested=False))


def build_nested_index_fan_out(work: Path) -> str:
    return oci_archive(work, _fan_out_files(nested=True))


def build_one_layer_listed_many_times(work: Path) -> str:
    """The manifest lists the same layer 1,500 times (and the config its diff_id as often)."""
    layer = secret_layer("repeated", "srv/app/repeated.env")
    name = b.default_layer_name(0)
    return save(
        work,
        [layer],
        manifest_layers=[name] * REPEATS,
        diff_ids=[layer.diff_id] * REPEATS,
    )


def build_oci_layer_listed_many_times(work: Path) -> str:
    """The same in an OCI layout: one blob, listed 1,500 times by digest."""
    layer = secret_layer("repeated-oci", "srv/app/repeated.env")
    config = b.image_config([layer.diff_id] * REPEATS)
    files = b.oci_layout([layer], config_bytes=config)
    manifest_name = next(name for name, data in files.items() if _is_manifest(data))
    manifest = json.loads(files.pop(manifest_name))
    manifest["layers"] = manifest["layers"] * REPEATS
    manifest_bytes = json.dumps(manifest).encode()
    files[f"blobs/sha256/{b.sha256_hex(manifest_bytes)}"] = manifest_bytes
    index = json.loads(files["index.json"])
    index["manifests"][0]["digest"] = b.digest(manifest_bytes)
    index["manifests"][0]["size"] = len(manifest_bytes)
    files["index.json"] = json.dumps(index).encode()
    return oci_archive(work, files)


def _is_manifest(data: bytes) -> bool:
    try:
        document = json.loads(data)
    except ValueError:
        return False
    return isinstance(document, dict) and "layers" in document and "config" in document


def _repeated_everywhere(label: str) -> Check:
    """The file is written by every one of the 1,500 layers: the last version is present."""
    return all_of(
        finding(label, "/srv/app/repeated.env", layer=REPEATS - 1, status="present"),
        finding(label, "/srv/app/repeated.env", layer=0, status="overwritten", removed_by=1),
        findings_count(label, REPEATS),
    )


CASES: tuple[Case, ...] = (
    Case(
        "outer-long-name-chain-after-image",
        2,
        "a docker save followed by 50,000 GNU long-name headers in a row",
        build_long_name_chain_after_the_image,
        FINDINGS,
        finding("chain-after", "/chain-after.env", 0),
        issue_round=ROUND,
    ),
    Case(
        "outer-long-name-chain-first",
        2,
        "50,000 GNU long-name headers before the docker save's members",
        build_long_name_chain_first,
        UNREADABLE,
        lambda observed: None,
        readable=False,
        issue_round=ROUND,
    ),
    Case(
        "outer-gzip-long-links",
        2,
        "gzip save + 2,000 symlinks with 600 KB pax linkpaths (1.2 GB of names)",
        build_gzip_long_links,
        FINDINGS,
        finding("long-links", "/long-links.env", 0),
        issue_round=ROUND,
    ),
    Case(
        "outer-long-pax-names",
        2,
        "1,200 members with 900 KB pax paths before the save's own members",
        build_long_pax_names,
        FINDINGS,
        finding("long-pax", "/long-pax.env", 0),
        issue_round=ROUND,
    ),
    Case(
        "oci-index-fan-out",
        2,
        "an OCI index listing 6,000 manifests",
        build_index_fan_out,
        UNREADABLE,
        lambda observed: None,
        readable=False,
        issue_round=ROUND,
    ),
    Case(
        "oci-nested-index-fan-out",
        2,
        "an OCI index of 80 indexes of 80 manifests each",
        build_nested_index_fan_out,
        UNREADABLE,
        lambda observed: None,
        readable=False,
        issue_round=ROUND,
    ),
    Case(
        "one-layer-listed-1500-times",
        2,
        "manifest.json lists one layer 1,500 times",
        build_one_layer_listed_many_times,
        FINDINGS,
        _repeated_everywhere("repeated"),
        issue_round=ROUND,
    ),
    Case(
        "oci-layer-listed-1500-times",
        2,
        "an OCI manifest lists one blob 1,500 times",
        build_oci_layer_listed_many_times,
        FINDINGS,
        _repeated_everywhere("repeated-oci"),
        issue_round=ROUND,
    ),
)
