"""Images built by buildah: its history format, and secrets that a build only mounted.

`RUN --mount=type=secret` hands a secret to one step without writing it into any layer or
the history; BuildKit is not available here, buildah implements the same instruction.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fixtures.build import base_rootfs
from fixtures.credentials import Credentials
from layerscan.engine.scan import scan

CONTAINERFILE = """\
FROM scratch
ADD rootfs.tar /
ARG DEPLOY_TOKEN
RUN --mount=type=secret,id=npmtoken cat /run/secrets/npmtoken > /dev/null && echo ok > /done.txt
RUN echo "deploying" > /deployed.txt
"""


@pytest.fixture(scope="module")
def buildah_image(tmp_path_factory: pytest.TempPathFactory, credentials: Credentials) -> Path:
    if shutil.which("buildah") is None:
        if os.environ.get("LAYERSCAN_REQUIRE_ENGINE") == "1":
            pytest.fail("buildah is required here (apt-get install -y buildah)", pytrace=False)
        pytest.skip("buildah is not installed (apt-get install -y buildah)")
    context = tmp_path_factory.mktemp("buildah")
    (context / "rootfs.tar").write_bytes(base_rootfs())
    (context / "Containerfile").write_text(CONTAINERFILE)
    secret = context.parent / "npmtoken.secret"  # outside the build context
    secret.write_text(credentials.mounted_secret_token + "\n")
    storage = [
        "--storage-driver",
        "vfs",
        "--root",
        str(context / "storage"),
        "--runroot",
        str(context / "run"),
    ]
    tag = "localhost/layerscan-fixture:buildah"
    subprocess.run(
        [
            "buildah",
            *storage,
            "build",
            "--isolation",
            "chroot",
            "--secret",
            f"id=npmtoken,src={secret}",
            "--build-arg",
            f"DEPLOY_TOKEN={credentials.deploy_token}",
            "-t",
            tag,
            "-f",
            str(context / "Containerfile"),
            str(context),
        ],
        check=True,
        capture_output=True,
    )
    archive = context / "image.tar"
    subprocess.run(
        ["buildah", *storage, "push", tag, f"oci-archive:{archive}:buildah"],
        check=True,
        capture_output=True,
    )
    return archive


def test_a_mounted_secret_is_never_reported(buildah_image: Path, credentials: Credentials) -> None:
    result = scan(f"oci-archive:{buildah_image}")
    assert credentials.mounted_secret_token not in {f.secret for f in result.findings}
    assert result.complete


def test_buildah_build_args_are_read_from_its_history(
    buildah_image: Path, credentials: Credentials
) -> None:
    result = scan(f"oci-archive:{buildah_image}")
    [arg] = [f for f in result.findings if f.key == "ARG DEPLOY_TOKEN"]
    assert arg.secret == credentials.deploy_token and arg.rule.id == "build-arg-secret"
    assert arg.layer is not None and arg.layer.instruction is not None
    assert arg.layer.instruction.startswith("RUN ")
