"""Every source yields the same image and the same, exactly attributed findings."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fixtures.credentials import Credentials
from fixtures.demo.truth import EXPECTED
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import scan
from layerscan.errors import TargetError
from layerscan.image.open import open_image
from layerscan.model.findings import Kind
from tests.support.command import layerscan
from tests.support.damage import plain_tar
from tests.support.paths import BUNDLED_DEMO
from tests.support.truth import (
    attributed_rows,
    expected_hashes,
    expected_rows,
    finding_rows,
    row,
    secrets,
)

pytestmark = pytest.mark.engine


def _expected_for(form: str) -> list[tuple[object, ...]]:
    """skopeo's conversion to OCI drops Healthcheck from the config (the OCI config has no
    such field); the history still holds it, so only the config finding goes away."""
    if not form.startswith("oci"):
        return EXPECTED
    return [
        entry for entry in EXPECTED if entry[:3] != ("config", "url-credentials", "Healthcheck")
    ]


def test_demo_is_found_and_attributed_in_every_form(
    image_forms: dict[str, dict[str, str]], credentials: Credentials
) -> None:
    reference = None
    for form, target in image_forms["demo"].items():
        result = scan(target)
        expected = _expected_for(form)
        assert finding_rows(result) == expected_rows(expected), form
        hashes = {row(f): f.secret_sha256 for f in secrets(result)}
        assert hashes == expected_hashes(expected, credentials), form
        assert result.complete, (form, result.problems)
        rows = {
            r
            for r in attributed_rows(result)
            if r[:3] != ("config", "url-credentials", "Healthcheck")
        }
        if reference is None:
            reference = rows
        else:
            assert rows == reference, form


def test_deleted_key_names_the_copy_and_the_rm(image_forms: dict[str, dict[str, str]]) -> None:
    for form, target in image_forms["demo"].items():
        [key] = [f for f in scan(target).findings if f.rule.id == "private-key"]
        assert key.path == "/root/.ssh/id_rsa", form
        assert key.layer is not None and key.layer.index == 1
        assert key.layer.instruction is not None and key.layer.instruction.startswith("COPY ")
        assert key.layer.instruction.endswith(" in /root/.ssh/id_rsa")
        assert str(key.status) == "deleted"
        assert key.removed_by is not None and key.removed_by.index == 2
        assert key.removed_by.instruction == "RUN rm /root/.ssh/id_rsa"


def test_every_form_has_the_same_layers(image_forms: dict[str, dict[str, str]]) -> None:
    seen = {}
    for form, target in image_forms["demo"].items():
        with open_image(target) as image:
            seen[form] = [(layer.diff_id, layer.instruction) for layer in image.layers]
            assert image.platform == "linux/amd64"
            assert not image.warnings, (form, image.warnings)
    reference = seen["docker-archive"]
    differing = {
        form: [(i, a, b) for i, (a, b) in enumerate(zip(reference, layers, strict=False)) if a != b]
        or f"{len(layers)} layers, not {len(reference)}"
        for form, layers in seen.items()
        if layers != reference
    }
    assert not differing, differing


def test_oci_forms_record_compression(image_forms: dict[str, dict[str, str]]) -> None:
    with open_image(image_forms["demo"]["oci-archive (zstd)"]) as image:
        assert {layer.media_type for layer in image.layers} == {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        }
        assert all(layer.digest and layer.digest != layer.diff_id for layer in image.layers)
    with open_image(image_forms["demo"]["oci-dir (gzip)"]) as image:
        assert {layer.media_type for layer in image.layers} == {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        }


def test_bare_paths_and_names_are_auto_detected(
    image_forms: dict[str, dict[str, str]], built_images: dict[str, str]
) -> None:
    forms = image_forms["demo"]
    bare = {
        "docker-archive": forms["docker-archive"].split(":", 1)[1],
        "oci-dir": forms["oci-dir (gzip)"].split(":", 1)[1],
        "oci-archive": forms["oci-archive (zstd)"].split(":", 1)[1],
        "docker": built_images["demo"],
    }
    for source, target in bare.items():
        with open_image(target) as image:
            assert image.source == source, target


def test_a_tarball_with_several_images_needs_image(
    built_images: dict[str, str], tmp_path: Path
) -> None:
    multi = tmp_path / "multi.tar"
    subprocess.run(
        ["docker", "save", "-o", str(multi), built_images["demo"], built_images["clean"]],
        check=True,
        capture_output=True,
    )
    with pytest.raises(TargetError) as error:
        scan(str(multi))
    assert built_images["demo"] in str(error.value) and built_images["clean"] in str(error.value)
    result = scan(str(multi), ScanOptions(image_ref=built_images["clean"]))
    assert result.image.reference == built_images["clean"]
    assert [f for f in result.findings if f.kind is Kind.SECRET] == []
    assert {f.rule.id for f in result.findings} == {
        "misconfig.root-user",
        "misconfig.no-healthcheck",
    }


def test_unknown_engine_image_is_a_target_error(engine: object) -> None:
    with pytest.raises(TargetError, match="no image"):
        scan("docker:layerscan-fixture:does-not-exist")


def test_engine_spool_is_removed_after_the_scan(
    built_images: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = scan(f"docker:{built_images['clean']}")
    assert result.image.source == "docker" and result.complete
    assert list(tmp_path.iterdir()) == []


def test_stdin_spool_is_removed_when_the_stream_is_not_an_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    stream = io.BytesIO(plain_tar(tmp_path / "plain.tar").read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))
    with pytest.raises(TargetError, match="not an image"):
        scan("-")
    assert list((tmp_path / "spool").iterdir()) == []


def test_docker_save_streams_of_both_layouts_on_stdin(
    image_forms: dict[str, dict[str, str]], credentials: Credentials
) -> None:
    for form in ("docker-archive", "docker-archive (docker 25 OCI layout)"):
        saved = Path(image_forms["demo"][form].split(":", 1)[1])
        run = layerscan("scan", "-", "-f", "json", stdin=saved.read_bytes())
        assert run.code == 1, run.stderr
        findings = json.loads(run.stdout)["findings"]
        rows = {
            (
                f["source"],
                f["rule"],
                f["path"] or f["key"],
                f["layer"]["index"] if f["layer"] else None,
                f["status"],
                f["removed_by"]["index"] if f["removed_by"] else None,
            )
            for f in findings
            if f["kind"] == "secret"
        }
        assert rows == expected_rows(EXPECTED), form


def test_the_stdin_spool_has_a_size_cap(tmp_path: Path) -> None:
    run = layerscan("scan", "-", "--max-image-bytes", "100000", stdin=BUNDLED_DEMO.read_bytes())
    assert run.code == 2 and "larger than the spool limit" in run.stderr
