"""The hostile corpus: each case builds one malicious image and states what layerscan must say.

A case names the issue's group it covers (1-13), builds its image under a work directory
(`build(work) -> target`), lists the exit codes `scan` may give, checks the JSON report and
table (`expect`), and lists the paths it planted, which are all run through `recover` with
the exit code each must give. Where the issue is specific the expectation follows it: a `..`
entry is rejected and reported with its layer and raw name; absolute and `./` names are read
as relative with a warning; invalid whiteouts are reported and not applied; device nodes are
never recoverable; a layer that loses content (truncated, corrupt, not a tar, missing) is a
fatal error naming it while the other layers are scanned, and bytes after its end are flagged
(an error or a warning naming the layer); tampered digests leave `verified: false` and the
actual digest in the report; every bomb stops at a limit that is reported, and `recover` of a
bomb is refused rather than written out.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from tests.hostile import builders as b
from tests.hostile.builders import (
    GIB,
    MIB,
    StoredLayer,
    TarEntry,
    directory,
    hardlink,
    plain_layer,
    regular,
    secret_file,
    symlink,
)

BOMB_BYTES = int(os.environ.get("HOSTILE_BOMB_BYTES", str(10 * GIB)))
MANY_ENTRIES = int(os.environ.get("HOSTILE_MANY_ENTRIES", "2000000"))
SPARSE_CLAIM = 16 * GIB
HUGE_MANIFEST = 1 * GIB


@dataclass(frozen=True)
class Observed:
    """What `scan -f json` and `scan` (table) gave for a case."""

    code: int | None
    report: dict[str, Any] | None
    table: str


Check = Callable[[Observed], None]


@dataclass(frozen=True)
class Plant:
    """A path the case wrote into a layer, and what `recover` must do with it."""

    path: str | bytes
    codes: frozenset[int] = frozenset({0})
    content: bytes | None = None
    layer: int | None = None


@dataclass(frozen=True)
class Run:
    """A command of its own that a case runs beside the default ones, in a fresh sandbox.

    `{out}` in an argument stands for the sandbox's out/ (the victim folder is out/../victim);
    `prepare` plants things there first; `verify(code, stdout, stderr, out)` raises an
    AssertionError with what it found wrong (the oracle's own rules apply as well). `json`
    says that stdout is a JSON report, checked against the schema and the exit code.
    """

    args: tuple[str | bytes, ...]
    codes: frozenset[int]
    label: str
    prepare: Callable[[Path], None] | None = None
    verify: Callable[[int | None, bytes, bytes, Path], None] | None = None
    json: bool = False
    env: tuple[tuple[str, str], ...] = ()
    """Variables added to the run's environment (`{out}` is replaced in values too)."""


@dataclass(frozen=True)
class Case:
    name: str
    group: int
    builds: str
    build: Callable[[Path], str]
    scan_codes: frozenset[int]
    expect: Check
    plants: tuple[Plant, ...] = ()
    readable: bool = True
    """False when nothing of the target can be read: every command must then exit 2."""
    heavy: bool = False
    """A bomb: only the JSON scan and the recoveries run (every walk costs the same)."""
    prepare_out: Callable[[Path], None] | None = None
    """Plants links in recover's output directory before each recovery."""
    issue_round: int = 1
    """1: the first hostile-input issue (groups 1-13); 2: the second (issue 19, classes 1-8)."""
    runs: Callable[[str], Sequence[Run]] | None = None
    """Commands of its own, given the target (see Run)."""
    own_runs_only: bool = False
    """Run only `runs` (the default commands would need options the case sets itself, such
    as a --max-image-bytes without which a bomb is spooled to the harness's file limit)."""


def plant(
    path: str | bytes,
    content: bytes | None = None,
    codes: Sequence[int] = (0,),
    layer: int | None = None,
) -> Plant:
    return Plant(path, frozenset(codes), content, layer)


# --- checks on the report -------------------------------------------------------------------


def secret_sha(label: str) -> str:
    return hashlib.sha256(b.token(label).encode()).hexdigest()


def _report(observed: Observed) -> dict[str, Any]:
    assert observed.report is not None, f"no JSON report (scan exited {observed.code})"
    return observed.report


def _brief(finding: dict[str, Any]) -> str:
    layer = (finding.get("layer") or {}).get("index")
    removed = (finding.get("removed_by") or {}).get("index")
    return f"{finding['path']!r} layer {layer} {finding['status']} removed_by {removed}"


def all_of(*checks: Check) -> Check:
    """Run every check and report every failure, not only the first."""

    def check(observed: Observed) -> None:
        failures = []
        for one in checks:
            try:
                one(observed)
            except AssertionError as exc:
                failures.append(str(exc))
        assert not failures, "\n".join(failures)

    return check


def finding(
    label: str,
    paths: str | Sequence[str] | None = None,
    layer: int | None = None,
    status: str | None = None,
    removed_by: int | None = None,
    nested: str | None = None,
) -> Check:
    """A finding of the secret planted as `label`, at one of `paths`, with these attributes."""
    wanted_paths = {paths} if isinstance(paths, str) else set(paths or ())

    def matches(item: dict[str, Any]) -> bool:
        return (
            (not wanted_paths or item["path"] in wanted_paths)
            and (layer is None or (item.get("layer") or {}).get("index") == layer)
            and (status is None or item["status"] == status)
            and (removed_by is None or (item.get("removed_by") or {}).get("index") == removed_by)
            and (nested is None or nested in (item.get("nested_path") or ""))
        )

    def check(observed: Observed) -> None:
        found = [
            f for f in _report(observed)["findings"] if f["secret_sha256"] == secret_sha(label)
        ]
        assert any(matches(item) for item in found), (
            f"expected a finding of {label!r} at {sorted(wanted_paths) or 'any path'} layer "
            f"{layer} status {status} removed_by {removed_by} nested {nested}; "
            f"found: {[_brief(item) for item in found] or 'none'}"
        )

    return check


def no_finding(label: str) -> Check:
    def check(observed: Observed) -> None:
        found = [
            f for f in _report(observed)["findings"] if f["secret_sha256"] == secret_sha(label)
        ]
        assert not found, f"{label!r} must not be reported; found {[_brief(f) for f in found]}"

    return check


def findings_count(label: str, count: int) -> Check:
    def check(observed: Observed) -> None:
        found = [
            f for f in _report(observed)["findings"] if f["secret_sha256"] == secret_sha(label)
        ]
        assert len(found) == count, (
            f"expected {count} finding(s) of {label!r}, got {[_brief(f) for f in found]}"
        )

    return check


def _errors(observed: Observed, layer: int) -> list[dict[str, Any]]:
    return [e for e in _report(observed).get("errors", []) if e.get("layer") == layer]


def _names(error: dict[str, Any], name: str) -> bool:
    return name in (error.get("path") or "") or name in error.get("message", "")


def error(layer: int, name: str | None = None, fatal: bool | None = None) -> Check:
    """An errors[] item for `layer` that names the raw entry `name` (path or message)."""

    def check(observed: Observed) -> None:
        errors = _errors(observed, layer)
        hits = [
            e
            for e in errors
            if (name is None or _names(e, name)) and (fatal is None or e.get("fatal") is fatal)
        ]
        assert hits, (
            f"expected an error for layer {layer}"
            + (f" naming {name!r}" if name is not None else "")
            + (f" with fatal={fatal}" if fatal is not None else "")
            + f"; errors: {_report(observed).get('errors')}"
        )

    return check


def layer_flagged(layer: int) -> Check:
    """The layer is named in errors[] or in a warning: content intact, the oddity reported."""

    def check(observed: Observed) -> None:
        report = _report(observed)
        flagged = bool(_errors(observed, layer)) or any(
            f"layer {layer}" in w for w in report.get("warnings", [])
        )
        assert flagged, (
            f"expected layer {layer} to be reported (an error, or a warning naming it); "
            f"errors: {report.get('errors')}; warnings: {report.get('warnings')}"
        )

    return check


def warning(*fragments: str) -> Check:
    """A warnings[] line containing every fragment."""

    def check(observed: Observed) -> None:
        warnings = _report(observed).get("warnings", [])
        assert any(all(f in w for f in fragments) for w in warnings), (
            f"expected a warning mentioning {fragments}; warnings: {warnings}"
        )

    return check


def some_warning() -> Check:
    def check(observed: Observed) -> None:
        assert _report(observed).get("warnings"), "expected a warning; warnings[] is empty"

    return check


def reported(layer: int, name: str) -> Check:
    """The raw entry is named in an error of its layer, or in a warning naming its layer."""

    def check(observed: Observed) -> None:
        report = _report(observed)
        named = any(_names(e, name) for e in _errors(observed, layer)) or any(
            name in w and f"layer {layer}" in w for w in report.get("warnings", [])
        )
        assert named, (
            f"expected layer {layer}'s entry {name!r} to be reported; errors: "
            f"{report.get('errors')}; warnings: {report.get('warnings')}"
        )

    return check


def no_fatal_error() -> Check:
    def check(observed: Observed) -> None:
        fatal = [e for e in _report(observed).get("errors", []) if e.get("fatal")]
        assert not fatal, f"no layer is damaged here, yet: {fatal}"

    return check


def limit_hit(layer: int, at_least: int = 1) -> Check:
    """A bound was hit and said so: counted in summary.skipped or an error for the layer."""

    def check(observed: Observed) -> None:
        report = _report(observed)
        skipped = report.get("summary", {}).get("skipped", {})
        count = sum(skipped.values()) + len(_errors(observed, layer))
        assert count >= at_least, (
            f"expected {at_least} limit(s) reported (summary.skipped or an error for layer "
            f"{layer}); skipped: {skipped}; errors: {report.get('errors')}"
        )

    return check


def layer_entry(index: int, **fields: object) -> Check:
    """layers[index] carries these exact values (e.g. verified=False, diff_id_actual=...)."""

    def check(observed: Observed) -> None:
        layers = _report(observed).get("layers", [])
        assert index < len(layers), f"the report lists {len(layers)} layers, not {index + 1}"
        actual = {key: layers[index].get(key, "<absent>") for key in fields}
        assert actual == fields, f"layers[{index}] has {actual}, expected {fields}"

    return check


def table_lines_never_start_with(fragment: str) -> Check:
    """A raw newline in a name would start a table line with what followed it."""

    def check(observed: Observed) -> None:
        bad = [line for line in observed.table.splitlines() if line.startswith(fragment)]
        assert not bad, f"a name broke the table across lines: {bad[:2]}"

    return check


# --- writing images -------------------------------------------------------------------------


def _image_dir(work: Path) -> Path:
    """Images live one level down, so that `../bait` from the image's folder is the bait."""
    folder = work / "image"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(work: Path, layers: Sequence[StoredLayer], **options: Any) -> str:
    path = _image_dir(work) / "image.tar"
    b.write_tar(path, b.docker_save(layers, **options))
    return str(path)


def save_bytes(work: Path, data: bytes) -> str:
    """An image tarball written as the attacker laid out its bytes."""
    path = _image_dir(work) / "image.tar"
    path.write_bytes(data)
    return str(path)


def save_entries(work: Path, entries: Sequence[TarEntry]) -> str:
    path = _image_dir(work) / "image.tar"
    b.write_tar(path, entries)
    return str(path)


def oci_archive(work: Path, files: dict[str, bytes]) -> str:
    path = _image_dir(work) / "oci.tar"
    b.write_tar(path, b.as_tar_entries(files))
    return f"oci-archive:{path}"


def bait(work: Path) -> Path:
    """A valid layer tar outside the image: reading it would report the 'bait' secret."""
    path = work / "bait" / "layer.tar"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plain_layer([regular("bait.env", secret_file("bait"))]).stored)
    return path


def secret_layer(label: str, name: str | None = None) -> StoredLayer:
    return plain_layer([regular(name or f"{label}.env", secret_file(label))])


def _random(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


# --- 1. path escapes ------------------------------------------------------------------------


def build_path_dotdot(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("../victim/planted.env", secret_file("dotdot-1")),
                    regular("../../victim/planted.env", secret_file("dotdot-2")),
                    regular("a/../../victim/x.env", secret_file("dotdot-3")),
                    regular("keep/ok.txt", b"nothing to see\n"),
                ]
            )
        ],
    )


def build_path_absolute(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("/etc/app.env", secret_file("abs-1")),
                    regular("//srv/token.env", secret_file("abs-2")),
                    regular("./opt/dot.env", secret_file("abs-3")),
                ]
            )
        ],
    )


def build_path_empty_and_dot(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("", secret_file("empty-name")),
                    directory("."),
                    directory("./"),
                    regular(".", b"a file named dot\n"),
                    regular("keep.env", secret_file("empty-keep")),
                ]
            )
        ],
    )


# --- 2. symlink, then write through it ------------------------------------------------------


def build_symlink_write_through(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    symlink("lh", "../victim"),
                    regular("lh/file.env", secret_file("through-lh")),
                    symlink("etc", "/etc"),
                    regular("etc/passwd", b"root:x:0:0::/root:/bin/sh\n" + secret_file("passwd")),
                    symlink("deep", "../../../victim"),
                    regular("deep/authorized_keys", secret_file("through-deep")),
                ]
            )
        ],
    )


# --- 3. hard links --------------------------------------------------------------------------


def build_hardlink_escape(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("real.txt", b"harmless\n"),
                    hardlink("h1", "../victim/secret.txt"),
                    hardlink("h2", "../../victim/passwd"),
                    hardlink("h3", "/etc/shadow"),
                    hardlink("h4", "real.txt"),
                ]
            )
        ],
    )


def build_hardlink_cycle(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    hardlink("cycle-a", "cycle-b"),
                    hardlink("cycle-b", "cycle-a"),
                    hardlink("self-c", "self-c"),
                    regular("token.env", secret_file("cycle")),
                ]
            )
        ],
    )


CHAIN_LINKS = 40


def build_hardlink_chain(work: Path) -> str:
    entries: list[TarEntry | bytes] = [regular("base.env", secret_file("chain"))]
    previous = "base.env"
    for number in range(1, CHAIN_LINKS + 1):
        name = f"link{number:02d}"
        entries.append(hardlink(name, previous))
        previous = name
    return save(work, [plain_layer(entries)])


def _named_anywhere(observed: Observed, layer: int, name: str) -> bool:
    try:
        reported(layer, name)(observed)
    except AssertionError:
        return False
    return True


def chain_reported(observed: Observed) -> None:
    """Every link of the chain is either reported with the secret or named in an error."""
    report = _report(observed)
    with_secret = {
        f["path"] for f in report["findings"] if f["secret_sha256"] == secret_sha("chain")
    }
    missing = [
        f"/link{number:02d}"
        for number in range(1, CHAIN_LINKS + 1)
        if f"/link{number:02d}" not in with_secret
        and not _named_anywhere(observed, 0, f"link{number:02d}")
    ]
    assert not missing, f"links neither reported nor named in an error: {missing[:5]}"


def build_hardlink_cross_layer(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("secret.env", secret_file("cross-a")),
                    regular("gone.env", secret_file("cross-b")),
                ]
            ),
            plain_layer(
                [
                    hardlink("copy.env", "secret.env"),
                    regular(".wh.gone.env"),
                    hardlink("ghost.env", "gone.env"),
                ]
            ),
        ],
    )


# --- 4. cross-layer planting ----------------------------------------------------------------


def build_cross_layer_plant(work: Path) -> str:
    return save(
        work,
        [
            plain_layer([symlink("x", "../../victim"), symlink("t", "../../../victim/sub")]),
            plain_layer(
                [
                    regular("x/authorized_keys", secret_file("planted-keys")),
                    regular("t/file", secret_file("planted-sub")),
                ]
            ),
        ],
    )


def build_two_secret_layers(work: Path) -> str:
    return save(
        work,
        [
            plain_layer([regular("etc/app.env", secret_file("out-links-0"))]),
            plain_layer([regular("srv/key.env", secret_file("out-links-1"))]),
        ],
    )


def plant_output_links(out: Path) -> None:
    """What an attacker with write access to the output directory leaves there beforehand."""
    (out / "layer-0").symlink_to("../victim")
    (out / "layer-1").mkdir()
    (out / "layer-1" / "srv").symlink_to("../../victim/sub")
    (out / "manifest.json").symlink_to("../victim/passwd")
    (out / ".manifest.json.tmp").symlink_to("../victim/secret.txt")


# --- 5. whiteouts ---------------------------------------------------------------------------

DEGENERATE_WHITEOUTS = ("keep/.wh.", "keep/.wh..", "keep/.wh...", ".wh.", ".wh..", ".wh...")


def build_whiteout_degenerate(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("keep/a.env", secret_file("degenerate-keep")),
                    regular("a.env", secret_file("degenerate-root")),
                ]
            ),
            plain_layer([regular(name) for name in DEGENERATE_WHITEOUTS]),
        ],
    )


def build_whiteout_named_directory(work: Path) -> str:
    return save(
        work,
        [
            plain_layer([regular("etc/app.conf", secret_file("wh-dir-etc"))]),
            plain_layer(
                [directory(".wh.etc/"), regular(".wh.etc/config.txt", secret_file("wh-dir-own"))]
            ),
        ],
    )


def build_opaque_after_own_entries(work: Path) -> str:
    return save(
        work,
        [
            plain_layer([regular("d/lower.env", secret_file("opaque-lower"))]),
            plain_layer(
                [regular("d/upper.env", secret_file("opaque-upper")), regular("d/.wh..wh..opq")]
            ),
        ],
    )


def build_whiteout_through_symlink(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [regular("real/secret.env", secret_file("wh-symlink")), symlink("link", "real")]
            ),
            plain_layer([regular("link/.wh.secret.env")]),
        ],
    )


# --- 6. devices, FIFOs, set-id --------------------------------------------------------------


def build_devices_and_setid(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    b.char_device("dev/zero-copy", 1, 5),
                    b.char_device("dev/random-copy", 1, 8),
                    b.block_device("dev/sda-copy", 8, 0),
                    b.fifo("run/pipe"),
                    TarEntry("run/socket-like", kind=b"Z"),
                    regular("usr/bin/helper", secret_file("setuid"), mode=0o4755),
                    regular("usr/bin/group-helper", b"#!/bin/sh\nexit 0\n", mode=0o2755),
                    regular("tmp/sticky", b"sticky\n", mode=0o1777),
                ]
            ),
            # The device's name later holds a file: recover must still refuse the device version.
            plain_layer([regular("dev/zero-copy", b"now a regular file\n")]),
        ],
    )


# --- 7. type conflicts and duplicates -------------------------------------------------------


def build_type_conflicts(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("conf", secret_file("conf-0")),
                    directory("data/"),
                    regular("data/x.env", secret_file("data-0")),
                ]
            ),
            plain_layer(
                [
                    directory("conf/"),
                    regular("conf/inner.env", secret_file("conf-1")),
                    regular("data", secret_file("data-1")),
                ]
            ),
            plain_layer(
                [
                    regular("conf", secret_file("conf-2")),
                    directory("data/"),
                    regular("data/y.env", secret_file("data-2")),
                ]
            ),
        ],
    )


def build_duplicates(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular("app.env", secret_file("dup-first")),
                    regular("app.env", secret_file("dup-second")),
                    directory("etc/"),
                    directory("etc/"),
                    regular("etc/x.env", secret_file("dup-other")),
                ]
            )
        ],
    )


# --- 8. bombs -------------------------------------------------------------------------------


def build_gzip_bomb(work: Path) -> str:
    return save(work, [b.gzip_bomb_layer(BOMB_BYTES), secret_layer("after-bomb")])


def build_zip_bombs(work: Path) -> str:
    return save(
        work,
        [
            b.gzip_layer(
                [
                    regular("app/bundle.zip", b.zip_bomb(1 * GIB)),
                    regular("app/overlap.zip", b.overlapping_zip(64, 30 * MIB)),
                    regular("app/token.env", secret_file("zip-neighbour")),
                ]
            )
        ],
    )


def build_nested_too_deep(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular(
                        "deep.tgz", b.nested_archive(6, "secret.env", secret_file("nested-deep"))
                    ),
                    regular(
                        "shallow.zip", b.zip_of({"config/app.env": secret_file("nested-shallow")})
                    ),
                ]
            )
        ],
    )


def build_many_entries(work: Path) -> str:
    return save(work, [b.many_entries_layer(MANY_ENTRIES), secret_layer("after-many")])


def many_entries_bounded(observed: Observed) -> None:
    """Either every entry was counted or the entry limit was reported for layer 0."""
    report = _report(observed)
    added = report["layers"][0].get("files_added", 0)
    if added < MANY_ENTRIES:
        limit_hit(0)(observed)


SPARSE_TAIL = b"x" * 3000 + secret_file("sparse-pax")


def build_sparse(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    b.pax_sparse_member(
                        "big.pax", SPARSE_CLAIM, SPARSE_CLAIM - len(SPARSE_TAIL), SPARSE_TAIL
                    ),
                    b.gnu_old_sparse_member(
                        "big.gnu", SPARSE_CLAIM, SPARSE_CLAIM - 64, secret_file("sparse-gnu")
                    ),
                    regular("small.env", secret_file("sparse-small")),
                ]
            )
        ],
    )


# --- 9. broken containers -------------------------------------------------------------------


def build_truncated(work: Path) -> str:
    whole = b.tar_bytes(
        [regular("early.env", secret_file("trunc-early")), regular("big.bin", _random(1, 200_000))]
    )
    cut = StoredLayer(whole[: int(len(whole) * 0.6)], b.digest(whole))
    return save(work, [cut, secret_layer("trunc-later")])


def build_garbage_after_tar(work: Path) -> str:
    data = b.tar_bytes([regular("a.env", secret_file("garbage-tar"))]) + b"\x01" + _random(2, 4095)
    return save(work, [StoredLayer(data, b.digest(data)), secret_layer("garbage-tar-other")])


def build_garbage_after_gzip(work: Path) -> str:
    tar = b.tar_bytes([regular("a.env", secret_file("garbage-gz"))])
    stored = gzip_bytes(tar) + b"NOT GZIP" + _random(3, 4088)
    return save(work, [StoredLayer(stored, b.digest(tar)), secret_layer("garbage-gz-other")])


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def build_corrupt_zstd(work: Path) -> str:
    lines = b"".join(b"line %d of a config file, nothing secret\n" % n for n in range(20_000))
    tar = b.tar_bytes([regular("a.env", secret_file("zstd-a")), regular("big.txt", lines)])
    frame = bytearray(zstandard.ZstdCompressor(level=3, write_checksum=True).compress(tar))
    middle = len(frame) // 2
    frame[middle : middle + 16] = bytes(byte ^ 0xFF for byte in frame[middle : middle + 16])
    return save(work, [StoredLayer(bytes(frame), b.digest(tar)), secret_layer("zstd-other")])


def build_not_a_tar(work: Path) -> str:
    png = b"\x89PNG\r\n\x1a\n" + _random(4, 2000)
    text = b"this is not a tar archive\n" * 100
    return save(
        work,
        [
            StoredLayer(png, b.digest(png)),
            StoredLayer(gzip_bytes(text), b.digest(text), b.GZIP_LAYER),
            secret_layer("not-tar-other"),
        ],
    )


# --- 10. hostile manifest.json / index.json -------------------------------------------------


def build_manifest_paths(work: Path) -> str:
    outside = bait(work)
    empty = plain_layer([])
    return save(
        work,
        [empty, empty, secret_layer("manifest-good")],
        manifest_layers=["../bait/layer.tar", str(outside), b.default_layer_name(2)],
    )


BAD_DIGESTS = (
    "sha256:../../bait/layer.tar",
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha256:" + "a" * 63,
)


def build_bad_digests(work: Path) -> str:
    bait(work)
    layers = [secret_layer(f"bad-digest-{n}") for n in range(3)] + [secret_layer("digest-good")]
    return oci_archive(work, b.oci_layout(layers, claimed_digests=[*BAD_DIGESTS, None]))


def build_index_bad_manifest_digest(work: Path) -> str:
    files = b.oci_layout([secret_layer("index-bad")], manifest_digest="sha256:../../../etc/passwd")
    return oci_archive(work, files)


def build_blob_symlinks(work: Path) -> str:
    outside = bait(work)
    names = [f"l{n}/layer.tar" for n in range(5)]
    good = secret_layer("symlinked-good")
    layers = [plain_layer([]), plain_layer([]), good, plain_layer([]), plain_layer([])]
    entries = b.docker_save(layers, manifest_layers=names)
    entries += [
        symlink("l0/layer.tar", "/etc/passwd"),
        symlink("l1/layer.tar", "../../bait/layer.tar"),
        regular("real/layer.tar", good.stored),
        symlink("l2/layer.tar", "../real/layer.tar"),
        hardlink("l3/layer.tar", "../bait/layer.tar"),
        symlink("l4/layer.tar", str(outside)),
    ]
    return save_entries(work, entries)


def build_count_mismatch_long(work: Path) -> str:
    layers = [secret_layer("count-long-0"), secret_layer("count-long-1")]
    extra = b.digest(b"a third layer nobody shipped")
    return save(
        work,
        layers,
        diff_ids=[layers[0].diff_id, layers[1].diff_id, extra],
        history=b.history_entries(3),
    )


def build_count_mismatch_short(work: Path) -> str:
    layers = [secret_layer("count-short-0"), secret_layer("count-short-1")]
    return save(work, layers, diff_ids=[layers[0].diff_id])


def build_missing_blob(work: Path) -> str:
    entries = b.docker_save([secret_layer("missing-0"), secret_layer("missing-1")])
    absent = b.default_layer_name(0)
    return save_entries(work, [entry for entry in entries if entry.name != absent])


def build_same_blob_twice(work: Path) -> str:
    layer = secret_layer("twice")
    name = b.default_layer_name(0)
    return save(work, [layer, layer], manifest_layers=[name, name])


def _deep_json(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def build_manifest_nested(work: Path) -> str:
    entries = b.docker_save([secret_layer("nested-manifest")])
    entries = [e for e in entries if e.name != "manifest.json"]
    return save_entries(work, [*entries, regular("manifest.json", _deep_json(10_000))])


def build_config_nested(work: Path) -> str:
    deep = b'{"rootfs": {"type": "layers", "diff_ids": []}, "history": ' + _deep_json(10_000) + b"}"
    return save(work, [secret_layer("nested-config")], config_bytes=deep)


def build_huge_manifest(work: Path) -> str:
    entries = b.docker_save([secret_layer("huge-manifest")])
    manifest = next(e for e in entries if e.name == "manifest.json")
    # 1 GiB claimed: valid JSON first, then a hole (read back as NUL bytes); never in memory.
    huge = TarEntry("manifest.json", manifest.data + b" " * 4096, claimed_size=HUGE_MANIFEST)
    return save_entries(work, [huge, *[e for e in entries if e.name != "manifest.json"]])


def build_oci_dir_blob_symlink(work: Path) -> str:
    outside = bait(work)
    baited = StoredLayer(outside.read_bytes(), b.digest(outside.read_bytes()))
    files = b.oci_layout([baited, secret_layer("oci-dir-good")])
    root = b.write_layout_dir(_image_dir(work) / "oci", files)
    blob = root / "blobs" / "sha256" / b.sha256_hex(baited.stored)
    blob.unlink()
    blob.symlink_to("../../../../bait/layer.tar")
    return f"oci-dir:{root}"


def build_outer_gzip_escapes(work: Path) -> str:
    entries = b.docker_save([secret_layer("outer-gzip")])
    entries += [
        regular("../../victim/evil.txt", b"spooled outside\n"),
        regular("/tmp/evil.txt", b"absolute\n"),
        symlink("evil-link", "/etc/passwd"),
        regular("evil-link", b"written through the link\n"),
    ]
    plain = _image_dir(work) / "plain.tar"
    b.write_tar(plain, entries)
    path = _image_dir(work) / "image.tar.gz"
    path.write_bytes(gzip_bytes(plain.read_bytes()))
    plain.unlink()
    return str(path)


# --- 11. integrity --------------------------------------------------------------------------


def _digest_mismatch_layers() -> list[StoredLayer]:
    return [
        b.gzip_layer([regular("tampered.env", secret_file("tamper-digest"))]),
        b.gzip_layer([regular("honest.env", secret_file("tamper-digest-honest"))]),
    ]


TAMPERED_CLAIM = b.digest(b"what the manifest claims layer 0 is")


def build_digest_mismatch(work: Path) -> str:
    layers = _digest_mismatch_layers()
    return oci_archive(work, b.oci_layout(layers, claimed_digests=[TAMPERED_CLAIM, None]))


def _diff_mismatch_layers() -> list[StoredLayer]:
    return [secret_layer("tamper-diff"), secret_layer("tamper-diff-honest")]


TAMPERED_DIFF_ID = b.digest(b"what the config claims layer 0 is")


def build_diff_id_mismatch(work: Path) -> str:
    layers = _diff_mismatch_layers()
    return save(work, layers, diff_ids=[TAMPERED_DIFF_ID, layers[1].diff_id])


# --- 12. hostile names ----------------------------------------------------------------------

HOSTILE_NAMES: tuple[tuple[str | bytes, str], ...] = (
    (b"bad\xff\xfename.env", "name-non-utf8"),
    ("line\nbreak.env", "name-newline"),
    ("\x1b[31mred\x1b[0m.env", "name-ansi"),
    ("\x1b]0;pwned\x07title.env", "name-osc"),
    ("cr\rreturn.env", "name-cr"),
    ("c1\x9bcontrol.env", "name-c1"),
)


def build_hostile_names(work: Path) -> str:
    history = [
        {"created_by": "/bin/sh -c echo \x1b[2J\x1b[H cleared\nFAKE: layer 9 is clean"},
        {"created_by": "/bin/sh -c #(nop) ENV X=\x1b]8;;http://evil\x07link\x1b]8;;\x07"},
    ]
    return save(
        work,
        [
            plain_layer([regular(name, secret_file(label)) for name, label in HOSTILE_NAMES]),
            plain_layer([symlink("\x1b[2Jlink", "\x1b[31m/target\nnext")]),
        ],
        history=history,
    )


DEEP_DEPTH = 1500
DEEP_NAME = "d/" * DEEP_DEPTH + "deep.env"
LONG_NAME = "n" * 5000 + ".env"


def build_long_and_deep(work: Path) -> str:
    return save(
        work,
        [
            plain_layer(
                [
                    regular(DEEP_NAME, secret_file("deep-name")),
                    regular(LONG_NAME, secret_file("long-name")),
                ]
            ),
            plain_layer([regular(".wh.d")]),
        ],
    )


# --- 13. hostile SQLite ---------------------------------------------------------------------


def build_sqlite(work: Path) -> str:
    scratch = work / "sqlite"
    scratch.mkdir(parents=True, exist_ok=True)
    wal_db, wal = b.sqlite_with_wal(scratch, b.token("sqlite-wal-db"), b.token("sqlite-wal-only"))
    return save(
        work,
        [
            plain_layer(
                [
                    regular(
                        "app/hostile.db",
                        b.sqlite_hostile_schema(
                            scratch, b.token("sqlite"), b.token("sqlite-hostile-table")
                        ),
                    ),
                    regular("app/corrupt.db", b.sqlite_corrupt(scratch, b.token("sqlite-corrupt"))),
                    regular("app/wal.db", wal_db),
                    regular("app/wal.db-wal", wal),
                ]
            )
        ],
    )


# --- the corpus -----------------------------------------------------------------------------

FINDINGS = frozenset({1})
INCOMPLETE = frozenset({3})
UNREADABLE = frozenset({2})
REFUSED = (2,)


CASES: tuple[Case, ...] = (
    Case(
        "path-dotdot",
        1,
        "entries ../victim/planted.env, ../../victim/planted.env, a/../../victim/x.env",
        build_path_dotdot,
        INCOMPLETE,
        all_of(
            error(0, "../victim/planted.env"),
            error(0, "../../victim/planted.env"),
            error(0, "a/../../victim/x.env"),
            no_finding("dotdot-1"),
            no_finding("dotdot-2"),
            no_finding("dotdot-3"),
        ),
        (
            plant("../victim/planted.env", codes=REFUSED),
            plant("/victim/planted.env", codes=REFUSED),
            plant("/keep/ok.txt", b"nothing to see\n"),
        ),
    ),
    Case(
        "path-absolute",
        1,
        "entries /etc/app.env, //srv/token.env, ./opt/dot.env",
        build_path_absolute,
        FINDINGS,
        all_of(
            finding("abs-1", "/etc/app.env", 0),
            finding("abs-2", "/srv/token.env", 0),
            finding("abs-3", "/opt/dot.env", 0),
            warning("/etc/app.env"),
            warning("//srv/token.env"),
            # `./x` is how `tar -C dir -c .` names every member: read as /x, not worth a warning.
            no_fatal_error(),
        ),
        (
            plant("/etc/app.env", secret_file("abs-1")),
            plant("/srv/token.env", secret_file("abs-2")),
            plant("/opt/dot.env", secret_file("abs-3")),
        ),
    ),
    Case(
        "path-empty-and-dot",
        1,
        "a file with an empty name, '.' as dir and as file, './', then keep.env",
        build_path_empty_and_dot,
        FINDINGS,
        all_of(
            finding("empty-keep", "/keep.env", 0),
            no_finding("empty-name"),
            some_warning(),
            no_fatal_error(),
        ),
        (plant("/keep.env", secret_file("empty-keep")), plant("", codes=REFUSED)),
    ),
    Case(
        "symlink-write-through",
        2,
        "lh -> ../victim then lh/file.env; etc -> /etc then etc/passwd; deep -> ../../../victim",
        build_symlink_write_through,
        FINDINGS,
        all_of(
            finding("through-lh", ("/lh/file.env", "/victim/file.env"), 0),
            finding("passwd", "/etc/passwd", 0),
            finding("through-deep", ("/deep/authorized_keys", "/victim/authorized_keys"), 0),
        ),
        (
            plant("/lh/file.env", secret_file("through-lh"), (0, 2)),
            plant("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n" + secret_file("passwd")),
            plant("/deep/authorized_keys", secret_file("through-deep"), (0, 2)),
        ),
    ),
    Case(
        "hardlink-escape",
        3,
        "hard links to ../victim/secret.txt, ../../victim/passwd, /etc/shadow; one to real.txt",
        build_hardlink_escape,
        INCOMPLETE,
        all_of(reported(0, "h1"), reported(0, "h2"), reported(0, "h3")),
        (
            plant("/h1", codes=REFUSED),
            plant("/h2", codes=REFUSED),
            plant("/h3", codes=REFUSED),
            plant("/h4", b"harmless\n"),
        ),
    ),
    Case(
        "hardlink-cycle",
        3,
        "hard links cycle-a -> cycle-b, cycle-b -> cycle-a, self-c -> self-c, and token.env",
        build_hardlink_cycle,
        FINDINGS,
        all_of(
            reported(0, "cycle-a"),
            reported(0, "cycle-b"),
            reported(0, "self-c"),
            finding("cycle", "/token.env", 0),
        ),
        (plant("/cycle-a", codes=REFUSED), plant("/self-c", codes=REFUSED)),
    ),
    Case(
        "hardlink-chain",
        3,
        f"base.env and a chain of {CHAIN_LINKS} hard links, each to the previous one",
        build_hardlink_chain,
        FINDINGS,
        all_of(finding("chain", "/base.env", 0), chain_reported),
        (plant(f"/link{CHAIN_LINKS:02d}", secret_file("chain"), (0, 2)),),
    ),
    Case(
        "hardlink-cross-layer",
        3,
        "layer 1 links copy.env to layer 0's secret.env, whites out gone.env, then links to it",
        build_hardlink_cross_layer,
        FINDINGS,
        all_of(
            finding("cross-a", "/secret.env", 0, "present"),
            finding("cross-a", "/copy.env", 1, "present"),
            finding("cross-b", "/gone.env", 0, "deleted", removed_by=1),
            reported(1, "ghost.env"),
        ),
        (
            plant("/copy.env", secret_file("cross-a")),
            plant("/gone.env", secret_file("cross-b")),
            plant("/ghost.env", codes=REFUSED),
        ),
    ),
    Case(
        "cross-layer-symlink-plant",
        4,
        "layer 0: x -> ../../victim, t -> ../../../victim/sub; layer 1 writes x/authorized_keys",
        build_cross_layer_plant,
        FINDINGS,
        all_of(
            finding("planted-keys", ("/x/authorized_keys", "/victim/authorized_keys"), 1),
            finding("planted-sub", ("/t/file", "/victim/sub/file"), 1),
        ),
        (
            plant("/x/authorized_keys", secret_file("planted-keys"), (0, 2)),
            plant("/t/file", secret_file("planted-sub"), (0, 2)),
        ),
    ),
    Case(
        "output-dir-planted-links",
        4,
        "two layers with a token each; recover's out/ already holds layer-0 -> ../victim, "
        "layer-1/srv -> ../../victim/sub, manifest.json -> ../victim/passwd",
        build_two_secret_layers,
        FINDINGS,
        all_of(
            finding("out-links-0", "/etc/app.env", 0), finding("out-links-1", "/srv/key.env", 1)
        ),
        (
            plant("/etc/app.env", secret_file("out-links-0"), (0, 2)),
            plant("/srv/key.env", secret_file("out-links-1"), (0, 2)),
        ),
        prepare_out=plant_output_links,
    ),
    Case(
        "whiteout-degenerate",
        5,
        "layer 1 holds regular files .wh., .wh.., .wh... at the root and in keep/",
        build_whiteout_degenerate,
        FINDINGS,
        all_of(
            finding("degenerate-keep", "/keep/a.env", 0, "present"),
            finding("degenerate-root", "/a.env", 0, "present"),
            *[reported(1, name) for name in DEGENERATE_WHITEOUTS],
        ),
        (plant("/keep/a.env", secret_file("degenerate-keep")),),
    ),
    Case(
        "whiteout-named-directory",
        5,
        "layer 0 has etc/app.conf; layer 1 has a directory .wh.etc/ with config.txt",
        build_whiteout_named_directory,
        FINDINGS,
        all_of(
            finding("wh-dir-etc", "/etc/app.conf", 0, "present"),
            finding("wh-dir-own", "/.wh.etc/config.txt", 1, "present"),
        ),
        (plant("/.wh.etc/config.txt", secret_file("wh-dir-own")),),
    ),
    Case(
        "opaque-after-own-entries",
        5,
        "layer 1 writes d/upper.env, then the opaque marker d/.wh..wh..opq",
        build_opaque_after_own_entries,
        FINDINGS,
        all_of(
            finding("opaque-upper", "/d/upper.env", 1, "present"),
            finding("opaque-lower", "/d/lower.env", 0, "deleted", removed_by=1),
        ),
        (plant("/d/upper.env", secret_file("opaque-upper")),),
    ),
    Case(
        "whiteout-through-symlink",
        5,
        "layer 0: real/secret.env, link -> real; layer 1: link/.wh.secret.env",
        build_whiteout_through_symlink,
        FINDINGS,
        finding("wh-symlink", "/real/secret.env", 0, "present"),
        (plant("/real/secret.env", secret_file("wh-symlink")),),
    ),
    Case(
        "devices-fifo-setid",
        6,
        "char and block devices, a FIFO, an unknown type, setuid/setgid/sticky files",
        build_devices_and_setid,
        FINDINGS,
        all_of(finding("setuid", "/usr/bin/helper", 0), no_fatal_error()),
        (
            plant("/dev/zero-copy", codes=REFUSED, layer=0),
            plant("/dev/random-copy", codes=REFUSED),
            plant("/dev/sda-copy", codes=REFUSED),
            plant("/run/pipe", codes=REFUSED),
            plant("/run/socket-like", codes=REFUSED),
            plant("/usr/bin/helper", secret_file("setuid")),
            plant("/usr/bin/group-helper", b"#!/bin/sh\nexit 0\n"),
            plant("/tmp/sticky", b"sticky\n"),
        ),
    ),
    Case(
        "type-conflicts",
        7,
        "conf: file, dir, file over 3 layers; data: dir, file, dir",
        build_type_conflicts,
        FINDINGS,
        all_of(
            finding("conf-0", "/conf", 0, "overwritten", removed_by=1),
            finding("conf-1", "/conf/inner.env", 1, "deleted", removed_by=2),
            finding("conf-2", "/conf", 2, "present"),
            finding("data-0", "/data/x.env", 0, "deleted", removed_by=1),
            finding("data-1", "/data", 1, "overwritten", removed_by=2),
            finding("data-2", "/data/y.env", 2, "present"),
        ),
        (
            plant("/conf", secret_file("conf-0"), layer=0),
            plant("/conf", secret_file("conf-2")),
            plant("/conf/inner.env", secret_file("conf-1")),
            plant("/data", secret_file("data-1"), layer=1),
        ),
    ),
    Case(
        "duplicates-in-one-layer",
        7,
        "app.env twice in one layer (last wins), etc/ twice",
        build_duplicates,
        FINDINGS,
        all_of(
            findings_count("dup-second", 1),
            finding("dup-second", "/app.env", 0, "present"),
            no_finding("dup-first"),
            findings_count("dup-other", 1),
        ),
        (plant("/app.env", secret_file("dup-second")),),
    ),
    Case(
        "gzip-bomb-layer",
        8,
        f"a 10 MB gzip layer holding one {BOMB_BYTES >> 30} GiB member of zeros; then a token",
        build_gzip_bomb,
        FINDINGS,
        all_of(finding("after-bomb", "/after-bomb.env", 1), limit_hit(0)),
        (
            plant("/after-bomb.env", secret_file("after-bomb")),
            plant("/zeros.bin", codes=REFUSED),
        ),
        heavy=True,
    ),
    Case(
        "zip-bombs-in-layer",
        8,
        "app/bundle.zip (1 GiB member), app/overlap.zip (64 overlapping 30 MiB entries), a token",
        build_zip_bombs,
        FINDINGS,
        all_of(finding("zip-neighbour", "/app/token.env", 0), limit_hit(0, at_least=2)),
        (plant("/app/token.env", secret_file("zip-neighbour")),),
    ),
    Case(
        "nested-archives-too-deep",
        8,
        "deep.tgz: a token under 6 levels of tar.gz/zip; shallow.zip: a token one level down",
        build_nested_too_deep,
        FINDINGS,
        all_of(
            finding("nested-shallow", "/shallow.zip", 0, nested="config/app.env"),
            no_finding("nested-deep"),
            limit_hit(0),
        ),
        (plant("/shallow.zip"),),
    ),
    Case(
        "many-tiny-entries",
        8,
        f"a zstd layer of {MANY_ENTRIES:,} empty files; then a token",
        build_many_entries,
        FINDINGS,
        all_of(finding("after-many", "/after-many.env", 1), many_entries_bounded),
        (plant("/after-many.env", secret_file("after-many")),),
        heavy=True,
    ),
    Case(
        "sparse-huge-claim",
        8,
        "PAX 1.0 and old-GNU sparse members claiming 16 GiB (4 KiB stored); small.env",
        build_sparse,
        FINDINGS,
        all_of(finding("sparse-small", "/small.env", 0), limit_hit(0)),
        (
            plant("/small.env", secret_file("sparse-small")),
            plant("/big.pax", codes=REFUSED),
            plant("/big.gnu", codes=REFUSED),
        ),
    ),
    Case(
        "truncated-layer",
        9,
        "layer 0 cut at 60% (inside big.bin, after early.env); layer 1 holds a token",
        build_truncated,
        FINDINGS,
        all_of(
            error(0, fatal=True),
            finding("trunc-early", "/early.env", 0),
            finding("trunc-later", "/trunc-later.env", 1),
        ),
        (plant("/trunc-later.env", secret_file("trunc-later")),),
    ),
    Case(
        "garbage-after-tar-end",
        9,
        "layer 0 is a valid tar followed by 4 KiB of random bytes",
        build_garbage_after_tar,
        FINDINGS,
        all_of(
            layer_flagged(0),
            finding("garbage-tar", "/a.env", 0),
            finding("garbage-tar-other", "/garbage-tar-other.env", 1),
        ),
        (plant("/a.env", secret_file("garbage-tar")),),
    ),
    Case(
        "garbage-after-gzip-stream",
        9,
        "layer 0 is a gzip stream followed by 4 KiB that are not gzip",
        build_garbage_after_gzip,
        FINDINGS,
        all_of(
            layer_flagged(0),
            finding("garbage-gz", "/a.env", 0),
            finding("garbage-gz-other", "/garbage-gz-other.env", 1),
        ),
        (plant("/garbage-gz-other.env", secret_file("garbage-gz-other")),),
    ),
    Case(
        "corrupt-zstd-frame",
        9,
        "layer 0 is a zstd frame (with checksum) with 16 bytes inverted in the middle",
        build_corrupt_zstd,
        FINDINGS,
        all_of(error(0, fatal=True), finding("zstd-other", "/zstd-other.env", 1)),
        (plant("/zstd-other.env", secret_file("zstd-other")),),
    ),
    Case(
        "layer-not-a-tar",
        9,
        "layer 0 is a PNG header and noise, layer 1 gzip of plain text, layer 2 a token",
        build_not_a_tar,
        FINDINGS,
        all_of(
            error(0, fatal=True),
            error(1, fatal=True),
            finding("not-tar-other", "/not-tar-other.env", 2),
        ),
        (plant("/not-tar-other.env", secret_file("not-tar-other")),),
    ),
    Case(
        "manifest-layer-paths",
        10,
        "manifest Layers: ../bait/layer.tar, an absolute host path to it, a good layer",
        build_manifest_paths,
        FINDINGS,
        all_of(
            finding("manifest-good", "/manifest-good.env", 2),
            no_finding("bait"),
            error(0, fatal=True),
            error(1, fatal=True),
        ),
        (
            plant("/manifest-good.env", secret_file("manifest-good")),
            plant("/bait.env", codes=REFUSED),
        ),
    ),
    Case(
        "manifest-bad-digests",
        10,
        "OCI layer digests sha256:../../bait/layer.tar, md5:..., 63 hex; one good layer",
        build_bad_digests,
        FINDINGS,
        all_of(
            finding("digest-good", "/digest-good.env", 3),
            no_finding("bait"),
            error(0, fatal=True),
            error(1, fatal=True),
            error(2, fatal=True),
        ),
        (plant("/digest-good.env", secret_file("digest-good")),),
    ),
    Case(
        "index-bad-manifest-digest",
        10,
        "index.json names its manifest sha256:../../../etc/passwd",
        build_index_bad_manifest_digest,
        UNREADABLE,
        lambda observed: None,
        (plant("/index-bad.env", codes=REFUSED),),
        readable=False,
    ),
    Case(
        "blob-symlinks-in-outer-tar",
        10,
        "layer members are symlinks to /etc/passwd, ../../bait, ../real (valid), a hard link "
        "to ../bait, an absolute host path",
        build_blob_symlinks,
        FINDINGS,
        all_of(
            finding("symlinked-good", "/symlinked-good.env", 2),
            no_finding("bait"),
            *[error(n, fatal=True) for n in (0, 1, 3, 4)],
        ),
        (
            plant("/symlinked-good.env", secret_file("symlinked-good")),
            plant("/bait.env", codes=REFUSED),
        ),
    ),
    Case(
        "diff-id-count-long",
        10,
        "2 layers, 3 diff_ids and 3 history entries",
        build_count_mismatch_long,
        FINDINGS,
        all_of(
            warning("diff_id"),
            finding("count-long-0", "/count-long-0.env", 0),
            finding("count-long-1", "/count-long-1.env", 1),
        ),
        (plant("/count-long-1.env", secret_file("count-long-1")),),
    ),
    Case(
        "diff-id-count-short",
        10,
        "2 layers, 1 diff_id",
        build_count_mismatch_short,
        FINDINGS,
        all_of(
            warning("diff_id"),
            finding("count-short-0", "/count-short-0.env", 0),
            finding("count-short-1", "/count-short-1.env", 1),
        ),
        (plant("/count-short-1.env", secret_file("count-short-1")),),
    ),
    Case(
        "missing-blob",
        10,
        "manifest names a layer member the tar does not hold; layer 1 is there",
        build_missing_blob,
        FINDINGS,
        all_of(error(0, fatal=True), finding("missing-1", "/missing-1.env", 1)),
        (plant("/missing-1.env", secret_file("missing-1")), plant("/missing-0.env", codes=REFUSED)),
    ),
    Case(
        "same-blob-twice",
        10,
        "manifest lists the same layer member twice",
        build_same_blob_twice,
        FINDINGS,
        all_of(
            finding("twice", "/twice.env", 1, "present"),
            finding("twice", "/twice.env", 0, "overwritten", removed_by=1),
        ),
        (plant("/twice.env", secret_file("twice")),),
    ),
    Case(
        "manifest-nested-10000",
        10,
        "manifest.json is an array nested 10,000 levels deep",
        build_manifest_nested,
        UNREADABLE,
        lambda observed: None,
        (plant("/nested-manifest.env", codes=REFUSED),),
        readable=False,
    ),
    Case(
        "config-nested-10000",
        10,
        "the image config's history is an array nested 10,000 levels deep",
        build_config_nested,
        UNREADABLE,
        lambda observed: None,
        (plant("/nested-config.env", codes=REFUSED),),
        readable=False,
    ),
    Case(
        "manifest-one-gigabyte",
        10,
        "manifest.json claims 1 GiB (valid JSON, then a sparse hole); written streamed",
        build_huge_manifest,
        UNREADABLE,
        lambda observed: None,
        (plant("/huge-manifest.env", codes=REFUSED),),
        readable=False,
    ),
    Case(
        "oci-dir-blob-symlink",
        10,
        "OCI directory whose layer 0 blob is a symlink to a valid layer outside the layout",
        build_oci_dir_blob_symlink,
        FINDINGS,
        all_of(
            no_finding("bait"),
            error(0, fatal=True),
            finding("oci-dir-good", "/oci-dir-good.env", 1),
        ),
        (
            plant("/oci-dir-good.env", secret_file("oci-dir-good")),
            plant("/bait.env", codes=REFUSED),
        ),
    ),
    Case(
        "outer-gzip-escaping-members",
        10,
        "docker save | gzip whose outer tar also holds ../../victim/evil.txt, /tmp/evil.txt, "
        "and a file written over a symlink to /etc/passwd",
        build_outer_gzip_escapes,
        FINDINGS,
        finding("outer-gzip", "/outer-gzip.env", 0),
        (plant("/outer-gzip.env", secret_file("outer-gzip")),),
    ),
    Case(
        "digest-mismatch",
        11,
        "OCI archive whose layer 0 blob (gzip) hashes to something other than its digest",
        build_digest_mismatch,
        FINDINGS,
        all_of(
            finding("tamper-digest", "/tampered.env", 0),
            finding("tamper-digest-honest", "/honest.env", 1),
            layer_entry(
                0, verified=False, digest_actual=b.digest(_digest_mismatch_layers()[0].stored)
            ),
            layer_entry(1, verified=True),
            warning(TAMPERED_CLAIM[7:19]),
        ),
        (plant("/tampered.env", secret_file("tamper-digest")),),
    ),
    Case(
        "diff-id-mismatch",
        11,
        "docker save whose config diff_id for layer 0 is not the layer's sha256",
        build_diff_id_mismatch,
        FINDINGS,
        all_of(
            finding("tamper-diff", "/tamper-diff.env", 0),
            finding("tamper-diff-honest", "/tamper-diff-honest.env", 1),
            layer_entry(0, verified=False, diff_id_actual=_diff_mismatch_layers()[0].diff_id),
            layer_entry(1, verified=True),
            warning(TAMPERED_DIFF_ID[7:19]),
        ),
        (plant("/tamper-diff.env", secret_file("tamper-diff")),),
    ),
    Case(
        "hostile-names",
        12,
        "names with non-UTF-8 bytes, a newline, ANSI/OSC escapes, CR, a C1 control; "
        "history lines with escapes and a newline; a symlink with an escape",
        build_hostile_names,
        FINDINGS,
        all_of(
            *[finding(label) for _, label in HOSTILE_NAMES],
            table_lines_never_start_with("break.env"),
            table_lines_never_start_with("FAKE: layer 9"),
        ),
        tuple(plant(name, secret_file(label)) for name, label in HOSTILE_NAMES),
    ),
    Case(
        "long-and-deep-names",
        12,
        f"a path {DEEP_DEPTH} directories deep, a 5,000-character name; layer 1 whites out d",
        build_long_and_deep,
        FINDINGS,
        all_of(
            finding("deep-name", "/" + DEEP_NAME, 0, "deleted", removed_by=1),
            finding("long-name", "/" + LONG_NAME, 0, "present"),
        ),
        (
            plant("/" + DEEP_NAME, secret_file("deep-name"), (0, 2)),
            plant("/" + LONG_NAME, secret_file("long-name"), (0, 2)),
        ),
    ),
    Case(
        "sqlite-hostile",
        13,
        "SQLite with an endless view, a 900 MB view, a trigger, an escape-named table; a "
        "database with corrupt pages; a WAL database with its -wal file",
        build_sqlite,
        FINDINGS,
        all_of(
            finding("sqlite", "/app/hostile.db", 0, nested="tokens"),
            finding("sqlite-hostile-table", "/app/hostile.db", 0),
            table_lines_never_start_with("name"),
            finding("sqlite-wal-db", "/app/wal.db", 0),
        ),
        (plant("/app/hostile.db"), plant("/app/wal.db-wal")),
    ),
)


def find_case(name: str) -> Case:
    return next(case for case in CASES if case.name == name)
