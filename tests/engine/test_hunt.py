"""`hunt`: one known secret across real images, in every form and every place it can hide.

Four images are built by the engine from the busybox base: A copies a zip holding a zip
holding a file with the hunted string, then deletes it; B holds nothing; C holds near
misses (the string one character off, and cut short); D holds a second secret as a build
arg, in ENV as part of a longer base64 text, URL-encoded in a file and as it is in a label.
The hunted strings are random (fixtures/credentials.py): no rule would ever flag them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from fixtures.build import BASE_IMAGE, ensure_base, save
from fixtures.credentials import Credentials
from layerscan.detect.known_secret import Needle
from tests.support.command import layerscan
from tests.support.paths import ROOT
from tests.support.samples import zip_bytes


def _forms_secret(credentials: Credentials) -> str:
    """A second fabricated secret, with characters URL encoding changes (from the first)."""
    hunted = credentials.hunted_string
    return hunted[:20] + "/+=&" + hunted[20:]


def _build(engine: Any, folder: Path, name: str, dockerfile: str, **args: str) -> Path:
    (folder / "Dockerfile").write_text(dockerfile)
    tag = f"layerscan-fixture:hunt-{name}"
    engine.images.build(path=str(folder), tag=tag, buildargs=args, rm=True)
    return save(tag, folder / f"{name}.tar", engine)


@pytest.fixture(scope="module")
def images(
    engine: Any, credentials: Credentials, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    ensure_base(engine)
    root = tmp_path_factory.mktemp("hunt")
    hunted, forms = credentials.hunted_string, _forms_secret(credentials)
    built = {}
    folder = root / "a"
    folder.mkdir()
    inner = zip_bytes([("conf/key.txt", f"release-key: {hunted}\n"), ("README", "docs\n")])
    (folder / "bundle.zip").write_bytes(zip_bytes([("inner.zip", inner), ("notes.txt", "x")]))
    built["a"] = _build(
        engine,
        folder,
        "a",
        f"FROM {BASE_IMAGE}\nCOPY bundle.zip /opt/bundle.zip\nRUN rm /opt/bundle.zip\n",
    )
    folder = root / "b"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello\n")
    built["b"] = _build(engine, folder, "b", f"FROM {BASE_IMAGE}\nCOPY hello.txt /srv/\n")
    folder = root / "c"
    folder.mkdir()
    near = hunted[:-1] + ("A" if hunted[-1] != "A" else "B")
    (folder / "near.txt").write_text(f"{near}\n{hunted[:30]}\n")
    built["c"] = _build(engine, folder, "c", f"FROM {BASE_IMAGE}\nCOPY near.txt /srv/\n")
    folder = root / "d"
    folder.mkdir()
    blob = base64.b64encode(b"header:" + forms.encode() + b":trailer").decode()
    (folder / "query.txt").write_text(f"GET /deploy?key={quote(forms, safe='')}&x=1\n")
    built["d"] = _build(
        engine,
        folder,
        "d",
        f'FROM {BASE_IMAGE}\nARG DEPLOY_KEY\nENV BLOB={blob}\nLABEL org.example.key="{forms}"\n'
        'COPY query.txt /srv/query.txt\nRUN test -n "$DEPLOY_KEY" && touch /srv/deployed\n',
        DEPLOY_KEY=forms,
    )
    return built


@pytest.fixture
def secret_file(tmp_path: Path, credentials: Credentials) -> Path:
    path = tmp_path / "leaked.txt"
    path.write_text(credentials.hunted_string + "\n")
    return path


def _hunt(*args: str) -> tuple[int, dict[str, Any], str]:
    run = layerscan("hunt", "-f", "json", *args)
    return run.code, json.loads(run.stdout), run.stderr


def _places(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            Path(hit["target"]).stem,
            hit["source"],
            hit["layer"],
            hit["path"],
            hit["nested_path"],
            hit["key"],
            hit["status"],
            hit["removed_by"],
            hit["form"],
        )
        for hit in document["hits"]
    ]


def test_a_string_in_a_deleted_file_of_a_nested_zip_is_found_in_one_image_only(
    images: dict[str, Path], secret_file: Path, credentials: Credentials
) -> None:
    targets = [f"docker-archive:{images[name]}" for name in ("a", "b", "c")]
    run = layerscan("hunt", *targets, "--secret-file", str(secret_file))
    assert run.code == 1, run.stderr
    code, document, stderr = _hunt(*targets, "--secret-file", str(secret_file))
    assert code == 1
    assert _places(document) == [
        ("a", "file", 1, "/opt/bundle.zip", "inner.zip!conf/key.txt", None, "deleted", 2, "exact")
    ]
    [hit] = document["hits"]
    assert hit["instruction"].startswith("COPY file:") and hit["history_index"] == 1
    assert [image["hits"] for image in document["images"]] == [1, 0, 0]
    assert stderr.count("hunting in ") == 3  # progress, one line per image
    for text in (run.stdout, run.stderr, json.dumps(document)):
        assert credentials.hunted_string not in text


def test_the_sha256_alone_finds_the_same_place(
    images: dict[str, Path], credentials: Credentials, tmp_path: Path
) -> None:
    listed = tmp_path / "targets.txt"
    names = "\n".join(f"docker-archive:{images[name]}" for name in ("a", "b", "c"))
    listed.write_text(f"# our images\n{names}\n\n")
    digest = hashlib.sha256(credentials.hunted_string.encode()).hexdigest()
    code, document, _ = _hunt("--targets", str(listed), "--sha256", digest)
    assert code == 1
    assert [place[:5] for place in _places(document)] == [
        ("a", "file", 1, "/opt/bundle.zip", "inner.zip!conf/key.txt")
    ]
    assert document["needle"] == {
        "sha256": digest,
        "given": "sha256",
        "forms": ["base64", "exact", "url"],
    }


def test_every_encoding_and_metadata_place_is_found(
    images: dict[str, Path], credentials: Credentials, tmp_path: Path
) -> None:
    secret = tmp_path / "second.txt"
    secret.write_bytes(_forms_secret(credentials).encode())
    code, document, _ = _hunt(f"docker-archive:{images['d']}", "--secret-file", str(secret))
    assert code == 1
    found = {
        (hit["source"], hit["path"] or hit["key"], hit["history_index"], hit["form"])
        for hit in document["hits"]
    }
    assert found == {
        ("config", "Env[1]", None, "base64"),  # inside a longer base64 text, odd alignment
        ("config", "Labels.org.example.key", None, "exact"),
        ("history", None, 2, "base64"),  # the ENV step
        ("history", None, 3, "exact"),  # the LABEL step
        ("history", None, 5, "exact"),  # the build arg the RUN step recorded
        ("file", "/srv/query.txt", 4, "url"),
    }
    assert _forms_secret(credentials) not in json.dumps(document)


def test_not_found_anywhere_exits_zero(images: dict[str, Path], tmp_path: Path) -> None:
    absent = tmp_path / "absent.txt"
    absent.write_text("this-string-is-in-no-image-0123456789\n")
    code, document, _ = _hunt(f"docker-archive:{images['b']}", "--secret-file", str(absent))
    assert (code, document["summary"]["hits"], document["hits"]) == (0, 0, [])


def test_an_unreadable_image_is_reported_and_the_others_are_hunted(
    images: dict[str, Path], secret_file: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.tar"
    data = images["a"].read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    missing = tmp_path / "missing.tar"
    targets = [str(cut), str(missing), f"docker-archive:{images['b']}"]
    code, document, stderr = _hunt(*targets, "--secret-file", str(secret_file))
    assert code == 3  # nothing found, and not every image was read
    assert [image["complete"] for image in document["images"]] == [False, False, True]
    assert "Traceback" not in stderr and f"{missing}: not read in full" in stderr
    code, document, _ = _hunt(
        *targets, f"docker-archive:{images['a']}", "--secret-file", str(secret_file)
    )
    assert code == 1 and document["summary"]["unreadable"] == 2  # found wins, both are told


def test_the_secret_is_never_an_argument_in_clear() -> None:
    run = layerscan("hunt", "fixtures/demo.tar")
    assert run.code == 2 and "--sha256 HEX or --secret-file FILE" in run.stderr
    run = layerscan("hunt", "fixtures/demo.tar", "--sha256", "not-hex")
    assert run.code == 2 and "64 hexadecimal digits" in run.stderr


def test_base64_cores_match_at_every_alignment(credentials: Credentials) -> None:
    secret = credentials.hunted_string.encode()
    needle = Needle.from_secret(secret)
    for prefix in (b"", b"a", b"ab", b"abc"):
        text = base64.b64encode(prefix + secret + b"tail").decode()
        found = needle.search(f"blob: {text}")
        assert found is not None and found.form == "base64", prefix


def test_the_readme_shows_the_demo_hunt_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("$ layerscan hunt fixtures/demo.tar --sha256 ")
    command, _, rest = readme[start:].partition("\n")
    shown = rest.split("```", 1)[0]
    run = layerscan(*command.removeprefix("$ layerscan ").split())
    assert run.code == 1, run.stderr
    assert run.stdout == shown
