"""Build a large, realistic image with the real engine, for benchmarks and noise measurement.

    python3 bench/realistic.py [--scale full|half|quarter] [--save PATH]

The fixture images are tiny; a scanner's speed, memory and false positives only show on an
image like the ones users ship: a Debian base, apt packages (python3, pip, nodejs, npm,
openssh-server with its host keys), a pip install from wheels COPYed in and removed in a later
layer, a node_modules tree, and app files holding fabricated secrets (fixtures/credentials.py),
one of them deleted by a later layer. `PLANTED` says what was planted where, so a quality
benchmark can measure recall; everything else found in the image is noise.

`--scale` picks cumulative subsets of the packages (quarter < half < full) so that scan cost
can be plotted against size. Every scale has the same layers and the same planted secrets.
Downloads are cached under /tmp/layerscan-bench-cache; the engine's build cache does the rest.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import docker

ROOT = Path(__file__).resolve().parent.parent
# `python3 bench/realistic.py` puts bench/ on sys.path, not the repository root.
sys.path.insert(0, str(ROOT))

from fixtures.credentials import Credentials, generate  # noqa: E402

BASE_IMAGE = "layerscan-base:debian"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CACHE = Path(os.environ.get("LAYERSCAN_BENCH_CACHE", "/tmp/layerscan-bench-cache"))
SCALES = ("quarter", "half", "full")
# Debian bookworm's python3 is CPython 3.11 on glibc 2.36.
WHEEL_PLATFORM = (
    "--only-binary=:all:",
    "--platform=manylinux2014_x86_64",
    "--platform=manylinux_2_28_x86_64",
    "--python-version=3.11",
    "--implementation=cp",
    "--abi=cp311",
)


@dataclass(frozen=True)
class Tier:
    """What one scale adds to the scales below it: apt packages, pip and npm requirements."""

    apt: tuple[str, ...]
    wheels: tuple[str, ...]
    npm: tuple[str, ...]


# Pinned top-level versions keep the image's size stable from one month to the next. The tiers
# are cut so that regular files and bytes both grow roughly in step; the base image and the
# python3 + openssh-server packages (~330 MB, ~9,500 files) are a floor every scale carries.
TIERS: dict[str, Tier] = {
    "quarter": Tier(
        apt=("python3", "python3-pip", "openssh-server"),
        wheels=("requests==2.34.2", "pyjwt==2.15.1"),
        npm=(
            "express@5.3.0",
            "jsonwebtoken@9.0.3",
            "node-forge@1.4.3",
            "ssh2@1.17.0",
            "lodash@4.18.1",
            "axios@1.21.1",
            "dotenv@18.0.10",
        ),
    ),
    "half": Tier(
        apt=(),
        wheels=(
            "cryptography==50.0.2",
            "paramiko==5.1.0",
            "django==5.2.19",
            "tornado==6.6.1",
            "twisted==26.10.0",
            "boto3==1.44.5",
        ),
        npm=("moment@2.31.0", "react@19.3.1", "react-dom@19.3.1", "socket.io@4.8.4", "pg@8.23.1"),
    ),
    # Debian's npm alone is ~25,000 small files, so this tier adds few-file, many-byte npm
    # packages (native binaries) to reach ~1 GB without going far past ~50,000 files.
    "full": Tier(
        apt=("nodejs", "npm"),
        wheels=("numpy==2.4.6",),
        npm=(
            "typescript@7.0.2",
            "@biomejs/biome@2.6.8",
            "esbuild@0.28.2",
            "@swc/core@1.16.22",
            "sharp@0.35.5",
            "playwright-core@1.65.1",
        ),
    ),
}


def selection(scale: str) -> Tier:
    """Everything a scale installs: its own tier plus every smaller one."""
    if scale not in SCALES:
        raise SystemExit(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    tiers = [TIERS[name] for name in SCALES[: SCALES.index(scale) + 1]]
    return Tier(
        apt=tuple(p for tier in tiers for p in tier.apt),
        wheels=tuple(r for tier in tiers for r in tier.wheels),
        npm=tuple(r for tier in tiers for r in tier.npm),
    )


def image_tag(scale: str) -> str:
    """One tag per scale, so the three variants can sit side by side in the engine."""
    return f"layerscan-bench:realistic-{scale}"


# App files by their path in the image; `{field}` is replaced by that field of Credentials.
APP_FILES: dict[str, str] = {
    "/srv/app/.env": (
        "DJANGO_SETTINGS_MODULE=shop.settings\n"
        "DATABASE_URL=postgres://shop:{database_password}@db.internal:5432/shop\n"
        "SLACK_BOT_TOKEN={slack_bot_token}\n"
        "LOG_LEVEL=info\n"
    ),
    "/srv/app/deploy/id_rsa": "{rsa_private_key}",
    "/srv/app/bin/healthcheck.sh": (
        "#!/bin/sh\n"
        "# Run by the orchestrator every 30 s; also pings the status page.\n"
        "curl -fsS http://127.0.0.1:8000/healthz > /dev/null || exit 1\n"
        "exec curl -fsS -o /dev/null https://monitor:{healthcheck_password}@status.example.com/ping\n"
    ),
    "/srv/app/shop/settings_local.py": (
        '"""Deployment overrides, read after settings.py."""\n\n'
        'ALLOWED_HOSTS = ["shop.example.com"]\n'
        'DEPLOY_TOKEN = "{deploy_token}"\n'
    ),
    "/root/.ssh/id_ed25519": "{ed25519_private_key}",
    "/root/.npmrc": "//registry.npmjs.org/:_authToken={npm_token}\n",
    "/root/.aws/credentials": (
        "[default]\n"
        "aws_access_key_id = {aws_access_key_id}\n"
        "aws_secret_access_key = {aws_secret_access_key}\n"
    ),
    "/root/.git-credentials": "https://ci-bot:{github_token}@github.com\n",
    # Files without secrets: they look like secrets to a careless rule (noise checks).
    "/srv/app/manage.py": (
        "#!/usr/bin/env python3\n"
        "import os\nimport sys\n\n"
        'if __name__ == "__main__":\n'
        '    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n'
        "    from django.core.management import execute_from_command_line\n\n"
        "    execute_from_command_line(sys.argv)\n"
    ),
    "/srv/app/shop/__init__.py": "",
    "/srv/app/shop/settings.py": (
        "import os\n\n"
        'SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]\n'
        'DEBUG = os.environ.get("DEBUG") == "1"\n'
        'DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", '
        '"PASSWORD": os.environ.get("DB_PASSWORD", "")}}}}\n'
        "try:\n    from .settings_local import *  # noqa\nexcept ImportError:\n    pass\n"
    ),
    "/srv/app/server.js": (
        "const express = require('express');\n"
        "const jwt = require('jsonwebtoken');\n\n"
        "const app = express();\n"
        "const secret = process.env.JWT_SECRET || 'changeme';\n"
        "app.get('/token', (req, res) =>\n"
        "  res.json({{ token: jwt.sign({{ sub: 'demo' }}, secret) }}));\n"
        "app.listen(3000);\n"
    ),
    "/srv/app/.env.example": (
        "DATABASE_URL=postgres://shop:<password>@localhost:5432/shop\n"
        "SLACK_BOT_TOKEN=xoxb-your-token-here\n"
    ),
}
DELETED_FILES = ("/srv/app/deploy/id_rsa",)
FILE_MODES = {
    "/srv/app/manage.py": 0o755,
    "/srv/app/bin/healthcheck.sh": 0o755,
    "/srv/app/deploy/id_rsa": 0o600,
    "/root/.ssh/id_ed25519": 0o600,
    "/root/.aws/credentials": 0o600,
    "/root/.npmrc": 0o600,
    "/root/.git-credentials": 0o600,
}


@dataclass(frozen=True)
class Planted:
    """One fabricated secret written into every scale of the image (the recall ground truth)."""

    path: str  # absolute path in the image
    line: int  # 1-based line where the secret starts
    field: str  # the fixtures.credentials.Credentials field whose value was written there
    deleted: bool  # removed by a later layer (RUN rm): only a layer-aware scan finds it


def _planted() -> tuple[Planted, ...]:
    """Read PLANTED off the templates, so the truth cannot drift from what is written."""
    planted = []
    for path, template in APP_FILES.items():
        for number, line in enumerate(template.splitlines(), start=1):
            for _, field, _, _ in string.Formatter().parse(line):
                if field:
                    planted.append(Planted(path, number, field, path in DELETED_FILES))
    return tuple(planted)


PLANTED: tuple[Planted, ...] = _planted()


def render_app_files(creds: Credentials) -> dict[str, str]:
    """The app files with the fabricated credentials filled in."""
    return {path: template.format(**vars(creds)) for path, template in APP_FILES.items()}


def dockerfile(tier: Tier) -> str:
    """The Dockerfile: each step is a layer a real image would have, in a realistic order."""
    apt = " ".join(tier.apt)
    wheels = " ".join(tier.wheels)
    removed = " ".join(DELETED_FILES)
    # Metadata steps come first: the classic builder commits a container for each, which on
    # the vfs storage driver copies the whole file system (minutes at the top of this image).
    # The debootstrap base lacks the official images' docker-clean hook, hence apt-get clean.
    return f"""FROM {BASE_IMAGE}
ENV PYTHONUNBUFFERED=1 NODE_ENV=production
WORKDIR /srv/app
EXPOSE 8000
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {apt} \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY wheels/ /wheels/
RUN pip install --no-index --find-links /wheels --break-system-packages \\
    --root-user-action=ignore --no-cache-dir {wheels}
RUN rm -rf /wheels
COPY node/ /srv/app/
COPY app/ /srv/app/
COPY home/ /root/
RUN rm {removed}
CMD ["python3", "manage.py", "runserver", "0.0.0.0:8000"]
"""


def _run(command: list[str], cwd: Path | None = None) -> None:
    """Run a host command; fail with the end of its output, which says what went wrong."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}):\n{output}")


def _cached(directory: Path, key: list[str], fill: Callable[[Path], None]) -> None:
    """Fill `directory` once per key, so reruns with the same requirements download nothing."""
    marker = directory.with_name(directory.name + ".done")
    wanted = json.dumps(key)
    if directory.is_dir() and marker.is_file() and marker.read_text() == wanted:
        return
    shutil.rmtree(directory, ignore_errors=True)
    marker.unlink(missing_ok=True)
    directory.mkdir(parents=True)
    fill(directory)
    marker.write_text(wanted)


def download_wheels(requirements: tuple[str, ...], directory: Path) -> None:
    """Wheels for the image's python3, fetched on the host: a build has no PyPI."""

    def fill(target: Path) -> None:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                *WHEEL_PLATFORM,
                "--dest",
                str(target),
                *requirements,
            ]
        )

    _cached(directory, [*WHEEL_PLATFORM, *requirements], fill)


def install_node_modules(packages: tuple[str, ...], directory: Path) -> None:
    """An app's package.json, lock file and node_modules, installed on the host with npm."""

    def fill(target: Path) -> None:
        dependencies = dict(spec.rsplit("@", 1) for spec in packages)
        manifest = {
            "name": "shop",
            "version": "1.0.0",
            "private": True,
            "dependencies": dependencies,
        }
        (target / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        # --ignore-scripts: no install script of a third-party package runs on this host.
        _run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev"],
            cwd=target,
        )

    _cached(directory, list(packages), fill)


def write_tree(files: dict[str, str], prefix: str, directory: Path) -> None:
    """Write the files under `prefix` (an image path) into a build-context directory."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for path, content in files.items():
        if not path.startswith(prefix + "/"):
            continue
        target = directory / path.removeprefix(prefix + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        mode = FILE_MODES.get(path, 0o644)
        target.chmod(mode)
        if mode == 0o600:  # as ssh-keygen, aws configure, npm and git leave them
            target.parent.chmod(0o700)


def stage_context(scale: str, creds: Credentials) -> Path:
    """The build context of one scale, under the cache directory; returns its path."""
    tier = selection(scale)
    context = CACHE / scale
    context.mkdir(parents=True, exist_ok=True)
    download_wheels(tier.wheels, context / "wheels")
    install_node_modules(tier.npm, context / "node")
    files = render_app_files(creds)
    write_tree(files, "/srv/app", context / "app")
    write_tree(files, "/root", context / "home")
    (context / "home").chmod(0o700)  # COPY home/ /root/ gives /root this mode, as Debian has it
    (context / "Dockerfile").write_text(dockerfile(tier))
    (context / ".dockerignore").write_text("*.done\n")
    return context


def client() -> docker.DockerClient:
    """The engine from the environment (DOCKER_HOST honoured); builds can be slow on vfs."""
    return docker.from_env(timeout=3600)


def ensure_base(engine: docker.DockerClient, tag: str = BASE_IMAGE) -> None:
    """Recreate the Debian base exactly as documented (debootstrap, docker import) if missing."""
    try:
        engine.images.get(tag)
        return
    except docker.errors.ImageNotFound:
        pass
    if shutil.which("debootstrap") is None:
        _run(["apt-get", "install", "-y", "debootstrap"])
    repository, name = tag.rsplit(":", 1)
    with tempfile.TemporaryDirectory(prefix="layerscan-debian-") as rootfs:
        _run(["debootstrap", "--variant=minbase", "bookworm", rootfs, DEBIAN_MIRROR])
        with subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE) as tar:
            engine.api.import_image(
                src=tar.stdout, repository=repository, tag=name, stream_src=True
            )
        if tar.returncode != 0:
            raise SystemExit(f"tar of the debootstrap tree {rootfs} failed")


def _run_build(engine: docker.DockerClient, context: Path, tag: str) -> None:
    """Build with the classic builder, showing each step; apt-get needs the host network."""
    log: list[str] = []
    for event in engine.api.build(
        path=str(context), tag=tag, rm=True, forcerm=True, network_mode="host", decode=True
    ):
        if "error" in event:
            raise SystemExit(f"building {tag} failed: {event['error']}\n{''.join(log[-30:])}")
        text = event.get("stream", "")
        log.append(text)
        if text.startswith("Step "):
            print(text.rstrip(), file=sys.stderr, flush=True)


def build(scale: str) -> str:
    """Build the realistic image of one scale in the local engine; returns its tag."""
    engine = client()
    ensure_base(engine)
    context = stage_context(scale, generate())
    tag = image_tag(scale)
    _run_build(engine, context, tag)
    return tag


def save(tag: str, path: Path | str) -> Path:
    """`docker save` the image to a tarball, streamed: the image is too big to hold in memory."""
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with open(partial, "wb") as handle:
        for chunk in client().images.get(tag).save(named=True):
            handle.write(chunk)
    partial.replace(destination)
    return destination


class _ChunkReader(io.RawIOBase):
    """A readable file over `image.save()` chunks, so tarfile can stream an unsaved image."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.consumed += size
        return size

    def drain(self) -> int:
        """Read what tarfile left (end-of-archive padding); returns the stream's total size."""
        while self.read(1 << 20):
            pass
        return self.consumed


@dataclass(frozen=True)
class LayerFacts:
    """The regular files of one layer tar: what a scanner has to read."""

    regular_files: int
    regular_bytes: int


@dataclass(frozen=True)
class ImageFacts:
    """What a benchmark reports about the image: the archive's size and each layer's files."""

    archive_bytes: int
    layers: tuple[LayerFacts, ...]

    @property
    def regular_files(self) -> int:
        return sum(layer.regular_files for layer in self.layers)

    @property
    def regular_bytes(self) -> int:
        return sum(layer.regular_bytes for layer in self.layers)


def _layer_facts(stream: IO[bytes]) -> LayerFacts:
    files = size = 0
    with tarfile.open(fileobj=stream, mode="r|") as layer:
        for member in layer:
            if member.isreg():
                files, size = files + 1, size + member.size
    return LayerFacts(files, size)


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    stream = archive.extractfile(member)
    if stream is None:
        raise SystemExit(f"{member.name} in the saved image is not a regular file")
    return stream


def describe_layers(archive: IO[bytes]) -> tuple[LayerFacts, ...]:
    """Count regular files per layer of a `docker save` (legacy layout) stream, in one pass."""
    counted: dict[str, LayerFacts] = {}
    manifest: list[dict[str, Any]] = []
    with tarfile.open(fileobj=archive, mode="r|") as outer:
        for member in outer:
            if member.name == "manifest.json":
                manifest = json.load(_extract(outer, member))
            elif member.name.endswith("/layer.tar") and member.issym():
                # docker save stores a layer equal to an earlier one as a symlink to it
                target = os.path.join(os.path.dirname(member.name), member.linkname)
                counted[member.name] = counted[os.path.normpath(target)]
            elif member.name.endswith("/layer.tar"):
                counted[member.name] = _layer_facts(_extract(outer, member))
    if len(manifest) != 1:
        raise SystemExit(f"expected one image in the archive; its manifest lists {len(manifest)}")
    return tuple(counted[name] for name in manifest[0]["Layers"])


def describe_saved(path: Path) -> ImageFacts:
    """Facts about an image saved with save()."""
    with open(path, "rb") as archive:
        return ImageFacts(path.stat().st_size, describe_layers(archive))


def describe_tag(tag: str) -> ImageFacts:
    """Facts about an image in the engine, streamed from `docker save` without touching disk."""
    reader = _ChunkReader(iter(client().images.get(tag).save(named=True)))
    layers = describe_layers(io.BufferedReader(reader, 1 << 20))
    return ImageFacts(reader.drain(), layers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=SCALES, default="full", help="default: full")
    parser.add_argument("--save", type=Path, metavar="PATH", help="docker save the image here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tag = build(args.scale)
    built = time.perf_counter() - started
    facts = describe_saved(save(tag, args.save)) if args.save else describe_tag(tag)
    engine_size = client().images.get(tag).attrs["Size"]
    print(f"image          {tag}")
    print(f"built in       {built:.0f} s")
    print(f"image size     {engine_size} bytes (engine), {facts.archive_bytes} bytes (docker save)")
    print(f"layers         {len(facts.layers)}")
    print(
        f"regular files  {facts.regular_files} ({facts.regular_bytes} bytes), per layer: "
        + " ".join(str(layer.regular_files) for layer in facts.layers)
    )
    if args.save:
        print(f"saved          {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
