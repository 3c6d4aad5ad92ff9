"""The facade of `hunt` on real images (tests/support/hunt_images.py): every place, every form.

The command line around it (exit codes, targets files, progress, what it prints) is tested
in tests/cli/test_hunt_command.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.credentials import Credentials
from layerscan.detect.known_secret import Needle
from layerscan.engine.hunt import _RAW_ONLY, hunt, hunt_document
from layerscan.engine.options import ScanOptions
from tests.support.hunt_images import build_hunt_images, forms_secret, name_secret, truncated_copy


@pytest.fixture(scope="module")
def images(
    engine: Any, credentials: Credentials, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    return build_hunt_images(engine, credentials, tmp_path_factory.mktemp("hunt"))


def _document(
    images: dict[str, Path], names: str, needle: Needle, options: ScanOptions | None = None
) -> dict[str, Any]:
    targets = [f"docker-archive:{images[name]}" for name in names]
    return hunt_document(needle, hunt(targets, needle, options))


def _where(document: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        (
            hit["source"],
            hit["layer"],
            hit["history_index"],
            hit["path"],
            hit["nested_path"],
            hit["key"],
            hit["status"],
            hit["removed_by"],
            hit["form"],
        )
        for hit in document["hits"]
    }


def test_a_deleted_file_in_a_zip_inside_a_zip_is_found_in_its_copy_layer(
    images: dict[str, Path], credentials: Credentials
) -> None:
    needle = Needle.from_secret(credentials.hunted_string.encode())
    document = _document(images, "abc", needle)
    assert _where(document) == {
        ("file", 1, 1, "/opt/bundle.zip", "inner.zip!conf/key.txt", None, "deleted", 2, "exact")
    }
    [hit] = document["hits"]
    assert hit["instruction"].startswith("COPY file:")
    assert hit["diff_id"].startswith("sha256:") and hit["reference"]
    assert [image["hits"] for image in document["images"]] == [1, 0, 0]
    assert all(image["complete"] for image in document["images"])


def test_the_sha256_alone_finds_the_same_place_and_not_the_near_misses(
    images: dict[str, Path], credentials: Credentials
) -> None:
    digest = hashlib.sha256(credentials.hunted_string.encode()).hexdigest()
    document = _document(images, "abc", Needle.from_sha256(digest))
    assert {place[:5] for place in _where(document)} == {
        ("file", 1, 1, "/opt/bundle.zip", "inner.zip!conf/key.txt")
    }
    assert document["needle"] == {
        "sha256": digest,
        "given": "sha256",
        "forms": ["base64", "base64url", "exact", "url"],
    }


_FORMS_PLACES = {
    # ENV: inside a longer base64 text, at an odd alignment
    ("config", None, None, None, None, "Env[1]", "present", None, "base64"),
    ("config", None, None, None, None, "Labels.org.example.key", "present", None, "exact"),
    ("history", None, 2, None, None, None, "present", None, "base64"),  # the ENV step
    ("history", None, 3, None, None, None, "present", None, "exact"),  # the LABEL step
    ("history", 2, 5, None, None, None, "present", None, "exact"),  # the RUN's build arg
    ("file", 1, 4, "/srv/query.txt", None, None, "present", None, "url"),
    # base64 (its URL-safe alphabet writes it the same) in a zip, in a tar.gz, in a zip
    (
        "file",
        1,
        4,
        "/srv/release.zip",
        "pkg.tar.gz!lib/deep.zip!cfg/token",
        None,
        "present",
        None,
        "base64",
    ),
}


def test_every_encoding_and_every_metadata_place_is_found_from_the_secret(
    images: dict[str, Path], credentials: Credentials
) -> None:
    needle = Needle.from_secret(forms_secret(credentials).encode())
    document = _document(images, "d", needle)
    assert _where(document) == _FORMS_PLACES
    assert forms_secret(credentials) not in json.dumps(document)


def test_the_sha256_finds_what_is_a_token_or_the_base64_of_a_token(
    images: dict[str, Path], credentials: Credentials
) -> None:
    digest = hashlib.sha256(forms_secret(credentials).encode()).hexdigest()
    document = _document(images, "d", Needle.from_sha256(digest))
    assert _where(document) == _FORMS_PLACES


def test_a_secret_that_is_a_file_name_is_found_in_the_name(
    images: dict[str, Path], credentials: Credentials
) -> None:
    secret = name_secret(credentials).encode()
    for needle in (
        Needle.from_secret(secret),
        Needle.from_sha256(hashlib.sha256(secret).hexdigest()),
    ):
        document = _document(images, "d", needle)
        path = f"/var/cache/tokens/{name_secret(credentials)}.json"
        assert _where(document) == {
            ("path", 2, 5, path, None, "name", "present", None, "exact"),
            ("history", 2, 5, None, None, None, "present", None, "exact"),  # the RUN's touch
        }
        assert name_secret(credentials) not in json.dumps(document).replace(path, "")


def test_a_file_over_the_size_limit_is_searched_as_raw_bytes_and_said_so(
    images: dict[str, Path], credentials: Credentials
) -> None:
    needle = Needle.from_secret(forms_secret(credentials).encode())
    document = _document(images, "d", needle, ScanOptions(max_file_bytes=16))
    files = {place for place in _where(document) if place[0] == "file"}
    assert files == {("file", 1, 4, "/srv/query.txt", None, None, "present", None, "url")}
    [image] = document["images"]
    assert image["complete"] and image["skipped_total"] == len(image["skipped"]) > 0
    assert {"layer": 1, "path": "/srv/release.zip", "nested_path": None, "reason": _RAW_ONLY} in (
        image["skipped"]
    )


def test_an_unreadable_image_is_reported_and_the_next_is_still_hunted(
    images: dict[str, Path], credentials: Credentials, tmp_path: Path
) -> None:
    cut = truncated_copy(images["a"], tmp_path)
    needle = Needle.from_secret(credentials.hunted_string.encode())
    targets = [str(cut), str(tmp_path / "missing.tar"), f"docker-archive:{images['a']}"]
    document = hunt_document(needle, hunt(targets, needle))
    assert [image["complete"] for image in document["images"]] == [False, False, True]
    assert document["images"][1]["error"] and not document["images"][1]["failed"]
    assert [hit["target"] for hit in document["hits"]] == [targets[2]]
    assert document["summary"]["unreadable"] == 2
