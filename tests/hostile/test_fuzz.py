"""Fuzzing: generated multi-layer images and mutated container bytes, all under the oracle.

Two bounded runs that CI can afford (HOSTILE_FUZZ_EXAMPLES and HOSTILE_MUTATION_EXAMPLES set
how many examples each runs):

- a Hypothesis property over images built from the corpus's hostile names, entry types and
  link targets: scan, layers, history and recover of every planted file must pass the oracle,
  and a well-formed container is never "unreadable" (exit 2);
- a mutation fuzzer over the raw bytes of manifest.json, the config and the layer blobs:
  every run passes the oracle, and a damaged layer never hides the other layer's secret.

Examples are derandomized (the same ones every run) unless HOSTILE_FUZZ_RANDOM=1; shrinking is
off unless HOSTILE_FUZZ_SHRINK=1, since each example costs several fresh processes.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from tests.hostile import builders as b
from tests.hostile.builders import StoredLayer, TarEntry
from tests.hostile.corpus import Case, Observed, Plant, secret_sha
from tests.hostile.oracle import Command, Kind, run_all, run_case

EXAMPLES = int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "6"))
MUTATIONS = int(os.environ.get("HOSTILE_MUTATION_EXAMPLES", "12"))
PHASES = (
    tuple(Phase)
    if os.environ.get("HOSTILE_FUZZ_SHRINK") == "1"
    else (Phase.explicit, Phase.reuse, Phase.generate)
)


def fuzz_settings(examples: int) -> settings:
    """Bounded, reproducible runs: CI pays for `examples` examples and no shrinking."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=os.environ.get("HOSTILE_FUZZ_RANDOM") != "1",
        database=None,
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- generated images -----------------------------------------------------------------------

HOSTILE_NAMES: list[str | bytes] = [
    "a",
    "etc/passwd",
    "lh",
    "lh/file",
    "x/authorized_keys",
    "../victim/x",
    "../../victim/x",
    "a/../../x",
    "/abs",
    "//double",
    "./dot",
    "",
    ".",
    ".wh.",
    ".wh..",
    ".wh...",
    ".wh.a",
    ".wh.etc",
    "a/.wh..wh..opq",
    "line\nbreak",
    "\x1b[31mred",
    "c1\x9bx",
    b"bad\xff\xfe",
    "d/" * 40 + "deep",
    "n" * 300,
]
COMPONENTS = ["a", "b", "etc", "lh", "x", "..", ".", ".wh.a", "\x1b[2J", "sp ace"]
LINK_TARGETS: list[str] = [
    "../victim",
    "../../victim",
    "../../../victim/sub",
    "/etc",
    "/",
    ".",
    "..",
    "a",
    "lh",
    "../x",
    "/etc/passwd",
    "",
    "self",
]
KINDS = ["file", "secret", "dir", "symlink", "hardlink", "whiteout", "opaque", "fifo", "device"]

names = st.one_of(
    st.sampled_from(HOSTILE_NAMES),
    st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4).map("/".join),
)
entries = st.tuples(st.sampled_from(KINDS), names, st.one_of(st.sampled_from(LINK_TARGETS), names))
layers = st.tuples(
    st.sampled_from(["plain", "gzip", "zstd"]), st.lists(entries, min_size=0, max_size=6)
)
images = st.lists(layers, min_size=1, max_size=3)


def _whiteout_name(name: str | bytes) -> str | bytes:
    if isinstance(name, bytes):
        parent, _, base = name.rpartition(b"/")
        return parent + b"/.wh." + base if parent else b".wh." + base
    parent, _, base = name.rpartition("/")
    return f"{parent}/.wh.{base}" if parent else f".wh.{base}"


def _opaque_name(name: str | bytes) -> str | bytes:
    return name + b"/.wh..wh..opq" if isinstance(name, bytes) else f"{name}/.wh..wh..opq"


def to_entry(kind: str, name: str | bytes, target: str | bytes, label: str) -> TarEntry:
    """One generated entry; a 'secret' file carries a token and a set-uid mode."""
    target = name if target == "self" else target
    return {
        "file": lambda: b.regular(name, b"plain content\n"),
        "secret": lambda: b.regular(name, b.secret_file(label), mode=0o4755),
        "dir": lambda: b.directory(name),
        "symlink": lambda: b.symlink(name, target),
        "hardlink": lambda: b.hardlink(name, target),
        "whiteout": lambda: b.regular(_whiteout_name(name)),
        "opaque": lambda: b.regular(_opaque_name(name)),
        "fifo": lambda: TarEntry(name, kind=b"6"),
        "device": lambda: TarEntry(name, kind=b"3", devmajor=1, devminor=3),
    }[kind]()


def _stored(compression: str, tar_entries: list[TarEntry | bytes]) -> StoredLayer:
    return {"plain": b.plain_layer, "gzip": b.gzip_layer, "zstd": b.zstd_layer}[compression](
        tar_entries
    )


def generated_case(image: list[tuple[str, list[tuple[str, str | bytes, str | bytes]]]]) -> Case:
    """A case for one generated image: every planted regular file is recovered (0 or 2)."""
    stored: list[StoredLayer] = []
    plants: list[Plant] = []
    for layer_number, (compression, layer_entries) in enumerate(image):
        tar_entries: list[TarEntry | bytes] = []
        for entry_number, (kind, name, target) in enumerate(layer_entries):
            tar_entries.append(to_entry(kind, name, target, f"fuzz-{layer_number}-{entry_number}"))
            if kind in ("file", "secret") and len(plants) < 3:
                path = b"/" + name if isinstance(name, bytes) else "/" + name
                plants.append(Plant(path, frozenset({0, 2})))
        stored.append(_stored(compression, tar_entries))

    def build(work: Path) -> str:
        path = work / "image.tar"
        b.write_tar(path, b.docker_save(stored))
        return str(path)

    return Case(
        name="generated",
        group=0,
        builds=repr(image),
        build=build,
        scan_codes=frozenset({0, 1, 3}),
        expect=lambda observed: None,
        plants=tuple(plants),
    )


@fuzz_settings(EXAMPLES)
@given(image=images)
def test_generated_images_pass_the_oracle(
    image: list[tuple[str, list[tuple[str, str | bytes, str | bytes]]]],
) -> None:
    note(f"image: {image!r}")
    case = generated_case(image)
    with tempfile.TemporaryDirectory(prefix="hostile-fuzz-") as work:
        result = run_case(case, Path(work))
    assert not result.problems, f"generated image {image!r}:\n\n" + "\n\n".join(result.problems)


# --- mutated bytes --------------------------------------------------------------------------

BASE_LAYERS = (
    b.gzip_layer(
        [
            b.directory("etc/"),
            b.regular("etc/a.env", b.secret_file("mutate-a")),
            b.symlink("etc/link", "../victim"),
            b.regular("usr/lib/filler.txt", b"filler line\n" * 200),
        ]
    ),
    b.plain_layer([b.regular("srv/b.env", b.secret_file("mutate-b")), b.regular(".wh.gone")]),
)
BASE_ENTRIES = b.docker_save(list(BASE_LAYERS))
PARTS = {
    "manifest": "manifest.json",
    "config": next(str(e.name) for e in BASE_ENTRIES if str(e.name).endswith(".json")),
    "layer0": b.default_layer_name(0),
    "layer1": b.default_layer_name(1),
}
# A damaged layer must not hide the other one: its secret is still reported.
SURVIVOR = {"layer0": "mutate-b", "layer1": "mutate-a"}

positions = st.floats(min_value=0, max_value=1, allow_nan=False)
mutations = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(positions, st.integers(1, 255)), max_size=8)),
    st.tuples(st.just("truncate"), positions),
    st.tuples(st.just("replace"), st.binary(max_size=512)),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=64)),
)


def _at(data: bytes, position: float) -> int:
    return min(int(position * len(data)), max(len(data) - 1, 0))


def mutate(data: bytes, mutation: tuple[object, ...]) -> bytes:
    """Apply one generated mutation: XOR byte flips, a cut, a replacement or an insertion."""
    action = mutation[0]
    if action == "flip":
        flipped = bytearray(data)
        for position, mask in mutation[1]:  # type: ignore[attr-defined]
            if flipped:
                flipped[_at(data, position)] ^= mask
        return bytes(flipped)
    if action == "truncate":
        return data[: _at(data, mutation[1])]  # type: ignore[arg-type]
    if action == "replace":
        return mutation[1]  # type: ignore[return-value]
    cut = _at(data, mutation[1])  # type: ignore[arg-type]
    return data[:cut] + mutation[2] + data[cut:]  # type: ignore[operator]


def _mutated_image(work: Path, part: str, mutation: tuple[object, ...]) -> str:
    member = PARTS[part]
    entries = [
        replace(entry, data=mutate(entry.data, mutation)) if entry.name == member else entry
        for entry in BASE_ENTRIES
    ]
    path = work / "image.tar"
    b.write_tar(path, entries)
    return str(path)


def _survivor_problems(part: str, scan_report: dict[str, object] | None) -> list[str]:
    label = SURVIVOR.get(part)
    if label is None:
        return []
    findings = (scan_report or {}).get("findings") or []
    hashes = {finding["secret_sha256"] for finding in findings}  # type: ignore[index, union-attr]
    if secret_sha(label) in hashes:
        return []
    return [f"damaging {part} hid the other layer's secret {label!r}"]


@fuzz_settings(MUTATIONS)
@given(part=st.sampled_from(sorted(PARTS)), mutation=mutations)
def test_mutated_manifest_and_layer_bytes_pass_the_oracle(
    part: str, mutation: tuple[object, ...]
) -> None:
    note(f"{part}: {mutation!r}")
    layer_damage = part in SURVIVOR
    with tempfile.TemporaryDirectory(prefix="hostile-mutate-") as work:
        target = _mutated_image(Path(work), part, mutation)
        scan_codes = frozenset({1}) if layer_damage else frozenset({0, 1, 2, 3})
        layers_codes = frozenset({0, 3}) if layer_damage else frozenset({0, 2, 3})
        commands = [
            Command(Kind.SCAN_JSON, ("scan", "-f", "json", "--", target), scan_codes),
            Command(Kind.LAYERS, ("layers", "--", target), layers_codes),
        ]
        scan, listing = run_all(commands, Path(work))
    problems = [outcome.describe() for outcome in (scan, listing) if outcome.violations]
    if layer_damage and scan.code == 1:
        problems += _survivor_problems(part, scan.report)
    assert not problems, f"{part} mutated by {mutation!r}:\n\n" + "\n\n".join(problems)


def test_unmutated_base_image_is_found_whole(tmp_path: Path) -> None:
    """The fuzzers' starting point reports both secrets: a failure above is the mutation's."""
    target = _mutated_image(tmp_path, "layer0", ("flip", []))
    command = Command(Kind.SCAN_JSON, ("scan", "-f", "json", "--", target), frozenset({1}))
    [scan] = run_all([command], tmp_path)
    assert not scan.violations, scan.describe()
    observed = Observed(scan.code, scan.report, "")
    assert observed.report is not None
    hashes = {finding["secret_sha256"] for finding in observed.report["findings"]}
    assert {secret_sha("mutate-a"), secret_sha("mutate-b")} <= hashes
