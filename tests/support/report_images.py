"""The images whose HTML reports the browser tests open (issue 18), and a way to write one.

- The large image: built by the engine from the busybox base, about 40 layers (COPYs of
  directories, RUN steps that write files or delete earlier ones, a RUN that writes a secret on
  its command line) plus ENV, LABEL and ARG steps without a layer; thousands of files and a few
  hundred findings of many rules, severities (vendored ones are low) and statuses (present,
  deleted, overwritten), in files, history and config.
- The hostile-names image: built by the engine too (Linux names may hold anything but NUL and
  "/"; a "/" in a payload makes a directory, and the path still carries it whole): file paths,
  a LABEL key and value, an ENV value and a RUN instruction carrying HTML and script payloads,
  each file holding a detectable token so that its name is in the findings.
- A handful of readable cases of the hostile corpus (tests/hostile/corpus.py), built.

Every credential comes from fixtures/credentials.py, drawn from seeded generators of their own.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures import credentials as fabricate
from fixtures.build import BASE_IMAGE, build_saved
from tests.support.command import layerscan

LARGE_TAG = "layerscan-fixture:browser-large"
HOSTILE_NAMES_TAG = "layerscan-fixture:browser-hostile-names"
LARGE_BATCHES = 14
FILLER_COPIED = 180
"""Files without a secret in each batch's COPY."""
FILLER_WRITTEN = 100
"""Files each batch's RUN step writes."""


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def _build(engine: Any, context: Path, tag: str, dockerfile: str, **args: str) -> Path:
    """Build `dockerfile` in `context` with the classic builder; the image saved beside it."""
    return build_saved(
        engine, context, tag, dockerfile, context.parent / f"{context.name}.tar", **args
    )


# --- the large image ------------------------------------------------------------------------


def _github(rng: random.Random) -> str:
    return fabricate.checksummed_token("ghp_", rng)


def _secret_files(rng: random.Random, batch: int) -> dict[str, str]:
    """About 20 files of one batch, each holding one or two fabricated credentials."""
    files: dict[str, str] = {}
    for k in range(2):
        files[f"config/github-{k}.env"] = f"GITHUB_TOKEN={_github(rng)}\n"
        files[f"config/npm-{k}.sh"] = (
            f"export NPM_TOKEN={fabricate.checksummed_token('npm_', rng)}\n"
        )
        files[f"config/gitlab-{k}.yml"] = f"gitlab:\n  token: {fabricate.gitlab_token(rng)}\n"
        files[f"config/slack-{k}.properties"] = (
            f"slack.bot.token={fabricate.slack_bot_token(rng)}\n"
        )
        files[f"config/stripe-{k}.json"] = json.dumps(
            {"stripe": {"secret_key": fabricate.stripe_live_key(rng)}}
        )
        files[f"config/maps-{k}.js"] = f'const mapsKey = "{fabricate.google_api_key(rng)}";\n'
        files[f"config/db-{k}.ini"] = f"[db]\npassword = {fabricate.password(rng)}\n"
        # Vendored code: reported low, unless a checksum proves the token.
        files[f"lib/site-packages/vendor{batch}/settings{k}.py"] = (
            f'PASSWORD = "{fabricate.password(rng)}"\n'
        )
    files["config/aws/credentials"] = (
        "[default]\n"
        f"aws_access_key_id = {fabricate.aws_access_key_id(rng)}\n"
        f"aws_secret_access_key = {fabricate.aws_secret_access_key(rng)}\n"
    )
    files["config/session.txt"] = f"Authorization: Bearer {fabricate.jwt_hs256(rng)}\n"
    files["keys/service.pem"] = fabricate.ec_private_key_pem(rng)
    return files


def _filler(batch: int) -> dict[str, str]:
    return {
        f"data/{index // 30:02d}/item-{index:03d}.txt": f"batch {batch} item {index}\nstatus: ok\n"
        for index in range(FILLER_COPIED)
    }


def large_dockerfile(rng: random.Random, context: Path) -> str:
    """Renders the large image's context into `context` and returns its Dockerfile."""
    steps = [
        f"FROM {BASE_IMAGE}",
        "ARG DEPLOY_TOKEN",
        'LABEL org.opencontainers.image.title="layerscan large report fixture"',
        f"LABEL com.example.release-token={fabricate.password(rng, 32)}",
        "ENV LANG=C.UTF-8 APP_HOME=/srv/app",
        'RUN test -n "$DEPLOY_TOKEN" && mkdir -p /srv/app && echo deployed > /srv/app/DEPLOYED',
    ]
    # A file that overwrites another must differ in size: the vfs engine tells changes by size
    # and mtime, the build context keeps whole seconds, so a same-sized file written in the
    # same second is no change (an empty layer, or at the next COPY "failed to get layer ...:
    # layer does not exist", moby/moby#37965).
    for batch in range(LARGE_BATCHES):
        folder = f"batch-{batch:02d}"
        _write(context / folder, {**_filler(batch), **_secret_files(rng, batch)})
        steps.append(f"COPY {folder}/ /srv/app/{folder}/")
        steps.append(
            f"RUN mkdir -p /var/lib/gen/{folder} && i=0 && while [ $i -lt {FILLER_WRITTEN} ]; "
            f'do echo "record $i of {folder}" > /var/lib/gen/{folder}/r$i.log; i=$((i+1)); done'
        )
        steps.append(f"ENV BATCH_{batch:02d}_READY=1")
        if batch % 4 == 1:
            steps.append(f'LABEL com.example.batch-{batch:02d}="copied"')
            steps.append(f"ENV SERVICE_{batch:02d}_API_TOKEN={fabricate.gitlab_token(rng)}")
        if batch % 4 == 3:  # overwrite two files of the previous batch, then a secret on a RUN
            override = f"override-{batch:02d}"
            _write(
                context / override,
                {
                    "config/github-0.env": f"# rotated\nGITHUB_TOKEN={_github(rng)}\n",
                    "keys/service.pem": "# rotated\n" + fabricate.ec_private_key_pem(rng),
                },
            )
            steps.append(f"COPY {override}/ /srv/app/batch-{batch - 1:02d}/")
            # On the command line: in the layer and in the history.
            steps.append(
                f'RUN echo "SLACK_TOKEN={fabricate.slack_bot_token(rng)}"'
                f" > /srv/app/notify-{batch}.env"
            )
        if batch % 3 == 2:  # delete the previous batch's config: its findings become deleted
            steps.append(f"RUN rm -rf /srv/app/batch-{batch - 1:02d}/config")
    steps.append("RUN rm -rf /var/lib/gen/batch-00 /srv/app/batch-00/data/00")
    steps.append('CMD ["sh"]')
    return "\n".join(steps) + "\n"


def build_large_image(engine: Any, folder: Path, seed: int = 18) -> Path:
    """The large image, built by the engine and saved: a docker-archive path."""
    rng = random.Random(seed)
    context = folder / "large"
    context.mkdir(parents=True)
    dockerfile = large_dockerfile(rng, context)
    deploy_token = fabricate.checksummed_token("npm_", rng)
    return _build(engine, context, LARGE_TAG, dockerfile, DEPLOY_TOKEN=deploy_token)


# --- hostile names --------------------------------------------------------------------------


@dataclass(frozen=True)
class HostileName:
    label: str
    name: str
    """The file's name under /srv/hostile/ ("/" in it makes directories)."""


HOSTILE_NAMES: tuple[HostileName, ...] = (
    HostileName("script", "<script>window.__layerscan_pwned=1</script>.env"),
    HostileName("attribute", '"><img src=x onerror="window.__layerscan_pwned=2">.env'),
    HostileName("table", "</td></tr></table><h1>broken</h1>.env"),
    HostileName("javascript-url", "javascript:window.__layerscan_pwned=3"),
    HostileName("templates", "{{7*7}}${7*7}`id`#{7*7}.env"),
    HostileName("long", "very-long-" + "abcdefghij" * 22 + ".env"),
    HostileName("rtl-override", "invoice\u202evne.exe.env"),
    HostileName("control", "backspace\x08\x08\x08\x08hidden.env"),
    HostileName("single-quote", "it's'-onmouseover='window.__layerscan_pwned=4'.env"),
)
HOSTILE_FOLDER = "/srv/hostile"
PWNED = "__layerscan_pwned"
"""The global every payload sets (to its own number) if it ever runs."""


def hostile_dockerfile(label_token: str) -> str:
    """The Dockerfile: a LABEL key and values, an ENV value and a RUN carrying payloads; the
    ENV's token and the RUN's come from the build argument ENV_TOKEN."""
    steps = [
        f"FROM {BASE_IMAGE}",
        "ARG ENV_TOKEN",
        # A key cannot hold "=" in a Dockerfile: this payload sets the global without one.
        f'LABEL "com.example.<script>Object.assign(window,{{{PWNED}:5}})</script>.token"'
        f'="{label_token}"',
        f'LABEL org.opencontainers.image.url="javascript:window.{PWNED}=6" '
        f'org.opencontainers.image.description="<img src=x onerror=window.{PWNED}=7>"',
        'ENV GREETING="</td></tr></table><h1>env broke out</h1>'
        f'<svg onload=window.{PWNED}=8>" API_TOKEN=${{ENV_TOKEN}}',
        f"COPY hostile/ {HOSTILE_FOLDER}/",
        f"RUN echo '<script>window.{PWNED}=9</script><b>bold</b>' > /srv/run.html "
        '&& echo "GITHUB_TOKEN=$ENV_TOKEN"'
        f' > "/srv/<iframe src=javascript:window.{PWNED}=10>.env"',
    ]
    return "\n".join(steps) + "\n"


def build_hostile_names_image(engine: Any, folder: Path, seed: int = 1818) -> Path:
    """The hostile-names image, built by the engine and saved: a docker-archive path. Each
    file of HOSTILE_NAMES holds a GitHub token of its own; the LABEL and the ENV hold others."""
    rng = random.Random(seed)
    context = folder / "hostile-names"
    context.mkdir(parents=True)
    _write(
        context / "hostile",
        {entry.name: f"GITHUB_TOKEN={_github(rng)}\n" for entry in HOSTILE_NAMES},
    )
    dockerfile = hostile_dockerfile(_github(rng))
    return _build(engine, context, HOSTILE_NAMES_TAG, dockerfile, ENV_TOKEN=_github(rng))


# --- the hostile corpus ---------------------------------------------------------------------

CORPUS_CASES = (
    "hostile-names",
    "long-and-deep-names",
    "path-dotdot",
    "hardlink-cross-layer",
    "truncated-layer",
    "digest-mismatch",
    "sqlite-hostile",
)
"""Readable, not heavy: names that drive terminals, a 5000-character name and a 1500-deep
path, rejected entries, cross-layer links, a truncated layer, a digest mismatch, SQLite."""


def hostile_corpus_images(root: Path, names: tuple[str, ...] = CORPUS_CASES) -> dict[str, str]:
    """Those cases of tests/hostile/corpus.py, each built under root/<name>: name -> target."""
    from tests.hostile.corpus import find_case

    built = {}
    for name in names:
        case = find_case(name)
        assert case.readable and not case.heavy, f"{name}: not a case a report can show"
        work = root / name
        work.mkdir(parents=True)
        built[name] = case.build(work)
    return built


# --- writing a report -----------------------------------------------------------------------


def write_html_report(target: str | Path, destination: Path, *options: str) -> Path:
    """`layerscan scan TARGET -f html -o DESTINATION` through the installed command line; exit
    1 (findings) and 3 (an incomplete scan) are expected, any other code raises."""
    run = layerscan("scan", str(target), "-f", "html", "-o", str(destination), *options)
    if run.code not in (0, 1, 3) or not destination.is_file():
        raise RuntimeError(
            f"layerscan scan {target} -f html exited {run.code}: {run.stderr.strip()[-600:]}"
        )
    return destination
