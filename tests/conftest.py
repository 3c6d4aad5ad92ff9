"""Shared fixtures: a real Docker engine, the fixture images it builds, and their other forms.

The engine is started by tests/support/dockerd.sh when none answers (and stopped at the end if we
started it). Without an engine the engine-backed tests are skipped with the reason shown,
except when LAYERSCAN_REQUIRE_ENGINE=1 (set by .ci/run): then they fail loudly.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures import build as fixture_build
from fixtures.credentials import Credentials, generate
from tests.support.paths import ROOT

DOCKERD = ROOT / "tests" / "support" / "dockerd.sh"


def _engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def _unavailable(reason: str) -> None:
    if os.environ.get("LAYERSCAN_REQUIRE_ENGINE") == "1":
        pytest.fail(f"the Docker engine is required here but {reason}", pytrace=False)
    pytest.skip(f"no Docker engine: {reason}")


@pytest.fixture(scope="session", autouse=True)
def private_layer_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The command line caches layers in $XDG_CACHE_HOME/layerscan: the tests use a cache of
    their own (so every test after the first scan of an image also runs on cache hits)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    folder = tmp_path_factory.mktemp("xdg-cache")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder / "layerscan"
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def credentials() -> Credentials:
    return generate()


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """A Docker SDK client on a live engine (started for the session if needed)."""
    import docker

    started = False
    if not _engine_answers():
        result = subprocess.run([str(DOCKERD), "start"], capture_output=True, text=True)
        if result.returncode != 0 or not _engine_answers():
            _unavailable(
                f"tests/support/dockerd.sh could not start one: {result.stderr.strip()[-400:]}"
            )
        started = True
    client = docker.from_env(timeout=600)
    yield client
    client.close()
    if started:
        subprocess.run([str(DOCKERD), "stop"], capture_output=True)


@pytest.fixture(scope="session")
def built_images(engine: Any, credentials: Credentials) -> dict[str, str]:
    """Every fixture image, freshly built by the engine; name -> tag."""
    return {name: fixture_build.build(name, credentials, engine) for name in fixture_build.FIXTURES}


def skopeo(*args: str) -> None:
    if shutil.which("skopeo") is None:
        _unavailable("skopeo is not installed (apt-get install -y skopeo)")
    subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True)


def docker25_archive(legacy_save: Path, destination: Path) -> Path:
    """The layout `docker save` writes from Docker 25 on, made from a legacy save.

    The Debian engine here is 20.10 and writes the legacy layout, so the newer one is made the
    way Docker 25 writes it: the same config bytes and uncompressed layer tars as blobs named
    by digest, an OCI manifest and index, and a manifest.json naming `blobs/sha256/<hex>`.
    """
    blobs: dict[str, bytes] = {}

    def add_blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    with tarfile.open(legacy_save) as legacy:
        [entry] = json.load(legacy.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = legacy.extractfile(entry["Config"]).read()  # type: ignore[union-attr]
        layers = [legacy.extractfile(name).read() for name in entry["Layers"]]  # type: ignore[union-attr]
    config_digest = add_blob(config)
    layer_digests = [add_blob(layer) for layer in layers]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": d,
                "size": len(blobs[d]),
            }
            for d in layer_digests
        ],
    }
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = add_blob(manifest_bytes)
    repo_tag = entry["RepoTags"][0]
    documents = {
        "index.json": {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": manifest["mediaType"],
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "annotations": {
                        "io.containerd.image.name": repo_tag,
                        "org.opencontainers.image.ref.name": repo_tag.split(":")[-1],
                    },
                }
            ],
        },
        "manifest.json": [
            {
                "Config": "blobs/sha256/" + config_digest[7:],
                "RepoTags": [repo_tag],
                "Layers": ["blobs/sha256/" + d[7:] for d in layer_digests],
            }
        ],
        "oci-layout": {"imageLayoutVersion": "1.0.0"},
    }
    with tarfile.open(destination, "w") as archive:
        members = {"blobs/sha256/" + d[7:]: data for d, data in blobs.items()}
        members.update({name: json.dumps(doc).encode() for name, doc in documents.items()})
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return destination


@pytest.fixture(scope="session")
def image_forms(
    built_images: dict[str, str], engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, str]]:
    """Each fixture image in every form a source reads: name -> {form: target}."""
    forms: dict[str, dict[str, str]] = {}
    for name, tag in built_images.items():
        folder = tmp_path_factory.mktemp(f"forms-{name}")
        saved = fixture_build.save(tag, folder / "docker-save.tar", engine)
        skopeo("copy", "-q", f"docker-archive:{saved}", f"oci:{folder / 'oci-gzip'}:{name}")
        skopeo(
            "copy",
            "-q",
            "--dest-compress",
            "--dest-compress-format",
            "zstd",
            f"docker-archive:{saved}",
            f"oci-archive:{folder / 'oci-zstd.tar'}:{name}",
        )
        docker25 = docker25_archive(saved, folder / "docker25-save.tar")
        skopeo(
            "copy",
            "-q",
            f"docker-archive:{saved}",
            f"docker-archive:{folder / 'skopeo-save.tar'}:{tag}",
        )
        forms[name] = {
            "docker-archive": f"docker-archive:{saved}",
            "docker-archive (skopeo)": str(folder / "skopeo-save.tar"),
            "docker-archive (docker 25 OCI layout)": f"docker-archive:{docker25}",
            "oci-dir (gzip)": f"oci-dir:{folder / 'oci-gzip'}",
            "oci-archive (zstd)": f"oci-archive:{folder / 'oci-zstd.tar'}",
            "docker": f"docker:{tag}",
        }
    return forms


def _builder_unavailable(builder: str, reason: str) -> None:
    if os.environ.get("LAYERSCAN_REQUIRE_ENGINE") == "1":
        pytest.fail(f"the {builder} builder is required here but {reason}", pytrace=False)
    pytest.skip(f"the {builder} builder cannot run: {reason}")


@pytest.fixture(scope="session")
def builder_images(
    engine: Any, credentials: Credentials, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """fixtures/builders built by the classic builder, BuildKit and buildah (with --layers, and
    squashed): builder -> target. The rendered Dockerfile sits next to each archive
    (fixtures.builders.build.dockerfile_of)."""
    from fixtures.builders import build as builders

    folder = tmp_path_factory.mktemp("builders")
    fixture_build.ensure_base(engine)
    base = fixture_build.save(fixture_build.BASE_IMAGE, folder / "base.tar", engine)
    steps = {
        "classic": lambda: builders.build_classic(folder, credentials, engine),
        "buildkit": lambda: builders.build_buildkit(folder, credentials, engine),
        "buildah": lambda: builders.build_buildah(folder, credentials, True, base),
        "buildah-squashed": lambda: builders.build_buildah(folder, credentials, False, base),
    }
    images: dict[str, str] = {}
    for builder, step in steps.items():
        try:
            archive = step()
        except builders.BuilderUnavailable as error:
            _builder_unavailable(builder, str(error))
        else:
            kind = "oci-archive" if builder.startswith("buildah") else "docker-archive"
            images[builder] = f"{kind}:{archive}"
    return images


@pytest.fixture(scope="session")
def hygiene_images(
    engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, str]]:
    """fixtures/hygiene's good and bad Dockerfiles, each built by the classic builder, BuildKit
    and buildah: fixture -> builder -> target. The bad one fetches from an HTTP server on
    127.0.0.1 that lives while they build; the rendered Dockerfile sits next to each archive
    (fixtures.builders.build.dockerfile_of)."""
    from fixtures.builders.build import BuilderUnavailable
    from fixtures.hygiene import build as hygiene

    folder = tmp_path_factory.mktemp("hygiene")
    base = hygiene.save_base(folder, engine)
    images: dict[str, dict[str, str]] = {fixture: {} for fixture in hygiene.FIXTURES}
    with hygiene.serving() as port:
        for fixture in hygiene.FIXTURES:
            for builder in hygiene.BUILDERS:
                try:
                    target = hygiene.build(fixture, builder, folder, engine, port, base)
                except BuilderUnavailable as error:
                    _builder_unavailable(builder, str(error))
                else:
                    images[fixture][builder] = target
    return images


@pytest.fixture(scope="session")
def hygiene_cases(
    engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, str]]:
    """fixtures/hygiene's edge cases (hygiene.CASES), each built by the classic builder and
    BuildKit: case -> builder -> target."""
    from fixtures.builders.build import BuilderUnavailable
    from fixtures.hygiene import build as hygiene

    folder = tmp_path_factory.mktemp("hygiene-cases")
    with hygiene.serving() as port:
        try:
            return hygiene.build_cases(folder, engine, port)
        except BuilderUnavailable as error:
            _builder_unavailable("BuildKit", str(error))
            raise
