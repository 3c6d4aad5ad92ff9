"""`history --dockerfile`: the Dockerfile rebuilt from a real image's history and config.

The demo is checked line by line; a classic-builder image that uses every metadata
instruction is rebuilt from its own reconstruction, and the rebuild must write the same
history (the steps that need the original build context, COPY and ADD, left out).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fixtures.build import BASE_IMAGE, ensure_base, save
from fixtures.credentials import Credentials
from layerscan.engine.dockerfile import reconstruct, reconstruction_document
from layerscan.engine.options import ScanOptions
from layerscan.model.findings import redact
from tests.support.command import layerscan
from tests.support.paths import ROOT

EVERY_INSTRUCTION = """\
FROM {base}
ARG API_TOKEN
ARG VERSION=1.2
ENV APP_HOME=/srv/app GREETING="hello world"
LABEL org.example.team="platform team" org.example.tier=web
WORKDIR /srv/app
RUN echo "$VERSION" > version.txt && printf '%s' "$API_TOKEN" | wc -c > token-length.txt
COPY notes.txt /srv/app/notes.txt
RUN ["/bin/sh", "-c", "echo exec form > exec.txt"]
RUN ["/bin/touch", "/srv/app/touched"]
USER 1000:1000
EXPOSE 8080/tcp 9090
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-e", "-c"]
ONBUILD RUN echo onbuild
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
"""


def _history(engine: Any, tag: str) -> list[str]:
    """created_by of every step, oldest first, as the engine records it."""
    return [step["CreatedBy"] for step in reversed(engine.api.history(tag))]


@pytest.fixture(scope="module")
def every_instruction(
    engine: Any, credentials: Credentials, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A classic build using every instruction a history records; saved."""
    ensure_base(engine)
    context = tmp_path_factory.mktemp("every-instruction")
    (context / "Dockerfile").write_text(EVERY_INSTRUCTION.format(base=BASE_IMAGE))
    (context / "notes.txt").write_text("notes\n")
    tag = "layerscan-fixture:every-instruction"
    engine.images.build(
        path=str(context), tag=tag, buildargs={"API_TOKEN": credentials.cli_api_key}, rm=True
    )
    return save(tag, context / "image.tar", engine)


def test_the_demo_reconstruction_names_each_step_and_what_its_layer_did(
    image_forms: dict[str, dict[str, str]], credentials: Credentials
) -> None:
    text = reconstruct_text(image_forms["demo"]["docker-archive"])
    lines = text.splitlines()
    own = [line for line in lines if line and not line.startswith("#")]
    assert own == [
        own[0],
        "ARG NPM_TOKEN",
        f"ENV DATABASE_PASSWORD={redact(credentials.database_password)}",
        f"LABEL com.example.deploy-token={redact(credentials.deploy_token)} "
        'org.opencontainers.image.title="layerscan demo"',
        own[4],
        "RUN rm /root/.ssh/id_rsa",
        own[6],
        own[7],
        own[8],
        "RUN rm -rf /opt/deploy",
        own[10],
        own[11],
        "RUN cp /srv/app/notify.env /srv/app/notify-copy.env && "
        "ln /srv/app/notify-copy.env /srv/app/notify-link.env",
        "HEALTHCHECK --interval=5m0s CMD wget -q -O /dev/null "
        f"http://monitor:{redact(credentials.healthcheck_password)}@127.0.0.1:8080/health",
    ]
    assert re.fullmatch(r"FROM unknown base  # layers 0-0, diff_ids [0-9a-f]{12}", own[0])
    assert re.fullmatch(r"COPY file:[0-9a-f]{8} /root/\.ssh/id_rsa", own[4])
    assert re.fullmatch(r"COPY dir:[0-9a-f]{8} /opt/deploy/aws/", own[8])
    assert own[10].startswith("RUN printf ")
    assert "# base: the base is an imported root filesystem; its 1 step:" in lines
    about = {line for line in lines if line.startswith("# step ")}
    assert any(
        line.startswith("# step 4; layer 1, ")
        and line.endswith("wrote /root/.ssh/id_rsa; 1 finding")
        for line in about
    )
    assert any(
        line.startswith("# step 8; layer 5, ")
        and "wrote /opt/deploy/aws/config, /opt/deploy/aws/credentials; 2 findings" in line
        for line in about
    )
    assert any(line.startswith("# step 9; layer 6, ") and "2 deleted" in line for line in about)
    assert f"# step 1; value (in steps 5, 9, 10, 12): {redact(credentials.npm_token)}" in lines
    for secret in vars(credentials).values():
        assert secret not in text


def reconstruct_text(target: str, *extra: str) -> str:
    run = layerscan("history", "--dockerfile", target, *extra)
    assert run.code == 0, run.stderr
    return run.stdout


def test_the_json_form_gives_the_same_steps_as_data(
    image_forms: dict[str, dict[str, str]], credentials: Credentials
) -> None:
    run = layerscan("history", "--dockerfile", "-f", "json", image_forms["demo"]["oci-dir (gzip)"])
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["kind"] == "layerscan-dockerfile"
    assert document["base"]["rule"] == "import"
    assert document["base"]["layers"] == [0]
    assert document["builders"] == {"classic": 13, "import": 1}
    steps = document["steps"]
    assert [step["instruction"] for step in steps if not step["base"]] == [
        "ARG", "ENV", "LABEL", "COPY", "RUN", "COPY", "COPY", "COPY", "RUN", "RUN", "COPY",
        "RUN", "HEALTHCHECK",
    ]  # fmt: skip
    copy = steps[4]
    assert (copy["layer"], copy["written"], copy["files_added"], copy["findings"]) == (
        1,
        ["root/.ssh/id_rsa"],
        1,
        1,
    )
    assert steps[5]["build_args"] == {"NPM_TOKEN": redact(credentials.npm_token)}
    assert credentials.npm_token not in run.stdout


def test_show_secrets_puts_the_values_back(
    image_forms: dict[str, dict[str, str]], credentials: Credentials
) -> None:
    text = reconstruct_text(image_forms["demo"]["docker-archive"], "--show-secrets")
    assert f"ENV DATABASE_PASSWORD={credentials.database_password}" in text
    assert f"value (in steps 5, 9, 10, 12): {credentials.npm_token}" in text


def test_a_classic_build_rebuilt_from_its_reconstruction_writes_the_same_history(
    every_instruction: Path, engine: Any, credentials: Credentials, tmp_path: Path
) -> None:
    target = f"docker-archive:{every_instruction}"
    document = reconstruction_document(reconstruct(target, ScanOptions(), show_secrets=True))
    build_args: dict[str, str] = {}
    for step in document["steps"]:
        build_args.update(step["build_args"])
    assert build_args == {"API_TOKEN": credentials.cli_api_key, "VERSION": "1.2"}
    text = reconstruct_text(target, "--show-secrets")
    rebuilt = [
        f"FROM {BASE_IMAGE}" if line.startswith("FROM ") else line
        for line in text.splitlines()
        if not line.startswith(("COPY ", "ADD "))  # they need the original context
    ]
    (tmp_path / "Dockerfile").write_text("\n".join(rebuilt) + "\n")
    tag = "layerscan-fixture:rebuilt"
    engine.images.build(path=str(tmp_path), tag=tag, buildargs=build_args, rm=True)

    def without_context(history: list[str]) -> list[str]:
        return [line for line in history[1:] if " COPY " not in line and " ADD " not in line]

    original = without_context(_history(engine, "layerscan-fixture:every-instruction"))
    assert len(original) == 17
    assert without_context(_history(engine, tag)) == original


def test_every_instruction_reads_back_in_dockerfile_syntax(every_instruction: Path) -> None:
    text = reconstruct_text(f"docker-archive:{every_instruction}")
    own = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert own[1:] == [
        "ARG API_TOKEN",
        "ARG VERSION=1.2",
        'ENV APP_HOME=/srv/app GREETING="hello world"',
        'LABEL org.example.team="platform team" org.example.tier=web',
        "WORKDIR /srv/app",
        """RUN echo "$VERSION" > version.txt && printf '%s' "$API_TOKEN" """
        """| wc -c > token-length.txt""",
        own[7],
        "RUN echo exec form > exec.txt",
        'RUN ["/bin/touch", "/srv/app/touched"]',
        "USER 1000:1000",
        "EXPOSE 8080/tcp 9090",
        'VOLUME ["/data", "/logs"]',
        "STOPSIGNAL SIGTERM",
        'SHELL ["/bin/sh", "-e", "-c"]',
        "ONBUILD RUN echo onbuild",
        "HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD "
        "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1",
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["echo hi"]',
    ]
    assert re.fullmatch(r"COPY file:[0-9a-f]{8} /srv/app/notes\.txt", own[7])
    assert "# step 2; value (in steps 6, 8, 9): the default" in text


def test_the_readme_shows_the_demo_reconstruction_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ layerscan history --dockerfile fixtures/demo.tar | head -15\n"
    shown = readme[readme.index(command) + len(command) :].split("```", 1)[0]
    assert shown == "".join(reconstruct_text("fixtures/demo.tar").splitlines(True)[:15])
