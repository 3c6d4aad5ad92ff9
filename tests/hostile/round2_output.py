"""Issue 19, class 4. Writes through planted links and special files, and layouts whose files are
links out of them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from tests.hostile.builders import secret_file
from tests.hostile.corpus import Case, Run, finding, plant, save, secret_layer
from tests.hostile.round2_evidence import fingerprint

# === recover's own files: manifest.json and evidence.json ===================================
#
# `recover` reads its manifest.json (to add a record) and replaces it, and `recover --finding`
# writes evidence.json beside it. Each is opened without following a link and without
# blocking (O_NOFOLLOW | O_NONBLOCK), and anything but a regular file of at most 16 MiB that
# parses as a layerscan manifest is refused in one line (exit 2) before anything is written:
# a FIFO never hangs the command, a link never leads out of the directory, deeply nested or
# foreign JSON is never overwritten. Only recover's cases live in this block; its helpers are
# prefixed `_recover_`.

_RECOVER_ROUND = 2
_RECOVER_REFUSED = frozenset({2})
_RECOVER_WRITTEN = frozenset({0})
_RECOVER_LABEL = "r2-out-recover"
_RECOVER_PATH = f"/{_RECOVER_LABEL}.env"
_RECOVER_DEEP = b"[" * 1_000_000
_RECOVER_FOREIGN = b'{"notes": "the user\'s own file", "items": [1, 2, 3]}\n'

_RecoverPrepare = Callable[[Path], None]
_RecoverVerify = Callable[[int | None, bytes, bytes, Path], None]


def _recover_build(work: Path) -> str:
    return save(work, [secret_layer(_RECOVER_LABEL)])


def _recover_fifo(name: str) -> _RecoverPrepare:
    def prepare(out: Path) -> None:
        os.mkfifo(out / name)

    return prepare


def _recover_link(name: str, victim_file: str) -> _RecoverPrepare:
    def prepare(out: Path) -> None:
        (out / name).symlink_to(Path("..") / "victim" / victim_file)

    return prepare


def _recover_file(name: str, content: bytes) -> _RecoverPrepare:
    def prepare(out: Path) -> None:
        (out / name).write_bytes(content)

    return prepare


def _recover_directory(name: str) -> _RecoverPrepare:
    def prepare(out: Path) -> None:
        (out / name).mkdir()

    return prepare


def _recover_refused(
    name: str, why: str, kind: int, content: bytes | None = None
) -> _RecoverVerify:
    """Refused in one line naming the file and why; out/ holds only what was planted, as it
    was (`kind` is its file type, `content` its bytes when it is a regular file)."""

    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        text = stderr.decode("utf-8", "replace")
        assert f"{out / name} {why}" in text, text[-300:]
        assert sorted(os.listdir(out)) == [name], f"out/ holds {sorted(os.listdir(out))}"
        info = os.lstat(out / name)
        assert stat.S_IFMT(info.st_mode) == kind, stat.filemode(info.st_mode)
        if content is not None:
            assert (out / name).read_bytes() == content, "the planted file was changed"

    return verify


def _recover_evidence_written(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
    """The planted temporary-name link was replaced, never written through."""
    assert not os.path.islink(out / ".manifest.json.tmp")
    assert stat.S_ISREG(os.lstat(out / "manifest.json").st_mode)
    assert stat.S_ISREG(os.lstat(out / "evidence.json").st_mode)
    written = (out / "layer-0" / f"{_RECOVER_LABEL}.env").read_bytes()
    assert written == secret_file(_RECOVER_LABEL), "the evidence is not the planted file"


def _recover_links_out(out: Path) -> None:
    _recover_link("manifest.json", "passwd")(out)
    _recover_link("evidence.json", "secret.txt")(out)


def _recover_only_links_left(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
    assert sorted(os.listdir(out)) == ["evidence.json", "manifest.json"], os.listdir(out)
    assert os.readlink(out / "manifest.json") == "../victim/passwd"
    assert os.readlink(out / "evidence.json") == "../victim/secret.txt"


def _recover_runs(target: str) -> tuple[Run, ...]:
    by_path = ("recover", "-o", "{out}", "--", target, _RECOVER_PATH)
    by_finding = (
        "recover",
        "-o",
        "{out}",
        "--finding",
        fingerprint(_RECOVER_LABEL, _RECOVER_PATH),
        "--",
        target,
    )
    manifest, evidence = "manifest.json", "evidence.json"
    refusing = "; refusing to use it"
    foreign = "is not a layerscan manifest; refusing to overwrite it"
    fifo, link, regular, folder = stat.S_IFIFO, stat.S_IFLNK, stat.S_IFREG, stat.S_IFDIR
    return (
        Run(
            by_path,
            _RECOVER_REFUSED,
            "manifest.json a FIFO",
            _recover_fifo(manifest),
            _recover_refused(manifest, "is a FIFO" + refusing, fifo),
        ),
        Run(
            by_finding,
            _RECOVER_REFUSED,
            "--finding, manifest.json a FIFO",
            _recover_fifo(manifest),
            _recover_refused(manifest, "is a FIFO" + refusing, fifo),
        ),
        Run(
            by_path,
            _RECOVER_REFUSED,
            "manifest.json a link to the victim's passwd",
            _recover_link(manifest, "passwd"),
            _recover_refused(manifest, "is a symbolic link" + refusing, link),
        ),
        Run(
            by_path,
            _RECOVER_REFUSED,
            "manifest.json nested a million levels deep",
            _recover_file(manifest, _RECOVER_DEEP),
            _recover_refused(manifest, foreign, regular, _RECOVER_DEEP),
        ),
        Run(
            by_path,
            _RECOVER_REFUSED,
            "manifest.json the user's own JSON",
            _recover_file(manifest, _RECOVER_FOREIGN),
            _recover_refused(manifest, foreign, regular, _RECOVER_FOREIGN),
        ),
        Run(
            by_finding,
            _RECOVER_REFUSED,
            "--finding, evidence.json a link to the victim's secret.txt",
            _recover_link(evidence, "secret.txt"),
            _recover_refused(evidence, "is a symbolic link" + refusing, link),
        ),
        Run(
            by_finding,
            _RECOVER_REFUSED,
            "--finding, evidence.json a FIFO",
            _recover_fifo(evidence),
            _recover_refused(evidence, "is a FIFO" + refusing, fifo),
        ),
        Run(
            by_finding,
            _RECOVER_REFUSED,
            "--finding, evidence.json a directory",
            _recover_directory(evidence),
            _recover_refused(evidence, "is a directory" + refusing, folder),
        ),
        Run(
            by_finding,
            _RECOVER_WRITTEN,
            "--finding, .manifest.json.tmp a link to the victim's secret.txt",
            _recover_link(".manifest.json.tmp", "secret.txt"),
            _recover_evidence_written,
        ),
    )


_RECOVER_CASES: tuple[Case, ...] = (
    Case(
        "recover-own-files-special",
        4,
        "recover into an out/ whose manifest.json or evidence.json is a FIFO, a link to a "
        "victim, a directory, JSON nested a million deep or the user's own JSON",
        _recover_build,
        frozenset({1}),
        finding(_RECOVER_LABEL, _RECOVER_PATH, 0, "present"),
        (plant(_RECOVER_PATH, secret_file(_RECOVER_LABEL)),),
        issue_round=_RECOVER_ROUND,
        runs=_recover_runs,
    ),
    Case(
        "recover-own-files-linked-out",
        4,
        "recover by path and by --finding into an out/ whose manifest.json links to the "
        "victim's passwd and evidence.json to its secret.txt",
        _recover_build,
        frozenset({1}),
        finding(_RECOVER_LABEL, _RECOVER_PATH, 0, "present"),
        (plant(_RECOVER_PATH, codes=(2,)),),
        prepare_out=_recover_links_out,
        issue_round=_RECOVER_ROUND,
        runs=lambda target: (
            Run(
                (
                    "recover",
                    "-o",
                    "{out}",
                    "--finding",
                    fingerprint(_RECOVER_LABEL, _RECOVER_PATH),
                    "--",
                    target,
                ),
                _RECOVER_REFUSED,
                "--finding, manifest.json and evidence.json links",
                _recover_links_out,
                _recover_only_links_left,
            ),
        ),
    ),
)

# === end of recover's block =================================================================

CASES: tuple[Case, ...] = (*_RECOVER_CASES,)
