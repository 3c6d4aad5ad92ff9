"""Issue 19, class 5. Terminal escapes from image content on stdout and stderr (errors, logs,
messages).

Names an image chooses (repository tags, OCI ref.name annotations, file paths, history lines)
reach error messages, `-v` log lines and `recover`'s message. Each is printed escaped (ESC as
`\\x1b`), like the table: the oracle fails any run whose output holds a raw control byte, and
each run here also checks that the escaped name was printed at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.hostile import builders as b
from tests.hostile.corpus import Case, Run, finding, oci_archive, plant, save

ROUND = 2
FINDINGS = frozenset({1})
REFUSED = frozenset({2})
OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
"""Writes "echo pwned" to the clipboard of a terminal that honours OSC 52."""
CLEAR = "\x1b[2J\x1b[H"
ESCAPED = "\\x1b"


def _printed_escaped(where: str) -> Callable[[int | None, bytes, bytes, Path], None]:
    def verify(code: int | None, stdout: bytes, stderr: bytes, out: Path) -> None:
        text = (stdout if where == "stdout" else stderr).decode("utf-8", "replace")
        assert ESCAPED in text, f"the hostile name was not printed (escaped) on {where}"

    return verify


def build_hostile_repo_tag(work: Path) -> str:
    """A docker save whose RepoTags entry carries OSC 52 and a screen clear."""
    layer = b.plain_layer([b.regular("app/tag.env", b.secret_file("hostile-tag"))])
    return save(work, [layer], repo_tag=f"{OSC52}evil/{CLEAR}app:1")


def build_hostile_ref_annotations(work: Path) -> str:
    """An OCI archive with two manifests whose ref.name annotations carry escapes, so that
    any command without --image lists them in its error."""
    layer = b.plain_layer([b.regular("app/ref.env", b.secret_file("hostile-ref"))])
    files = b.oci_layout([layer], ref=f"{OSC52}one")
    index = json.loads(files["index.json"])
    second = dict(index["manifests"][0])
    second["annotations"] = {"org.opencontainers.image.ref.name": f"{CLEAR}two"}
    index["manifests"].append(second)
    files["index.json"] = json.dumps(index).encode()
    return oci_archive(work, files)


ESC_PATH = f"srv/{CLEAR}/{OSC52}.env"


def build_hostile_paths_and_history(work: Path) -> str:
    """Files whose paths carry escapes (one large enough to be skipped, so `-v` logs its
    path), and a history line that carries them too."""
    layer = b.plain_layer(
        [
            b.regular(ESC_PATH, b.secret_file("hostile-path")),
            b.regular(f"big/{OSC52}.bin", b"x" * 4096),
        ]
    )
    history = [{"created_by": f"/bin/sh -c echo {OSC52} > /dev/null"}]
    return save(work, [layer], history=history)


def _tag_runs(target: str) -> tuple[Run, ...]:
    return (
        Run(
            ("scan", "--image", "not-there", "--", target),
            REFUSED,
            "--image lists the tags",
            None,
            _printed_escaped("stderr"),
        ),
    )


def _ref_runs(target: str) -> tuple[Run, ...]:
    return (
        Run(
            ("scan", "--", target),
            REFUSED,
            "two refs: the error lists them",
            None,
            _printed_escaped("stderr"),
        ),
        Run(
            ("history", "--", target),
            REFUSED,
            "history lists them too",
            None,
            _printed_escaped("stderr"),
        ),
    )


def _path_runs(target: str) -> tuple[Run, ...]:
    return (
        Run(
            ("scan", "-v", "--max-file-size", "1000", "-f", "json", "--", target),
            FINDINGS,
            "-v logs the skipped file's path",
            None,
            _printed_escaped("stderr"),
            json=True,
        ),
        Run(
            ("history", "--", target),
            frozenset({0}),
            "history prints the line",
            None,
            _printed_escaped("stdout"),
        ),
    )


CASES: tuple[Case, ...] = (
    Case(
        "terminal-repo-tag",
        5,
        "RepoTags holds OSC 52 (clipboard) and a screen clear",
        build_hostile_repo_tag,
        FINDINGS,
        finding("hostile-tag", "/app/tag.env", 0),
        issue_round=ROUND,
        runs=_tag_runs,
    ),
    Case(
        "terminal-ref-annotations",
        5,
        "two OCI manifests whose ref.name annotations hold escapes",
        build_hostile_ref_annotations,
        REFUSED,
        lambda observed: None,
        readable=False,
        issue_round=ROUND,
        runs=_ref_runs,
    ),
    Case(
        "terminal-paths-and-history",
        5,
        "file paths and a history line holding OSC 52 and a screen clear",
        build_hostile_paths_and_history,
        FINDINGS,
        finding("hostile-path", "/" + ESC_PATH, 0),
        (plant("/" + ESC_PATH, b.secret_file("hostile-path")),),
        issue_round=ROUND,
        runs=_path_runs,
    ),
)
