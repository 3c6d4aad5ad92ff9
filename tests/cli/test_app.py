"""The command line on real images: reports, exit codes, clear errors, redaction."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fixtures.credentials import Credentials
from fixtures.demo.truth import EXPECTED, MISCONFIG
from tests.support.command import layerscan
from tests.support.damage import corrupt_gzip_layer, plain_tar, truncate_layer
from tests.support.paths import BUNDLED_DEMO
from tests.support.report_schema import validate_report


def _all_secrets(credentials: Credentials) -> list[str]:
    return [value.strip() for value in dataclasses.asdict(credentials).values()]


def test_bundled_demo_json_report_is_exact(credentials: Credentials) -> None:
    run = layerscan("scan", str(BUNDLED_DEMO), "-f", "json")
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    validate_report(report)
    rows = {
        (
            f["source"],
            f["rule"],
            f["path"] or f["key"],
            f["layer"]["index"] if f["layer"] else None,
            f["status"],
            f["removed_by"]["index"] if f["removed_by"] else None,
        )
        for f in report["findings"]
    }
    assert rows == {entry[:6] for entry in EXPECTED} | set(MISCONFIG)
    assert report["image"]["source"] == "docker-archive"
    assert report["summary"]["complete"] is True
    assert report["errors"] == []


def test_default_output_never_prints_a_secret(credentials: Credentials) -> None:
    outputs = [
        layerscan("scan", str(BUNDLED_DEMO)),
        layerscan("scan", str(BUNDLED_DEMO), "-f", "json"),
        layerscan("history", str(BUNDLED_DEMO)),
        layerscan("layers", str(BUNDLED_DEMO)),
    ]
    for run in outputs:
        for secret in _all_secrets(credentials):
            assert secret not in run.stdout and secret not in run.stderr
    # The redacted form still lets a reader recognise the secret.
    assert "ghp_…[40 chars]" in outputs[0].stdout


def test_show_secrets_prints_them_whole(credentials: Credentials) -> None:
    run = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "--show-secrets")
    secrets = {f["secret"] for f in json.loads(run.stdout)["findings"]}
    assert credentials.github_token in secrets and credentials.npm_token in secrets


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    run = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "-o", str(target))
    assert run.code == 1 and run.stdout == ""
    validate_report(json.loads(target.read_text()))


def test_layers_command_counts_what_each_layer_did() -> None:
    run = layerscan("layers", str(BUNDLED_DEMO))
    assert run.code == 0, run.stderr
    rows = {int(line.split()[0]): line.split() for line in run.stdout.splitlines()[2:]}
    # layer, diff_id, size, added, changed, deleted, verified, instruction...
    assert rows[2][3:6] == ["0", "0", "1"]  # RUN rm /root/.ssh/id_rsa
    assert rows[4][3:6] == ["0", "1", "0"]  # COPY over config.yml
    assert rows[6][3:6] == ["0", "0", "2"]  # RUN rm -rf /opt/deploy (two files)
    assert {row[6] for row in rows.values()} == {"yes"}  # every digest checked out
    assert " ".join(rows[6][7:]) == "RUN rm -rf /opt/deploy"


def test_history_command_lists_empty_layers_redacted(credentials: Credentials) -> None:
    run = layerscan("history", str(BUNDLED_DEMO))
    assert run.code == 0, run.stderr
    assert "ENV DATABASE_PASSWORD=" in run.stdout
    assert credentials.database_password not in run.stdout
    assert "ARG NPM_TOKEN" in run.stdout


def test_recover_a_deleted_key(tmp_path: Path, credentials: Credentials) -> None:
    out = tmp_path / "evidence"
    run = layerscan("recover", str(BUNDLED_DEMO), "/root/.ssh/id_rsa", "-o", str(out))
    assert run.code == 0, run.stderr
    recovered = out / "layer-1" / "root" / ".ssh" / "id_rsa"
    assert recovered.read_text() == credentials.rsa_private_key
    [record] = json.loads((out / "manifest.json").read_text())["recovered"]
    assert record["status"] == "deleted" and record["removed_by"] == 2
    assert record["layer_index"] == 1 and record["instruction"].endswith(" in /root/.ssh/id_rsa")
    import hashlib

    assert record["sha256"] == hashlib.sha256(credentials.rsa_private_key.encode()).hexdigest()
    assert record["diff_id"].startswith("sha256:")
    assert not (recovered.stat().st_mode & 0o7000)


def test_recover_overwritten_version_by_layer(tmp_path: Path, credentials: Credentials) -> None:
    run = layerscan(
        "recover", str(BUNDLED_DEMO), "/srv/app/config.yml", "--layer", "3", "-o", str(tmp_path)
    )
    assert run.code == 0, run.stderr
    assert (
        credentials.github_token
        in (tmp_path / "layer-3" / "srv" / "app" / "config.yml").read_text()
    )


def test_recover_never_follows_a_symlink_in_the_output_dir(tmp_path: Path) -> None:
    out = tmp_path / "out"
    victim = tmp_path / "victim"
    out.mkdir()
    victim.mkdir()
    (out / "layer-1").symlink_to(victim)
    run = layerscan("recover", str(BUNDLED_DEMO), "/root/.ssh/id_rsa", "-o", str(out))
    assert run.code == 2
    assert list(victim.iterdir()) == []
    assert run.stderr.startswith("layerscan: ")


def test_recover_unknown_path_is_a_usage_error(tmp_path: Path) -> None:
    run = layerscan("recover", str(BUNDLED_DEMO), "/no/such/file", "-o", str(tmp_path))
    assert run.code == 2 and "no layer of the image ever held /no/such/file" in run.stderr


def test_not_an_image_is_a_one_line_error(tmp_path: Path) -> None:
    run = layerscan("scan", str(plain_tar(tmp_path / "plain.tar")))
    assert run.code == 2
    assert run.stderr.count("\n") == 1 and "not an image" in run.stderr
    assert run.stdout == ""


def test_missing_target_is_a_one_line_error(tmp_path: Path) -> None:
    run = layerscan("scan", str(tmp_path / "absent.tar"))
    assert run.code == 2 and run.stderr.count("\n") == 1 and "does not exist" in run.stderr


@pytest.mark.engine
def test_clean_image_exits_zero(image_forms: dict[str, dict[str, str]]) -> None:
    run = layerscan("scan", image_forms["clean"]["docker-archive"])
    assert run.code == 0, run.stdout + run.stderr
    assert "No secrets found." in run.stdout


@pytest.mark.engine
def test_truncated_layer_is_reported_and_the_rest_scanned(
    image_forms: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    saved = Path(image_forms["demo"]["docker-archive"].split(":", 1)[1])
    broken = truncate_layer(saved, 8, tmp_path / "truncated.tar")  # the COPY notify.env layer
    run = layerscan("scan", str(broken), "-f", "json")
    report = json.loads(run.stdout)
    validate_report(report)
    assert run.code == 1  # findings in the other layers still fail the scan
    assert [(e["layer"], e["fatal"]) for e in report["errors"]] == [(8, True)]
    paths = {f["path"] for f in report["findings"]}
    assert "/root/.ssh/id_rsa" in paths and "/srv/app/notify-copy.env" in paths
    assert "/srv/app/notify.env" not in paths
    assert report["summary"]["complete"] is False


@pytest.mark.engine
def test_truncated_layer_without_findings_exits_three(
    image_forms: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    saved = Path(image_forms["clean"]["docker-archive"].split(":", 1)[1])
    run = layerscan("scan", str(truncate_layer(saved, 0, tmp_path / "truncated.tar")))
    assert run.code == 3, run.stdout + run.stderr
    assert "error: layer 0" in run.stdout and "INCOMPLETE" in run.stdout


@pytest.mark.engine
def test_corrupt_gzip_stream_is_reported(
    image_forms: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    oci_dir = Path(image_forms["clean"]["oci-dir (gzip)"].split(":", 1)[1])
    broken = corrupt_gzip_layer(oci_dir, 0, tmp_path / "corrupt")
    run = layerscan("scan", f"oci-dir:{broken}", "-f", "json")
    assert run.code == 3, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert [e["layer"] for e in report["errors"]] == [0]
    assert report["summary"]["files_scanned"] >= 1  # the later layers were still read


def test_a_docker_save_stream_on_stdin_is_scanned() -> None:
    run = layerscan("scan", "-", "-f", "json", stdin=BUNDLED_DEMO.read_bytes())
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    validate_report(report)
    assert {f["path"] for f in report["findings"] if f["path"]} == {
        entry[2] for entry in EXPECTED if entry[0] == "file"
    }


def test_limit_flags_reach_the_scan(tmp_path: Path) -> None:
    run = layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "--max-layer-entries", "5")
    report = json.loads(run.stdout)
    validate_report(report)
    damaged = [e for e in report["errors"] if e["fatal"]]
    assert [e["layer"] for e in damaged] == [0]  # the base layer has 16 files
    assert "over the limit of 5 per layer" in damaged[0]["message"]
    assert {f["path"] for f in report["findings"] if f["path"]} >= {"/root/.ssh/id_rsa"}


@pytest.mark.parametrize("command", ["scan", "layers", "history", "recover", "rules"])
def test_every_command_has_help(command: str) -> None:
    run = layerscan(command, "--help")
    assert run.code == 0 and "Traceback" not in run.stderr
    assert "Usage:" in run.stdout


@pytest.mark.parametrize("args", [("--version",), ("version",)])
def test_version_names_layerscan_and_the_detection_parts(args: tuple[str, ...]) -> None:
    from importlib import metadata

    import layerscan as package

    run = layerscan(*args)
    assert run.code == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert lines["layerscan"] == package.__version__
    assert lines["detect-secrets"] == metadata.version("detect-secrets")
    assert lines["hyperscan"] == f"{metadata.version('hyperscan')} (prefilter on)"
    assert set(lines) == {"layerscan", "detect-secrets", "hyperscan", "python"}
