"""Issue 19, class 4 (reports, baselines and layouts; recover's own files are in
round2_output.py). Writes through planted links and special files, and OCI layouts whose
files are links out of them.

Every file the tool writes is created beside its name and renamed over it, so a link planted
at the name is refused (never written through) and a FIFO or device there is refused at once
(never blocked on). An OCI layout is read one component at a time without following links, so
an `index.json` or `blobs/` that is a link to elsewhere is not read through.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.hostile import builders as b
from tests.hostile.corpus import Case, Run, bait, save, secret_layer

ROUND = 2
REFUSED = frozenset({2})
FINDINGS = frozenset({1})


def build_secret_image(work: Path) -> str:
    return save(work, [secret_layer("writes")])


Prepare = Callable[[Path], None]
Verify = Callable[[int | None, bytes, bytes, Path], None]


def _link_to_victim(name: str, victim_file: str = "secret.txt") -> Prepare:
    def prepare(out: Path) -> None:
        (out / name).symlink_to(Path("..") / "victim" / victim_file)

    return prepare


def _default_baseline_link(out: Path) -> None:
    """The default baseline path (in the working directory, the sandbox) is a planted link."""
    (out.parent / ".layerscan-baseline.json").symlink_to(Path("victim") / "passwd")


def _fifo(name: str) -> Prepare:
    def prepare(out: Path) -> None:
        os.mkfifo(out / name)

    return prepare


def _refused(fragment: str) -> Verify:
    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        text = stderr.decode("utf-8", "replace")
        assert "refusing to write" in text and fragment in text, text[-300:]

    return verify


def _untouched_link(name: str) -> Verify:
    """The planted link is still a link to the victim (the oracle checks the victim's bytes)."""

    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        assert (out / name).is_symlink(), f"{name} was replaced or removed"
        assert "refusing to write" in stderr.decode("utf-8", "replace")

    return verify


def _report_runs(target: str) -> tuple[Run, ...]:
    return (
        Run(
            ("scan", "-f", "sarif", "-o", "{out}/report.sarif", "--", target),
            REFUSED,
            "sarif report at a link",
            _link_to_victim("report.sarif"),
            _untouched_link("report.sarif"),
        ),
        Run(
            ("scan", "-o", "{out}/report.json", "--", target),
            REFUSED,
            "json report at a FIFO",
            _fifo("report.json"),
            _refused("a FIFO"),
        ),
        Run(
            ("scan", "-f", "markdown", "-o", "{out}/report.md", "-f", "json", "--", target),
            REFUSED,
            "second report fine, first at a link",
            _link_to_victim("report.md", "passwd"),
            _untouched_link("report.md"),
        ),
    )


def _baseline_runs(target: str) -> tuple[Run, ...]:
    return (
        Run(
            ("baseline", "--", target),
            REFUSED,
            "default baseline path is a link",
            _default_baseline_link,
            _refused("a symbolic link"),
        ),
        Run(
            ("baseline", "-o", "{out}/base.json", "--", target),
            REFUSED,
            "baseline at a FIFO",
            _fifo("base.json"),
            _refused("a FIFO"),
        ),
        Run(
            ("baseline", "-o", "{out}/base.json", "--", target),
            frozenset({0}),
            "baseline at a plain new name",
            None,
            _baseline_written,
        ),
    )


def _baseline_written(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
    written = out / "base.json"
    assert written.is_file() and not written.is_symlink()
    assert b'"fingerprint"' in written.read_bytes()


def _layout_with_linked(work: Path, linked: str) -> str:
    """An OCI layout dir holding the 'bait' secret whose `linked` entry (index.json or blobs)
    is a link to the same entry of an identical layout elsewhere: read through the link, the
    bait is reported; refused, nothing is."""
    data = bait(work).read_bytes()
    files = b.oci_layout([b.StoredLayer(data, b.digest(data))])
    elsewhere = b.write_layout_dir(work / "elsewhere", files)
    root = work / "image" / "layout"
    own = {name: body for name, body in files.items() if name.split("/")[0] != linked}
    b.write_layout_dir(root, own)
    (root / linked).symlink_to(elsewhere / linked)
    return f"oci-dir:{root}"


def _link_refused(target: str) -> Run:
    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        text = stderr.decode("utf-8", "replace")
        assert "link" in text and "not followed" in text, text[-300:]

    return Run(("scan", "-f", "json", "--", target), REFUSED, "the link is named", None, verify)


def build_layout_index_link(work: Path) -> str:
    return _layout_with_linked(work, "index.json")


def build_layout_blobs_link(work: Path) -> str:
    return _layout_with_linked(work, "blobs")


CASES: tuple[Case, ...] = (
    Case(
        "report-outputs-planted",
        4,
        "-o report.sarif a link to a victim file, -o report.json a FIFO, -o report.md a link",
        build_secret_image,
        FINDINGS,
        lambda observed: None,
        issue_round=ROUND,
        runs=_report_runs,
    ),
    Case(
        "baseline-outputs-planted",
        4,
        "the default .layerscan-baseline.json a link to a victim file, -o base.json a FIFO",
        build_secret_image,
        FINDINGS,
        lambda observed: None,
        issue_round=ROUND,
        runs=_baseline_runs,
    ),
    Case(
        "oci-dir-index-json-link",
        4,
        "an OCI layout whose index.json is a link to another layout's (holding a bait)",
        build_layout_index_link,
        REFUSED,
        lambda observed: None,
        readable=False,
        issue_round=ROUND,
        runs=lambda target: (_link_refused(target),),
    ),
    Case(
        "oci-dir-blobs-link",
        4,
        "an OCI layout whose blobs/ is a link to another layout's blobs (holding a bait)",
        build_layout_blobs_link,
        REFUSED,
        lambda observed: None,
        readable=False,
        issue_round=ROUND,
        runs=lambda target: (_link_refused(target),),
    ),
)
