"""engine/diff.py on real builds: the demo, and versions of it with a secret fixed or added.

Every version is built by the engine from the demo's rendered context, edited, right after
the demo itself: the classic builder's cache gives the steps they share the very same layers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures import build as fixture_build
from fixtures.credentials import Credentials
from layerscan.engine.diff import DiffResult, diff_document, diff_images
from layerscan.engine.options import ScanOptions

pytestmark = pytest.mark.engine

NOTIFY_PATHS = {"/srv/app/notify.env", "/srv/app/notify-copy.env", "/srv/app/notify-link.env"}
MAIL_STEP = "COPY mail.env /srv/app/mail.env\n"


def _fixed_notify(directory: Path) -> None:
    """notify.env without its token, padded to its old size: only its bytes tell it apart."""
    notify = directory / "notify.env"
    size = len(notify.read_bytes())
    text = "SLACK_BOT_TOKEN=${SLACK_BOT_TOKEN}\nCHANNEL=#deploys\n"
    notify.write_text(text + "#" * (size - len(text) - 1) + "\n")


def _mail(creds: Credentials) -> Any:
    def edit(directory: Path) -> None:
        (directory / "mail.env").write_text(f"SENDGRID_API_KEY={creds.sendgrid_api_key}\n")
        with open(directory / "Dockerfile", "a") as dockerfile:
            dockerfile.write(MAIL_STEP)

    return edit


def _hidden_mail(creds: Credentials) -> Any:
    def edit(directory: Path) -> None:
        _mail(creds)(directory)
        with open(directory / "Dockerfile", "a") as dockerfile:
            dockerfile.write("RUN rm /srv/app/mail.env\n")

    return edit


def build_versions(engine: Any, creds: Credentials, folder: Path) -> dict[str, Path]:
    """The demo ("old") and its versions, each saved with `docker save`: name -> tarball."""
    edits = {
        "old": lambda directory: None,
        "fixed": _fixed_notify,  # the Slack token gone from notify.env (and its copies)
        "leaked": _mail(creds),  # a SendGrid key added in a new last layer
        "hidden": _hidden_mail(creds),  # the same key, deleted by one more layer
    }
    fixture_build.ensure_base(engine)
    saved = {}
    for name, edit in edits.items():
        context = folder / f"context-{name}"
        context.mkdir()
        build_args = fixture_build.render_context("demo", creds, context)
        edit(context)
        tag = f"layerscan-diff:{name}"
        engine.images.build(path=str(context), tag=tag, buildargs=build_args, rm=True)
        saved[name] = fixture_build.save(tag, folder / f"{name}.tar", engine)
    return saved


@pytest.fixture(scope="module")
def versions(engine: Any, credentials: Credentials, tmp_path_factory: Any) -> dict[str, Path]:
    return build_versions(engine, credentials, tmp_path_factory.mktemp("diff-versions"))


@pytest.fixture(scope="module")
def options(tmp_path_factory: Any) -> ScanOptions:
    return ScanOptions(cache_dir=tmp_path_factory.mktemp("diff-cache"), reuse_image_results=True)


def _diff(versions: dict[str, Path], old: str, new: str, options: ScanOptions) -> DiffResult:
    return diff_images(f"docker-archive:{versions[old]}", str(versions[new]), options)


def _places(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(finding["rule"], finding["path"]) for finding in findings}


def test_a_removed_token_is_fixed_and_nothing_is_new(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    document = diff_document(_diff(versions, "old", "fixed", options))
    assert _places(document["findings"]["fixed"]) == {("slack-token", p) for p in NOTIFY_PATHS}
    assert document["findings"]["new"] == []
    assert len(document["findings"]["unchanged"]) == 12  # 11 secrets, the demo running as root
    assert document["summary"]["complete"] is True


def test_a_fixed_file_of_the_same_size_differs_by_its_content_alone(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    files = diff_document(_diff(versions, "old", "fixed", options))["files"]
    assert files["added"] == files["removed"] == []
    assert {item["path"]: item["changes"] for item in files["changed"]} == {
        path: ["content"] for path in NOTIFY_PATHS
    }
    notify = next(item for item in files["changed"] if item["path"] == "/srv/app/notify.env")
    assert notify["old"]["layer"] == notify["new"]["layer"] == 8
    assert notify["old"]["sha256"] != notify["new"]["sha256"]
    assert files["recoverable_only_in_new"] == files["recoverable_only_in_old"] == []


def test_layers_are_shared_up_to_the_changed_step_and_the_base_stays(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    document = diff_document(_diff(versions, "old", "fixed", options))
    layers = document["layers"]
    assert [(row["old_index"], row["new_index"]) for row in layers["shared"]] == [
        (i, i) for i in range(8)
    ]
    assert [row["index"] for row in layers["dropped"]] == [8, 9]
    assert [row["index"] for row in layers["added"]] == [8, 9]
    assert {row["diff_id"] for row in layers["dropped"]}.isdisjoint(
        row["diff_id"] for row in layers["added"]
    )
    assert document["base_changed"] is False
    assert document["old"]["base"]["layer_count"] == document["new"]["base"]["layer_count"] == 1


def test_an_added_secret_is_new_with_its_layer_and_instruction(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    document = diff_document(_diff(versions, "old", "leaked", options))
    [new] = document["findings"]["new"]
    assert (new["rule"], new["path"], new["status"]) == (
        "sendgrid-api-key",
        "/srv/app/mail.env",
        "present",
    )
    assert new["layer"]["index"] == 10
    assert new["layer"]["instruction"].startswith("COPY file:")
    assert new["layer"]["instruction"].endswith(" in /srv/app/mail.env")
    assert document["findings"]["fixed"] == []
    assert len(document["layers"]["shared"]) == 10
    assert [row["index"] for row in document["layers"]["added"]] == [10]
    assert document["layers"]["dropped"] == []
    assert [item["path"] for item in document["files"]["added"]] == ["/srv/app/mail.env"]
    assert document["files"]["changed"] == document["files"]["removed"] == []


def test_going_back_removes_the_file_and_fixes_its_secret(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    document = diff_document(_diff(versions, "leaked", "old", options))
    assert [item["path"] for item in document["files"]["removed"]] == ["/srv/app/mail.env"]
    assert _places(document["findings"]["fixed"]) == {("sendgrid-api-key", "/srv/app/mail.env")}
    assert [row["index"] for row in document["layers"]["dropped"]] == [10]


def test_a_secret_deleted_in_a_later_layer_is_new_and_recoverable(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    document = diff_document(_diff(versions, "old", "hidden", options))
    [new] = document["findings"]["new"]
    assert (new["rule"], new["status"], new["removed_by"]["index"]) == (
        "sendgrid-api-key",
        "deleted",
        11,
    )
    assert document["files"]["added"] == []
    [recoverable] = document["files"]["recoverable_only_in_new"]
    assert (recoverable["path"], recoverable["layer"], recoverable["status"]) == (
        "/srv/app/mail.env",
        10,
        "deleted",
    )
    assert recoverable["removed_by"] == 11


def test_an_image_compared_with_itself_shows_no_change(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    summary = diff_document(_diff(versions, "old", "old", options))["summary"]
    assert summary["layers"] == {"shared": 10, "dropped": 0, "added": 0}
    assert set(summary["files"].values()) == {0}
    assert summary["findings"] == {"new": 0, "fixed": 0, "unchanged": 15}


def test_an_image_in_the_engine_diffs_like_its_tarball(
    versions: dict[str, Path], options: ScanOptions
) -> None:
    from_tar = diff_document(_diff(versions, "old", "fixed", options))
    from_engine = diff_document(
        diff_images(f"docker-archive:{versions['old']}", "docker:layerscan-diff:fixed", options)
    )
    for key in ("layers", "files", "findings", "base_changed"):
        assert from_engine[key] == from_tar[key]


def test_the_document_redacts_secrets_unless_asked(
    versions: dict[str, Path], options: ScanOptions, credentials: Credentials
) -> None:
    diff = _diff(versions, "old", "leaked", options)
    redacted, shown = str(diff_document(diff)), str(diff_document(diff, show_secrets=True))
    assert credentials.sendgrid_api_key not in redacted
    assert credentials.npm_token not in redacted  # quoted by a RUN line of the history
    assert credentials.sendgrid_api_key in shown
