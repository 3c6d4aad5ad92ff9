"""`export` and `extract` on real images (issue 14): a round trip through `docker load` finds
what the engine image holds, the demo's deleted key lands under removed/, and every failure
is one line, its exit code, and nothing half-written."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layerscan.cli.progress import ByteProgress
from layerscan.image import docker_archive
from layerscan.image.tarball import IntegrityError, copy_saved, verify_copied
from layerscan.streams.compression import LayerLimits
from tests.support.command import layerscan
from tests.support.damage import rewrite_layer, truncate_layer
from tests.support.paths import BUNDLED_DEMO

KEY_PATH = "removed/layer-1/root/.ssh/id_rsa"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _flip_a_byte(data: bytes) -> bytes:
    """The same size, one byte of file content changed: the diff_id no longer holds."""
    at = data.index(b"root:x:") if b"root:x:" in data else len(data) // 2
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :]


def _fingerprints(target: str) -> set[str]:
    run = layerscan("scan", "--no-cache", "-f", "json", target)
    assert run.code == 1, run.stderr
    return {finding["fingerprint"] for finding in json.loads(run.stdout)["findings"]}


# --- extract ---------------------------------------------------------------------------------


def test_extract_of_the_demo_puts_the_deleted_key_under_removed(tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    run = layerscan("extract", str(BUNDLED_DEMO), "-o", str(out))
    assert run.code == 0, run.stderr
    assert "removed/" in run.stdout and "complete, digests verified" in run.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["verified"] is True
    assert manifest["image"]["reference"] == "layerscan-fixture:demo"
    [record] = [r for r in manifest["records"] if r["written_to"] == KEY_PATH]
    assert record["path"] == "/root/.ssh/id_rsa"
    assert record["status"] == "deleted" and record["removed_by"] == 2
    assert record["sha256"] == _sha256(out / KEY_PATH)
    assert (out / KEY_PATH).read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert not (out / "rootfs/root/.ssh/id_rsa").exists()
    assert "COPY" in record["instruction"]
    assert len(list((out / "layers").iterdir())) == len(manifest["layers"]) == 10


def test_extract_never_prints_or_records_a_secret_in_full(tmp_path: Path) -> None:
    """The ARG value in the history is redacted in every record's instruction."""
    out = tmp_path / "evidence"
    run = layerscan("extract", str(BUNDLED_DEMO), "-o", str(out))
    assert run.code == 0
    scan = json.loads(layerscan("scan", str(BUNDLED_DEMO), "-f", "json", "--show-secrets").stdout)
    history_secret = next(f["secret"] for f in scan["findings"] if f["rule"] == "npm-access-token")
    manifest_text = (out / "manifest.json").read_text()
    assert history_secret not in manifest_text and history_secret not in run.stdout + run.stderr


def test_extract_of_a_damaged_image_keeps_what_it_read_and_exits_3(tmp_path: Path) -> None:
    truncated = truncate_layer(BUNDLED_DEMO, 0, tmp_path / "truncated.tar")
    out = tmp_path / "out"
    run = layerscan("extract", str(truncated), "-o", str(out))
    assert run.code == 3, run.stderr
    assert "INCOMPLETE" in run.stdout and "damaged" in run.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert (out / KEY_PATH).exists()  # the later layers were read and written


def test_extract_of_a_tampered_layer_says_its_digests_fail_and_exits_3(tmp_path: Path) -> None:
    tampered = rewrite_layer(BUNDLED_DEMO, 0, _flip_a_byte, tmp_path / "tampered.tar")
    out = tmp_path / "out"
    run = layerscan("extract", str(tampered), "-o", str(out))
    assert run.code == 3, run.stderr
    assert "DIGESTS DO NOT MATCH" in run.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verified"] is False and manifest["layers"][0]["verified"] is False


def test_extract_refuses_a_directory_in_use_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the investigator's own notes\n")
    run = layerscan("extract", str(BUNDLED_DEMO), "-o", str(out))
    assert run.code == 2
    assert run.stderr.count("\n") == 1 and "not empty" in run.stderr
    assert sorted(os.listdir(out)) == ["notes.txt"]


# --- export: from files, without an engine ---------------------------------------------------


def test_export_of_a_tampered_layer_stops_with_exit_3_and_leaves_nothing(tmp_path: Path) -> None:
    tampered = rewrite_layer(BUNDLED_DEMO, 3, _flip_a_byte, tmp_path / "tampered.tar")
    folder = tmp_path / "out"
    folder.mkdir()
    run = layerscan("export", str(tampered), "-o", str(folder / "image.tar"))
    assert run.code == 3, run.stderr
    assert "does not match its diff_id" in run.stderr and run.stderr.count("\n") == 1
    assert os.listdir(folder) == []


def test_export_refuses_to_replace_without_force_and_never_writes_through_a_link(
    tmp_path: Path,
) -> None:
    destination = tmp_path / "image.tar"
    destination.write_bytes(b"an earlier export")
    run = layerscan("export", str(BUNDLED_DEMO), "-o", str(destination))
    assert run.code == 2 and "--force" in run.stderr
    assert destination.read_bytes() == b"an earlier export"
    forced = layerscan("export", str(BUNDLED_DEMO), "-o", str(destination), "--force")
    assert forced.code == 0, forced.stderr
    record = json.loads((tmp_path / "image.tar.json").read_text())
    assert record["sha256"] == "sha256:" + _sha256(destination)
    assert record["size"] == destination.stat().st_size
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    link = tmp_path / "link.tar"
    link.symlink_to(victim)
    refused = layerscan("export", str(BUNDLED_DEMO), "-o", str(link), "--force")
    assert refused.code == 2 and "symbolic link" in refused.stderr
    assert victim.read_bytes() == b"victim"


def test_export_to_a_place_it_cannot_write_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = layerscan("export", str(BUNDLED_DEMO), "-o", str(tmp_path / "missing" / "image.tar"))
    assert run.code == 2 and run.stderr.startswith("layerscan: cannot write")
    assert run.stderr.count("\n") == 1


def test_export_names_the_engine_it_could_not_reach(tmp_path: Path) -> None:
    socket = f"unix://{tmp_path}/no-engine.sock"
    env = {**os.environ, "DOCKER_HOST": socket}
    done = subprocess.run(
        ["python3", "-m", "layerscan", "export", "docker:any:tag", "-o", str(tmp_path / "x.tar")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    assert socket in done.stderr and done.stderr.count("\n") == 1
    assert not list(tmp_path.glob("*.tar*"))


def test_a_copied_stream_that_fails_its_diff_id_is_refused(tmp_path: Path) -> None:
    """The engine path copies the stream as it is: its layers are checked after the copy."""
    tampered = rewrite_layer(BUNDLED_DEMO, 2, _flip_a_byte, tmp_path / "tampered.tar")
    copy = tmp_path / "copy.tar"
    with open(tampered, "rb") as source, open(copy, "wb") as out:
        copied = copy_saved(source, out)
    assert copy.read_bytes() == tampered.read_bytes()
    assert copied.sha256 == "sha256:" + _sha256(tampered)
    with pytest.raises(IntegrityError, match="layer 2 does not match its diff_id"):
        verify_copied(
            str(copy),
            copied,
            lambda store: docker_archive.load(store, source="docker", target="test"),
            LayerLimits(),
        )


def test_the_progress_bar_counts_bytes_against_the_total() -> None:
    stream = io.StringIO()
    bar = ByteProgress("exporting", stream)
    bar.update(50_000_000, 100_000_000)
    bar.close()
    assert "exporting [############............]  50%  50.0 / 100.0 MB" in stream.getvalue()
    assert stream.getvalue().endswith("\r")


# --- a small filesystem: a full disk is a clean refusal --------------------------------------


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size`: the kernel's own ENOSPC, no simulation."""
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """1 MiB: the demo image is 2 MB."""
    with _tmpfs(tmp_path / "small", "1m") as folder:
        yield folder


def test_export_to_a_full_disk_leaves_nothing_and_exits_2(small_filesystem: Path) -> None:
    run = layerscan("export", str(BUNDLED_DEMO), "-o", str(small_filesystem / "image.tar"))
    assert run.code == 2, run.stderr
    assert "disk is full" in run.stderr and run.stderr.count("\n") == 1
    assert os.listdir(small_filesystem) == []


def test_extract_checks_the_free_space_before_writing(small_filesystem: Path) -> None:
    out = small_filesystem / "out"
    run = layerscan("extract", str(BUNDLED_DEMO), "-o", str(out))
    assert run.code == 2 and "bytes free but the image's layers hold at least" in run.stderr
    assert os.listdir(out) == []


# --- through the engine ----------------------------------------------------------------------


@pytest.mark.engine
def test_export_from_the_engine_is_what_docker_save_writes(
    image_forms: dict[str, dict[str, str]], engine: Any, tmp_path: Path
) -> None:
    tag = image_forms["demo"]["docker"].removeprefix("docker:")
    run = layerscan("export", f"docker:{tag}", "-o", str(tmp_path / "exported.tar"))
    assert run.code == 0, run.stderr
    saved = tmp_path / "saved.tar"
    subprocess.run(["docker", "save", "-o", str(saved), tag], check=True)
    assert (tmp_path / "exported.tar").read_bytes() == saved.read_bytes()
    record = json.loads((tmp_path / "exported.tar.json").read_text())
    assert record["layout"] == "copied from the engine"
    assert record["config_digest"] == engine.images.get(tag).id
    assert record["sha256"] == "sha256:" + _sha256(saved)


@pytest.mark.engine
def test_the_engine_image_exported_loaded_and_scanned_finds_the_same(
    image_forms: dict[str, dict[str, str]], engine: Any, tmp_path: Path
) -> None:
    """The round trip: export -> docker load -> scan finds what the engine image holds. The
    image is the demo plus a layer of its own, so removing it before the load touches no other
    test's image and the load must bring that layer back from the tarball."""
    tag = f"layerscan-roundtrip:{os.getpid()}"
    base = image_forms["demo"]["docker"].removeprefix("docker:")
    dockerfile = f"FROM {base}\nRUN echo 'round trip {os.getpid()}' > /roundtrip.txt\n"
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, "-"],
        input=dockerfile,
        text=True,
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    expected = _fingerprints(f"docker:{tag}")
    tarball = tmp_path / "exported.tar"
    assert layerscan("export", f"docker:{tag}", "-o", str(tarball)).code == 0
    image_id = json.loads(Path(f"{tarball}.json").read_text())["config_digest"]
    engine.images.remove(tag)
    with pytest.raises(Exception, match="No such image"):
        engine.images.get(image_id)
    loaded = subprocess.run(["docker", "load", "-i", str(tarball)], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    try:
        assert engine.images.get(tag).id == image_id
        assert _fingerprints(f"docker:{tag}") == expected
        assert _fingerprints(str(tarball)) == expected
    finally:
        engine.images.remove(tag)


@pytest.mark.engine
def test_every_form_exported_loads_into_docker_and_scans_as_the_form_does(
    image_forms: dict[str, dict[str, str]], engine: Any, tmp_path: Path
) -> None:
    """OCI layouts (gzip, zstd) are written uncompressed by diff_id; docker load takes each
    with the config the form holds (skopeo's OCI config has no Healthcheck: so neither has
    the export)."""
    for number, (form, target) in enumerate(image_forms["demo"].items()):
        tarball = tmp_path / f"export-{number}.tar"
        run = layerscan("export", target, "-o", str(tarball))
        assert run.code == 0, f"{form}: {run.stderr}"
        record = json.loads(Path(f"{tarball}.json").read_text())
        loaded = subprocess.run(
            ["docker", "load", "-i", str(tarball)], capture_output=True, text=True
        )
        assert loaded.returncode == 0, f"{form}: {loaded.stderr}"
        assert engine.images.get(record["config_digest"]).id == record["config_digest"], form
        assert _fingerprints(str(tarball)) == _fingerprints(target), form
        assert [layer["diff_id"] for layer in record["layers"]] == (
            engine.images.get(record["config_digest"]).attrs["RootFS"]["Layers"]
        ), form


@pytest.mark.engine
def test_extract_of_a_compressed_layout_that_outgrows_the_disk_stops_cleanly(
    image_forms: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """gzip layers pass the free-space check by their compressed size (1.5 MiB free, 1.1 MB
    compressed, 2 MB of tar) and the disk fills part-way: exit 2 and a manifest of what is
    there (or a one-line reason it could not be written)."""
    target = image_forms["demo"]["oci-dir (gzip)"]
    with _tmpfs(tmp_path / "small", "1536k") as small:
        out = small / "out"
        run = layerscan("extract", target, "-o", str(out))
        assert run.code == 2, run.stdout + run.stderr
        assert "disk is full" in run.stderr and run.stderr.count("\n") == 1
        assert not [name for name in os.listdir(out) if name.startswith(".")]


def test_extract_symlinks_option_creates_the_demo_links(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = layerscan("extract", str(BUNDLED_DEMO), "-o", str(out), "--symlinks", "-q")
    assert run.code == 0, run.stderr
    assert os.readlink(out / "rootfs/bin/sh") == "busybox"
    assert shutil.which("busybox", path=str(out / "rootfs/bin")) is not None


def test_extract_options_narrow_the_views_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = layerscan(
        "extract",
        str(BUNDLED_DEMO),
        "-o",
        str(out),
        "--only",
        "removed",
        "--only",
        "rootfs",
        "--layer",
        "1",
        "--path",
        "/root/*",
    )
    assert run.code == 0, run.stderr
    # layer 1 holds nothing present below /root (layer 2 re-declares /root/.ssh), so no rootfs/
    assert sorted(os.listdir(out)) == ["manifest.json", "removed"]
    written = {r["written_to"] for r in json.loads((out / "manifest.json").read_text())["records"]}
    assert written == {KEY_PATH}


@pytest.mark.engine
def test_export_of_an_image_the_engine_does_not_have_is_one_line_and_exit_2(
    engine: Any, tmp_path: Path
) -> None:
    run = layerscan("export", "docker:layerscan-no-such-image:none", "-o", str(tmp_path / "x.tar"))
    assert run.code == 2 and "has no image 'layerscan-no-such-image:none'" in run.stderr
    assert run.stderr.count("\n") == 1 and os.listdir(tmp_path) == []
