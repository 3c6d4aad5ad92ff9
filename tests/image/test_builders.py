"""One multi-stage Dockerfile (fixtures/builders) built by the classic builder, BuildKit and
buildah: each image opens, its history lists the final stage's instructions in order, and the
build-arg credential is found in the history whichever builder wrote it.

The builders word the same instruction differently (`/bin/sh -c #(nop)  ARG X`, `ARG X`,
`RUN |2 A=1 B=2 ... # buildkit`); the tests hold the facts layerscan relies on, and the
places where the builders disagree: which steps own a layer, ONBUILD, the OCI config's fields.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.builders.build import dockerfile_of
from fixtures.credentials import Credentials
from layerscan.engine.scan import scan
from layerscan.image.open import open_image

BUILDERS = ("classic", "buildkit", "buildah", "buildah-squashed")

LAYER_STEPS = {
    # the steps that own a layer (after the base's), by builder
    "classic": ["WORKDIR", "COPY", "COPY", "ADD", "RUN", "RUN"],
    "buildkit": ["WORKDIR", "COPY", "COPY", "ADD", "RUN", "RUN"],
    "buildah": ["COPY", "COPY", "ADD", "RUN", "RUN"],  # buildah's WORKDIR is an empty layer
    "buildah-squashed": ["CMD"],  # the whole stage in one layer, owned by its last step
}


def _archive(target: str) -> Path:
    return Path(target.partition(":")[2])


def _final_stage_keywords(dockerfile: Path) -> list[str]:
    """The instructions after the last FROM, as written."""
    lines = [line.strip() for line in dockerfile.read_text().splitlines()]
    instructions = [line.split()[0].upper() for line in lines if line and not line.startswith("#")]
    last_from = len(instructions) - 1 - instructions[::-1].index("FROM")
    return instructions[last_from + 1 :]


@pytest.fixture(params=BUILDERS)
def builder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_builder_image_opens_with_one_history_entry_per_layer(
    builder_images: dict[str, str], builder: str
) -> None:
    with open_image(builder_images[builder]) as image:
        owning = [entry for entry in image.history if not entry.empty_layer]
        assert len(owning) == len(image.layers) == 1 + len(LAYER_STEPS[builder])
        assert [layer.history for layer in image.layers] == owning


def test_the_base_image_history_entry_from_docker_import_comes_first(
    builder_images: dict[str, str], builder: str
) -> None:
    with open_image(builder_images[builder]) as image:
        base = image.history[0]
        assert base.comment == "Imported from -"
        assert base.created_by == "" and not base.empty_layer


def test_the_history_lists_the_final_stage_instructions_in_order(
    builder_images: dict[str, str], builder: str
) -> None:
    expected = _final_stage_keywords(dockerfile_of(_archive(builder_images[builder])))
    if builder == "buildkit":
        expected.remove("ONBUILD")  # BuildKit writes no history entry for ONBUILD
    with open_image(builder_images[builder]) as image:
        assert [entry.parsed.keyword for entry in image.history[1:]] == expected


def test_only_the_steps_that_change_files_own_a_layer(
    builder_images: dict[str, str], builder: str
) -> None:
    with open_image(builder_images[builder]) as image:
        owners = [layer.history for layer in image.layers[1:]]
        assert [entry.parsed.keyword for entry in owners if entry] == LAYER_STEPS[builder]


def test_the_build_arg_credential_is_found_in_the_history_of_every_builder(
    builder_images: dict[str, str], builder: str, credentials: Credentials
) -> None:
    result = scan(builder_images[builder])
    found = [f for f in result.findings if f.key == "ARG DEPLOY_TOKEN"]
    assert found, f"DEPLOY_TOKEN not reported for {builder}"
    for finding in found:
        assert finding.secret == credentials.deploy_token
        assert finding.rule.id == "build-arg-secret"
        assert finding.source == "history"
    assert result.complete


def test_the_builder_stage_build_arg_is_in_no_final_image(
    builder_images: dict[str, str], builder: str, credentials: Credentials
) -> None:
    result = scan(builder_images[builder])
    assert credentials.builder_stage_token not in {f.secret for f in result.findings}
    assert "ARG BUILD_TOKEN" not in {f.key for f in result.findings}


def test_every_builder_writes_the_same_runtime_config(
    builder_images: dict[str, str], builder: str
) -> None:
    with open_image(builder_images[builder]) as image:
        config = image.config["config"]
    assert config["User"] == "1000:1000"
    assert config["WorkingDir"] == "/srv/app"
    assert config["ExposedPorts"] == {"8080/tcp": {}}
    assert config["Volumes"] == {"/data": {}}
    assert config["Entrypoint"] == ["/srv/app/bin/app.sh"]
    assert config["Cmd"] == ["--serve"]
    assert {"APP_HOME=/srv/app", "APP_MODE=production"} <= set(config["Env"])
    assert config["Labels"]["org.opencontainers.image.title"] == "layerscan builders"


def test_buildah_oci_images_drop_healthcheck_shell_and_onbuild_from_the_config(
    builder_images: dict[str, str], builder: str
) -> None:
    with open_image(builder_images[builder]) as image:
        config = image.config["config"]
    kept = {name for name in ("Healthcheck", "Shell", "OnBuild") if config.get(name)}
    if builder.startswith("buildah"):
        assert kept == set()  # the OCI image config has no such fields: only the history keeps them
    else:
        assert kept == {"Healthcheck", "Shell", "OnBuild"}
