"""Where the base ends, on images the engine builds on top of bases it built first.

Each rule of image/base.py gets an image it decides: a base that ends with CMD (rule 1), a
BuildKit build on a classic-built base with no CMD (rule 2), a root filesystem imported
and built on (rule 2, told as an import), and a base named by a label.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fixtures.build import BASE_IMAGE, ensure_base, save
from layerscan.image.base import find_base
from layerscan.image.open import open_image

DEBIAN_DOCKER = "/usr/bin/docker"
"""Debian's own CLI: it builds with BuildKit in the engine (the newer CLI wants buildx)."""


def _build(engine: Any, folder: Path, tag: str, dockerfile: str, buildkit: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    if buildkit:
        if not os.access(DEBIAN_DOCKER, os.X_OK):
            pytest.skip(f"{DEBIAN_DOCKER} (Debian's docker.io CLI) is missing")
        subprocess.run(
            [DEBIAN_DOCKER, "build", "--network", "host", "-q", "-t", tag, str(folder)],
            check=True,
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )
    else:
        engine.images.build(path=str(folder), tag=tag, rm=True)
    return save(tag, folder / "image.tar", engine)


@pytest.fixture(scope="module")
def layered(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bases and the images built on them, saved: name -> docker-save tarball."""
    ensure_base(engine)
    root = tmp_path_factory.mktemp("bases")
    _build(
        engine,
        root / "base-cmd",
        "layerscan-fixture:base-cmd",
        f'FROM {BASE_IMAGE}\nRUN echo base > /base.txt\nCMD ["sh"]\n',
    )
    _build(
        engine,
        root / "base-plain",
        "layerscan-fixture:base-plain",
        f"FROM {BASE_IMAGE}\nRUN echo base > /base.txt\n",
    )
    return {
        "on-cmd": _build(
            engine,
            root / "on-cmd",
            "layerscan-fixture:on-cmd",
            "FROM layerscan-fixture:base-cmd\nENV MODE=app\nRUN echo app > /app.txt\n"
            'CMD ["cat", "/app.txt"]\n',
        ),
        "buildkit-on-classic": _build(
            engine,
            root / "buildkit-on-classic",
            "layerscan-fixture:buildkit-on-classic",
            "FROM layerscan-fixture:base-plain\nARG MODE=app\nRUN echo app > /app.txt\n",
            buildkit=True,
        ),
        "named": _build(
            engine,
            root / "named",
            "layerscan-fixture:named-base",
            "FROM layerscan-fixture:base-plain\n"
            'LABEL org.opencontainers.image.base.name="registry.example/base:1.0"\n'
            "RUN echo app > /app.txt\n",
        ),
    }


def _base(path: Path) -> tuple[str, int, int, str | None, str | None]:
    with open_image(f"docker-archive:{path}") as image:
        base = find_base(image)
    return base.rule, base.history_count, base.layer_count, base.name, base.named_by


def test_a_base_that_ends_with_cmd_ends_there(layered: dict[str, Path]) -> None:
    assert _base(layered["on-cmd"]) == ("cmd", 3, 2, None, None)


def test_a_buildkit_build_on_a_classic_base_splits_where_the_builder_changes(
    layered: dict[str, Path],
) -> None:
    assert _base(layered["buildkit-on-classic"]) == ("builder", 2, 2, None, None)


def test_an_imported_root_filesystem_is_the_base_of_what_is_built_on_it(
    image_forms: dict[str, dict[str, str]],
) -> None:
    with open_image(image_forms["demo"]["docker-archive"]) as image:
        base = find_base(image)
    assert (base.rule, base.history_count, base.layer_count) == ("import", 1, 1)


def test_a_base_named_by_a_label_is_named_and_still_bounded_by_the_rules(
    layered: dict[str, Path],
) -> None:
    # The label names the base; the boundary comes from the history (an import here:
    # a classic build on a classic base cannot be told apart step by step).
    rule, steps, layers, name, named_by = _base(layered["named"])
    assert (name, named_by) == ("registry.example/base:1.0", "label")
    assert (rule, steps, layers) == ("import", 1, 1)
