"""`layerscan hunt` as a user runs it, on real images (tests/support/hunt_images.py): exit
codes, targets files, progress, the table and JSON, and never the secret in anything it writes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.credentials import Credentials
from tests.support.command import layerscan
from tests.support.hunt_images import build_hunt_images, forms_secret, truncated_copy
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def images(
    engine: Any, credentials: Credentials, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    return build_hunt_images(engine, credentials, tmp_path_factory.mktemp("hunt-cli"))


@pytest.fixture
def secret_file(tmp_path: Path, credentials: Credentials) -> Path:
    path = tmp_path / "leaked.txt"
    path.write_text(credentials.hunted_string + "\n")
    return path


def _targets(images: dict[str, Path], names: str) -> list[str]:
    return [f"docker-archive:{images[name]}" for name in names]


def _hunt(*args: str) -> tuple[int, dict[str, Any], str]:
    run = layerscan("hunt", "-f", "json", *args)
    return run.code, json.loads(run.stdout), run.stderr


def test_hunting_three_images_finds_the_deleted_nested_file_in_one_and_exits_1(
    images: dict[str, Path], secret_file: Path, credentials: Credentials, tmp_path: Path
) -> None:
    targets = _targets(images, "abc")
    run = layerscan("hunt", *targets, "--secret-file", str(secret_file))
    assert run.code == 1, run.stderr
    [row] = [line for line in run.stdout.splitlines() if "/opt/bundle.zip" in line]
    assert "/opt/bundle.zip!inner.zip!conf/key.txt" in row and "deleted by layer 2" in row
    assert " COPY file:" in row and " exact " in row
    assert run.stderr.count("hunting in ") == 3  # progress, one line per image
    report = tmp_path / "hunt.json"
    again = layerscan(
        "hunt", *targets, "--secret-file", str(secret_file), "-f", "json", "-o", str(report)
    )
    assert again.code == 1 and again.stdout == ""
    document = json.loads(report.read_text())
    assert (document["schema_version"], document["kind"]) == (1, "layerscan-hunt")
    [hit] = document["hits"]
    assert (hit["target"], hit["layer"], hit["path"], hit["nested_path"]) == (
        targets[0],
        1,
        "/opt/bundle.zip",
        "inner.zip!conf/key.txt",
    )
    assert (hit["status"], hit["removed_by"], hit["source"]) == ("deleted", 2, "file")
    for text in (run.stdout, run.stderr, again.stderr, report.read_text()):
        assert credentials.hunted_string not in text
    digest = hashlib.sha256(credentials.hunted_string.encode()).hexdigest()
    assert f"sha256:{digest[:12]}" in run.stdout


def test_the_sha256_and_a_targets_file_find_the_same_place(
    images: dict[str, Path], credentials: Credentials, tmp_path: Path
) -> None:
    listed = tmp_path / "targets.txt"
    names = "\n".join(_targets(images, "abc"))
    listed.write_text(f"# our images\n{names}\n\n   # indented comment\n")
    digest = hashlib.sha256(credentials.hunted_string.encode()).hexdigest()
    code, document, stderr = _hunt("--targets", str(listed), "--sha256", digest)
    assert code == 1, stderr
    assert [(hit["layer"], hit["path"], hit["nested_path"]) for hit in document["hits"]] == [
        (1, "/opt/bundle.zip", "inner.zip!conf/key.txt")
    ]
    assert document["summary"]["images"] == 3


def test_history_and_config_hits_name_their_step_and_key(
    images: dict[str, Path], credentials: Credentials, tmp_path: Path
) -> None:
    secret = tmp_path / "second.txt"
    secret.write_bytes(forms_secret(credentials).encode())  # no newline: read as it is
    run = layerscan("hunt", *_targets(images, "d"), "--secret-file", str(secret))
    assert run.code == 1, run.stderr
    assert "config: Env[1]" in run.stdout and "config: Labels.org.example.key" in run.stdout
    assert "history" in run.stdout and "/srv/query.txt" in run.stdout
    assert forms_secret(credentials) not in run.stdout + run.stderr


def test_a_secret_found_nowhere_exits_0(images: dict[str, Path], tmp_path: Path) -> None:
    absent = tmp_path / "absent.txt"
    absent.write_text("this-string-is-in-no-image-0123456789\n")
    code, document, _ = _hunt(*_targets(images, "bc"), "--secret-file", str(absent))
    assert (code, document["summary"]["hits"], document["hits"]) == (0, 0, [])
    run = layerscan("hunt", "-q", *_targets(images, "b"), "--secret-file", str(absent))
    assert run.code == 0 and "hunting" not in run.stderr
    assert run.stdout.endswith("0 places in 0 of 1 images\n")


def test_unreadable_images_are_told_and_the_others_hunted_and_found_wins(
    images: dict[str, Path], secret_file: Path, tmp_path: Path
) -> None:
    cut = truncated_copy(images["a"], tmp_path)
    missing = tmp_path / "missing.tar"
    targets = [str(cut), str(missing), *_targets(images, "b")]
    code, document, stderr = _hunt(*targets, "--secret-file", str(secret_file))
    assert code == 3  # nothing found, and not every image was read
    assert [image["complete"] for image in document["images"]] == [False, False, True]
    assert "Traceback" not in stderr and f"{missing}: not read in full" in stderr
    code, document, stderr = _hunt(
        *targets, *_targets(images, "a"), "--secret-file", str(secret_file)
    )
    assert code == 1 and document["summary"]["unreadable"] == 2  # found wins, both are told
    assert f"{cut}: not read in full" in stderr


def test_the_secret_is_never_an_argument_in_clear() -> None:
    run = layerscan("hunt", "fixtures/demo.tar")
    assert run.code == 2 and "--sha256 HEX or --secret-file FILE" in run.stderr
    run = layerscan("hunt", "fixtures/demo.tar", "--sha256", "not-hex")
    assert run.code == 2 and "64 hexadecimal digits" in run.stderr
    run = layerscan("hunt", "-", "--secret-file", "-")
    assert run.code == 2 and "stdin can carry one of" in run.stderr


def test_the_secret_can_come_from_stdin(images: dict[str, Path], credentials: Credentials) -> None:
    run = layerscan(
        "hunt",
        *_targets(images, "a"),
        "--secret-file",
        "-",
        stdin=credentials.hunted_string.encode() + b"\n",
    )
    assert run.code == 1 and "/opt/bundle.zip" in run.stdout


def test_the_readme_shows_the_demo_hunt_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("$ layerscan hunt fixtures/demo.tar --sha256 ")
    command, _, rest = readme[start:].partition("\n")
    shown = rest.split("```", 1)[0]
    run = layerscan(*command.removeprefix("$ layerscan ").split())
    assert run.code == 1, run.stderr
    assert run.stdout == shown
