"""`history --dockerfile` on one multi-stage Dockerfile built by each builder here.

fixtures/builders is built by the classic builder, BuildKit and buildah (per-instruction
layers, and squashed); each reconstruction is checked line by line against what that builder
recorded, the base and the builder of every step included. The differences are the builders'
own (buildah lists every ARG declared so far; BuildKit keeps COPY sources but records no
ONBUILD step; the classic builder keeps `--chown`): docs/history.md.
"""

from __future__ import annotations

import json
import re

import pytest

from fixtures.credentials import Credentials
from layerscan.model.findings import redact
from tests.support.command import layerscan
from tests.support.paths import ROOT

HEALTHCHECK = (
    'HEALTHCHECK --interval=30s --timeout=3s CMD ["wget", "-q", "-O", "/dev/null", '
    '"http://monitor:{password}@127.0.0.1:8080/health"]'
)
RUN_ARGS = (
    'RUN echo "$APP_VERSION" > version.txt && test -n "$DEPLOY_TOKEN" && touch /srv/.deployed'
)
RUN_EXEC = 'RUN ["sh", "-c", "echo exec form > /srv/app/exec.txt"]'
TAIL = ["USER 1000:1000", "EXPOSE 8080/tcp", 'VOLUME ["/data"]']
END = [HEALTHCHECK, 'ENTRYPOINT ["/srv/app/bin/app.sh"]', 'CMD ["--serve"]']
ONBUILD = "ONBUILD RUN echo built from the builders fixture"
DOCKER_LABEL = 'LABEL org.opencontainers.image.title="layerscan builders" com.example.stage=final'
BUILDAH_LABEL = (
    'LABEL org.opencontainers.image.title="layerscan builders" com.example.stage="final"'
)
HEAD = ["ENV APP_HOME=/srv/app APP_MODE=production"]

EXPECTED = {
    "classic": [
        "ARG DEPLOY_TOKEN",
        "ARG APP_VERSION=1.0",
        *HEAD,
        DOCKER_LABEL,
        'SHELL ["/bin/sh", "-e", "-c"]',
        "WORKDIR /srv/app",
        "COPY --chown=1000:1000 file:<hash> ./app.conf",
        "COPY dir:<hash> /srv/app/bin/",
        "ADD file:<hash> /opt/vendor/",
        RUN_ARGS,
        RUN_EXEC,
        *TAIL,
        ONBUILD,
        *END,
    ],
    "buildkit": [
        "ARG DEPLOY_TOKEN",
        "ARG APP_VERSION=1.0",
        *HEAD,
        DOCKER_LABEL,
        'SHELL ["/bin/sh", "-e", "-c"]',
        "WORKDIR /srv/app",
        "COPY app.conf ./app.conf",
        "COPY /build/out/ /srv/app/bin/",
        "ADD vendor.tar /opt/vendor/",
        RUN_ARGS,
        RUN_EXEC,
        *TAIL,
        *END,
        ONBUILD,  # from the config: BuildKit records no ONBUILD step
    ],
}
EXPECTED["buildah"] = [
    "ARG DEPLOY_TOKEN",
    "ARG APP_VERSION DEPLOY_TOKEN",
    *HEAD,
    BUILDAH_LABEL,
    'SHELL ["/bin/sh", "-e", "-c"]',
    "WORKDIR /srv/app",
    "COPY file:<hash> ./app.conf",
    "COPY dir:<hash> /srv/app/bin/",
    "ADD file:<hash> /opt/vendor/",
    RUN_ARGS,
    RUN_EXEC,
    *TAIL,
    ONBUILD,
    *END,
]
EXPECTED["buildah-squashed"] = EXPECTED["buildah"]

BASE = {
    # builder: (rule, base name, layer of the COPY --chown / first COPY step)
    "classic": ("import", None, 2),
    "buildkit": ("import", None, 2),
    "buildah": ("buildah", "localhost/layerscan-base:busybox", 1),
    "buildah-squashed": ("import", "localhost/layerscan-base:busybox", None),
}


@pytest.fixture(params=sorted(EXPECTED))
def builder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _own_lines(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line and not line.startswith(("#", "FROM "))]
    return [re.sub(r"\b(file|dir):[0-9a-f]{8}\b", r"\1:<hash>", line) for line in lines]


def test_each_builder_reads_back_as_the_dockerfile_it_built(
    builder_images: dict[str, str], builder: str, credentials: Credentials
) -> None:
    run = layerscan("history", "--dockerfile", builder_images[builder])
    assert run.code == 0, run.stderr
    expected = [
        line.format(password=redact(credentials.healthcheck_password)) for line in EXPECTED[builder]
    ]
    assert _own_lines(run.stdout) == expected
    for secret in (credentials.deploy_token, credentials.healthcheck_password):
        assert secret not in run.stdout
    assert f"value (in steps 10, 11): {redact(credentials.deploy_token)}" in run.stdout


def test_each_builder_gets_its_base_and_its_steps_builder(
    builder_images: dict[str, str], builder: str
) -> None:
    run = layerscan("history", "--dockerfile", "-f", "json", builder_images[builder])
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    rule, name, copy_layer = BASE[builder]
    assert (document["base"]["rule"], document["base"]["name"]) == (rule, name)
    assert document["base"]["layers"] == [0]
    kind = "buildah" if builder.startswith("buildah") else builder
    own = [step for step in document["steps"] if not step["base"] and step["origin"] == "history"]
    assert {step["builder"] for step in own} == {kind}
    assert document["steps"][0]["builder"] == "import"
    first_copy = next(step for step in own if step["instruction"] == "COPY")
    assert first_copy["layer"] == copy_layer
    if copy_layer is not None:
        assert first_copy["written"] == ["srv/app/app.conf"]


DOCS = ROOT / "docs" / "history.md"
_VOLATILE = [
    (re.compile(r"sha256:[0-9a-f]{12,64}"), "sha256:…"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b(file|dir):[0-9a-f]{8}\b"), r"\1:<hash>"),
    (re.compile(r"\d+(\.\d)? (B|kB|MB)\b"), "<size>"),
    (re.compile(r"\(sha256:…\)|\(…\)"), "(…)"),
]


def _masked(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


@pytest.mark.parametrize(
    ("builder", "shown"),
    [
        ("classic", "docker-archive:builders-classic.tar"),
        ("buildkit", "docker-archive:builders-buildkit.tar"),
        ("buildah", "oci-archive:builders-buildah.tar"),
    ],
)
def test_the_docs_show_each_builders_reconstruction_as_it_is(
    builder_images: dict[str, str], builder: str, shown: str
) -> None:
    """docs/history.md shows one reconstruction per builder; digests, ids and sizes change
    with every build, the rest must not."""
    docs = DOCS.read_text(encoding="utf-8")
    command = f"$ layerscan history --dockerfile {shown}\n"
    block = docs[docs.index(command) + len(command) :].split("```", 1)[0]
    run = layerscan("history", "--dockerfile", builder_images[builder])
    assert run.code == 0, run.stderr
    assert _masked(block) == _masked(run.stdout)
