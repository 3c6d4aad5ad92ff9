"""Issue 19, class 6. Evidence integrity: hard links to the version they linked, evidence re-
checked before it is reported.

One layer may hold the same path several times (a file, then a directory or a symlink, then a
file again), and a hard link holds what its target path held when the link was written. So
`recover` copies the very tar member the timeline recorded (found by its position in the
layer, checked for its name, kind and size), and `recover --finding` writes the version whose
status is the finding's and reports it only once the written bytes hold the finding's secret
again. Each case recovers by path (the plants, whose bytes are compared exactly) and by
`--finding` (its own runs, which check the evidence file's bytes and evidence.json).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from tests.hostile import builders as b
from tests.hostile.builders import directory, hardlink, regular, secret_file, symlink
from tests.hostile.corpus import Case, Run, all_of, finding, findings_count, plant, save

ROUND = 2
FINDINGS = frozenset({1})
WRITTEN = frozenset({0})
RULE = "github-token"
"""The rule that reports the builders' fabricated ghp_ tokens."""

Verify = Callable[[int | None, bytes, bytes, Path], None]


def fingerprint(label: str, path: str) -> str:
    """A finding's fingerprint as layerscan/model/findings.py makes it: rule, secret, place."""
    secret_sha = hashlib.sha256(b.token(label).encode()).hexdigest()
    material = "\0".join((RULE, secret_sha, f"file:{path}"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _read_below(out: Path, relative: str) -> bytes:
    """A file below out/, entered without following links."""
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        parts = relative.split("/")
        for part in parts[:-1]:
            following = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = following
        handle = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        with os.fdopen(handle, "rb") as stream:
            return stream.read()
    finally:
        os.close(fd)


def _shown(data: bytes) -> str:
    """Planted contents hold secrets: a failure names their size and hash, never the bytes."""
    return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}…"


def _evidence_of(label: str, path: str, layer: int, content: bytes) -> Verify:
    """The run wrote `content` for the finding of `label` at `path`, recorded it in the
    manifest with its sha256, and evidence.json names that file and that secret."""

    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        if code != 0:
            return  # the exit code is the oracle's to report
        evidence = json.loads(_read_below(out, "evidence.json"))
        record = evidence["file"]
        assert record["original_path"] == path and record["layer_index"] == layer, record
        written = _read_below(out, record["written_to"])
        assert written == content, (
            f"{record['written_to']} holds {_shown(written)}, not the version that holds "
            f"the finding ({_shown(content)})"
        )
        assert record["sha256"] == hashlib.sha256(content).hexdigest()
        secret_sha = hashlib.sha256(b.token(label).encode()).hexdigest()
        assert evidence["finding"]["secret_sha256"] == secret_sha
        [manifest] = json.loads(_read_below(out, "manifest.json"))["recovered"]
        assert manifest == record, "manifest.json and evidence.json disagree"

    return verify


def _finding_runs(*wanted: tuple[str, str, int, bytes]) -> Callable[[str], tuple[Run, ...]]:
    """`recover --finding` for each (label, path, layer, the bytes its evidence must be)."""

    def runs(target: str) -> tuple[Run, ...]:
        return tuple(
            Run(
                ("recover", "-o", "{out}", "--finding", fingerprint(label, path), "--", target),
                WRITTEN,
                f"--finding {label} at {path}",
                verify=_evidence_of(label, path, layer, content),
            )
            for label, path, layer, content in wanted
        )

    return runs


# --- 1. one layer: the same path as file, directory and symlink in turn ----------------------

FIRST = secret_file("r2-ev-first")
LAST = b"# written last\n" + secret_file("r2-ev-last")


def build_same_path_in_turn(work: Path) -> str:
    """a.env a file, b.env a hard link to it, then a.env a directory (with a child), a
    symlink, and a file again; c.env links the last version."""
    return save(
        work,
        [
            b.plain_layer(
                [
                    regular("a.env", FIRST),
                    hardlink("b.env", "a.env"),
                    directory("a.env/"),
                    regular("a.env/inner.txt", b"inside the directory\n"),
                    symlink("a.env", "../../victim/secret.txt"),
                    regular("a.env", LAST),
                    hardlink("c.env", "a.env"),
                ]
            )
        ],
    )


# --- 2. a file deleted by its own layer, and written again -----------------------------------

GONE = secret_file("r2-ev-gone")
AGAIN = secret_file("r2-ev-again")  # the same length: only the member's position tells them


def build_deleted_in_own_layer(work: Path) -> str:
    """d/k.env written, d replaced by a symlink (deleting d/k.env), d a directory again and
    d/k.env written again, all in layer 0: two findings at one path in one layer."""
    return save(
        work,
        [
            b.plain_layer(
                [
                    directory("d/"),
                    regular("d/k.env", GONE),
                    symlink("d", "elsewhere"),
                    directory("d/"),
                    regular("d/k.env", AGAIN),
                ]
            )
        ],
    )


# --- 3. a hard link across layers to a path overwritten later --------------------------------

TARGET = secret_file("r2-ev-target")
OTHER = secret_file("r2-ev-other")  # the same length as TARGET
LATER = b"# the later version\n" + secret_file("r2-ev-later")


def build_link_across_layers(work: Path) -> str:
    """Layer 0: src.env, t.env a hard link to it, src.env written again. Layer 1: copy.env a
    link to t.env (so to the first src.env), then t.env a directory, a symlink and a file."""
    return save(
        work,
        [
            b.plain_layer(
                [
                    regular("src.env", TARGET),
                    hardlink("t.env", "src.env"),
                    regular("src.env", OTHER),
                ]
            ),
            b.plain_layer(
                [
                    hardlink("copy.env", "t.env"),
                    directory("t.env/"),
                    symlink("t.env", "/etc/passwd"),
                    regular("t.env", LATER),
                ]
            ),
        ],
    )


# --- 4. a chain of hard links to versions replaced later -------------------------------------

CHAIN = secret_file("r2-ev-chain")
CHAIN_NEXT = secret_file("r2-ev-chain-next")


def build_link_chain(work: Path) -> str:
    """l1 links s.env, s.env is rewritten; l2 links l1 in the next layer, which replaces l1;
    l3 links l2 in the third, which replaces l2 and s.env: every link holds CHAIN."""
    return save(
        work,
        [
            b.plain_layer(
                [regular("s.env", CHAIN), hardlink("l1", "s.env"), regular("s.env", CHAIN_NEXT)]
            ),
            b.plain_layer([hardlink("l2", "l1"), directory("l1/"), regular("s.env", b"clean\n")]),
            b.plain_layer([hardlink("l3", "l2"), symlink("l2", "s.env"), directory("s.env/")]),
        ],
    )


CASES: tuple[Case, ...] = (
    Case(
        "evidence-same-path-in-turn",
        6,
        "layer 0: a.env a file, b.env a hard link to it, a.env a directory, a symlink and a "
        "file again, c.env a link to the last",
        build_same_path_in_turn,
        FINDINGS,
        all_of(
            finding("r2-ev-first", "/b.env", 0, "present"),
            findings_count("r2-ev-first", 1),  # the first a.env is superseded in its layer
            finding("r2-ev-last", "/a.env", 0, "present"),
            finding("r2-ev-last", "/c.env", 0, "present"),
        ),
        (plant("/b.env", FIRST), plant("/a.env", LAST), plant("/c.env", LAST)),
        issue_round=ROUND,
        runs=_finding_runs(
            ("r2-ev-first", "/b.env", 0, FIRST),
            ("r2-ev-last", "/a.env", 0, LAST),
            ("r2-ev-last", "/c.env", 0, LAST),
        ),
    ),
    Case(
        "evidence-deleted-in-own-layer",
        6,
        "layer 0: d/k.env, d a symlink, d a directory and d/k.env again (same size)",
        build_deleted_in_own_layer,
        FINDINGS,
        all_of(
            finding("r2-ev-gone", "/d/k.env", 0, "deleted", removed_by=0),
            finding("r2-ev-again", "/d/k.env", 0, "present"),
        ),
        (plant("/d/k.env", AGAIN),),
        issue_round=ROUND,
        runs=_finding_runs(
            ("r2-ev-gone", "/d/k.env", 0, GONE),
            ("r2-ev-again", "/d/k.env", 0, AGAIN),
        ),
    ),
    Case(
        "evidence-link-across-layers",
        6,
        "layer 0: src.env, t.env -> src.env, src.env again; layer 1: copy.env -> t.env, then "
        "t.env a directory, a symlink and a file",
        build_link_across_layers,
        FINDINGS,
        all_of(
            finding("r2-ev-target", "/copy.env", 1, "present"),
            finding("r2-ev-target", "/t.env", 0, "overwritten", removed_by=1),
            findings_count("r2-ev-target", 2),  # the first src.env is superseded in its layer
            finding("r2-ev-other", "/src.env", 0, "present"),
            finding("r2-ev-later", "/t.env", 1, "present"),
        ),
        (
            plant("/copy.env", TARGET),
            plant("/t.env", TARGET, layer=0),
            plant("/t.env", LATER, layer=1),
            plant("/src.env", OTHER),
        ),
        issue_round=ROUND,
        runs=_finding_runs(
            ("r2-ev-target", "/copy.env", 1, TARGET),
            ("r2-ev-target", "/t.env", 0, TARGET),
            ("r2-ev-later", "/t.env", 1, LATER),
        ),
    ),
    Case(
        "evidence-link-chain",
        6,
        "l1 -> s.env, s.env rewritten; l2 -> l1 in layer 1, which replaces l1; l3 -> l2 in "
        "layer 2, which replaces l2",
        build_link_chain,
        FINDINGS,
        all_of(
            finding("r2-ev-chain", "/l1", 0, "overwritten", removed_by=1),
            finding("r2-ev-chain", "/l2", 1, "overwritten", removed_by=2),
            finding("r2-ev-chain", "/l3", 2, "present"),
            finding("r2-ev-chain-next", "/s.env", 0, "overwritten", removed_by=1),
        ),
        (plant("/l3", CHAIN), plant("/l2", CHAIN), plant("/l1", CHAIN)),
        issue_round=ROUND,
        runs=_finding_runs(
            ("r2-ev-chain", "/l3", 2, CHAIN),
            ("r2-ev-chain", "/l1", 0, CHAIN),
        ),
    ),
)
