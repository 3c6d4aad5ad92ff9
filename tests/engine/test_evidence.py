"""`recover --finding` writes the version that holds the finding, and checks it does (issue 19,
class 6): evidence is reported only once its bytes are seen to hold the finding's secret."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layerscan.content.limits import ContentLimits
from layerscan.detect.engine import Engine
from layerscan.engine.document import build_document
from layerscan.engine.evidence import (
    evidence_versions,
    found_again,
    recover_finding,
    write_evidence,
)
from layerscan.engine.options import ScanOptions, ScanResult
from layerscan.engine.scan import build_engine, scan_image
from layerscan.errors import ContentError, OutputError
from layerscan.image.model import Image
from layerscan.layers.recover import NotWritten
from layerscan.model.findings import Finding, Source, Status
from tests.hostile import builders as b
from tests.hostile.builders import directory, hardlink, regular, secret_file, symlink, token
from tests.support.command import layerscan
from tests.support.synthetic import file, image, layer_tar

LIMITS = ContentLimits()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    built = build_engine(ScanOptions())
    with built.session():
        yield built


def _scan(built: Image, engine: Engine) -> ScanResult:
    return scan_image(built, engine, ScanOptions())


def _sha(label: str) -> str:
    return hashlib.sha256(token(label).encode()).hexdigest()


def _by_label(findings: list[Finding], label: str, path: str) -> Finding:
    [found] = [f for f in findings if f.secret_sha256 == _sha(label) and f.path == path]
    return found


def _evidence(result: ScanResult, finding: Finding, out: Path) -> dict[str, Any]:
    document = build_document(result, shown=[finding])
    return write_evidence(result.image, result.timeline, finding, document["findings"][0], out)


def _save(tmp_path: Path, layers: list[list[b.TarEntry | bytes]]) -> str:
    path = tmp_path / "image.tar"
    b.write_tar(path, b.docker_save([b.plain_layer(entries) for entries in layers]))
    return str(path)


# --- the version that holds the finding ------------------------------------------------------

SHAPES: dict[str, tuple[list[list[b.TarEntry | bytes]], dict[tuple[str, str], bytes]]] = {
    # The same path as file, directory and symlink in turn, a hard link to the first version.
    "one-layer": (
        [
            [
                regular("a.env", secret_file("ev-first")),
                hardlink("b.env", "a.env"),
                directory("a.env/"),
                symlink("a.env", "elsewhere"),
                regular("a.env", secret_file("ev-last")),
            ]
        ],
        {
            ("ev-first", "/b.env"): secret_file("ev-first"),
            ("ev-last", "/a.env"): secret_file("ev-last"),
        },
    ),
    # A file deleted by its own layer (its parent became a symlink) and written again.
    "parent-replaced": (
        [
            [
                directory("d/"),
                regular("d/k.env", secret_file("ev-gone")),
                symlink("d", "elsewhere"),
                directory("d/"),
                regular("d/k.env", b"# padding\n" + secret_file("ev-again")),
            ]
        ],
        {
            ("ev-gone", "/d/k.env"): secret_file("ev-gone"),
            ("ev-again", "/d/k.env"): b"# padding\n" + secret_file("ev-again"),
        },
    ),
    # A chain of links across layers to versions replaced later.
    "chain": (
        [
            [
                regular("s.env", secret_file("ev-chain")),
                hardlink("l1", "s.env"),
                regular("s.env", secret_file("ev-chain-2")),
            ],
            [hardlink("l2", "l1"), directory("l1/"), regular("s.env", b"clean\n")],
            [hardlink("l3", "l2"), regular("l2", b"clean\n")],
        ],
        {
            ("ev-chain", "/l3"): secret_file("ev-chain"),
            ("ev-chain", "/l2"): secret_file("ev-chain"),
            ("ev-chain-2", "/s.env"): secret_file("ev-chain-2"),
        },
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_recover_finding_writes_the_bytes_that_hold_it(shape: str, tmp_path: Path) -> None:
    layers, expected = SHAPES[shape]
    target = _save(tmp_path, layers)
    for number, ((label, path), content) in enumerate(sorted(expected.items())):
        out = tmp_path / f"out-{number}"
        fingerprint = _fingerprint(label, path)
        chosen, evidence = recover_finding(target, fingerprint, out)
        assert (chosen.path, chosen.secret_sha256) == (path, _sha(label))
        written = evidence["file"]["written_to"]
        assert (out / written).read_bytes() == content, (label, path)
        [record] = json.loads((out / "manifest.json").read_text())["recovered"]
        assert record["sha256"] == hashlib.sha256(content).hexdigest()
        assert json.loads((out / "evidence.json").read_text())["file"] == record


def _fingerprint(label: str, path: str) -> str:
    material = "\0".join(("github-token", _sha(label), f"file:{path}"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def test_the_cli_recovers_the_evidence_of_a_hard_link(tmp_path: Path) -> None:
    target = _save(tmp_path, SHAPES["one-layer"][0])
    out = tmp_path / "out"
    run = layerscan(
        "recover", target, "--finding", _fingerprint("ev-first", "/b.env"), "-o", str(out)
    )
    assert run.code == 0, run.stderr
    assert (out / "layer-0" / "b.env").read_bytes() == secret_file("ev-first")
    assert run.stdout.startswith("github-token /b.env from layer 0 -> ")
    assert token("ev-first") not in run.stdout + run.stderr


def test_candidates_are_told_apart_by_status(engine: Engine) -> None:
    built = image(
        [
            [
                file("d/k.env", secret_file("cand-1")),
                file("d", b"now a file\n"),
                file("d/k.env", secret_file("cand-2")),
            ]
        ]
    )
    result = _scan(built, engine)
    gone = _by_label(result.findings, "cand-1", "/d/k.env")
    kept = _by_label(result.findings, "cand-2", "/d/k.env")
    assert (gone.status, kept.status) == (Status.DELETED, Status.PRESENT)
    [old] = evidence_versions(result.timeline, gone)
    [new] = evidence_versions(result.timeline, kept)
    assert (old.ordinal, new.ordinal) == (0, 2)


# --- evidence re-checked before it is reported -----------------------------------------------


def _swapped(built: Image, after: bytes) -> Image:
    layer = dataclasses.replace(built.layers[0], opener=lambda: io.BytesIO(after))
    return dataclasses.replace(built, layers=[layer])


def test_evidence_that_does_not_hold_the_secret_is_removed(engine: Engine, tmp_path: Path) -> None:
    """The layer is rewritten between the scan and the copy with a token of the same length:
    same member, same size, other bytes. Nothing is reported as evidence."""
    built = image([[file("srv/app.env", secret_file("swap-before"))]])
    result = _scan(built, engine)
    finding = _by_label(result.findings, "swap-before", "/srv/app.env")
    changed = _swapped(built, layer_tar([file("srv/app.env", secret_file("swap-after"))]))
    result = dataclasses.replace(result, image=changed)
    (tmp_path / "manifest.json").write_text('{"recovered": []}\n')
    with pytest.raises(NotWritten) as raised:
        _evidence(result, finding, tmp_path)
    message = str(raised.value)
    assert raised.value.exit_code == 3
    assert "do not hold the finding's secret" in message and "was removed" in message
    assert token("swap-before") not in message and token("swap-after") not in message
    assert not (tmp_path / "layer-0" / "srv" / "app.env").exists()
    assert not (tmp_path / "evidence.json").exists()
    assert json.loads((tmp_path / "manifest.json").read_text()) == {"recovered": []}


def test_a_finding_without_a_matching_version_is_refused(engine: Engine, tmp_path: Path) -> None:
    result = _scan(image([[file("srv/app.env", secret_file("no-version"))]]), engine)
    finding = dataclasses.replace(
        _by_label(result.findings, "no-version", "/srv/app.env"), status=Status.DELETED
    )
    with pytest.raises(ContentError, match=r"no version of /srv/app\.env in layer 0"):
        _evidence(result, finding, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_evidence_json_that_is_a_link_is_refused_before_anything_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "evidence.json").symlink_to(victim)
    result = _scan(image([[file("srv/app.env", secret_file("ev-link"))]]), engine)
    finding = _by_label(result.findings, "ev-link", "/srv/app.env")
    with pytest.raises(OutputError, match=r"evidence\.json is a symbolic link"):
        _evidence(result, finding, out)
    assert victim.read_bytes() == b"victim\n"
    assert [p.name for p in out.iterdir()] == ["evidence.json"]


# --- the secret found again, the way the scan read the file ----------------------------------


def _finding(engine: Engine, name: str, data: bytes) -> list[Finding]:
    result = _scan(image([[file(name, data)]]), engine)
    return [f for f in result.findings if f.source is Source.FILE]


def test_a_nested_finding_is_found_again_only_in_its_member(engine: Engine) -> None:
    data = b.zip_of({"conf/a.env": secret_file("zip-a"), "conf/b.txt": b"nothing here\n"})
    [finding] = _finding(engine, "app/bundle.zip", data)
    assert finding.nested_path == "conf/a.env"
    assert found_again(finding, "/app/bundle.zip", data, LIMITS) == token("zip-a")
    elsewhere = dataclasses.replace(finding, nested_path="conf/b.txt")
    assert found_again(elsewhere, "/app/bundle.zip", data, LIMITS) is None


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a/u16.txt", ("\ufeff" + secret_file("u16").decode()).encode("utf-16-le")),
        ("a/notes.env.gz", gzip.compress(secret_file("gz"), mtime=0)),
        ("a/pkg.tgz", b.tgz_of({"x/y.env": secret_file("tgz")})),
        ("root/.ssh/id_rsa", bytes(range(256)) * 4),
        ("etc/ssh/ssh_host_rsa_key", b"-----BEGIN OPENSSH PRIVATE KEY-----\n\xffx\n"),
    ],
    ids=["utf-16", "gzip", "tgz", "name-only-binary", "host-key-not-utf8"],
)
def test_every_kind_of_file_finding_is_found_again(engine: Engine, name: str, data: bytes) -> None:
    findings = _finding(engine, name, data)
    assert findings
    for finding in findings:
        found = found_again(finding, "/" + name, data, LIMITS)
        assert found == finding.secret, (finding.rule.id, finding.nested_path)
        other = data[:-1] + bytes([data[-1] ^ 1]) if finding.secret.startswith("sha256:") else b"x"
        assert found_again(finding, "/" + name, other, LIMITS) is None


def test_a_file_larger_than_the_scan_reads_holds_no_finding(engine: Engine) -> None:
    [finding] = _finding(engine, "a.env", secret_file("big"))
    limits = ContentLimits(max_file_bytes=len(secret_file("big")) - 1)
    assert found_again(finding, "/a.env", secret_file("big"), limits) is None
