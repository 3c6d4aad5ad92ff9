"""`registry:` targets against a real registry server (issue 15): Debian's docker-registry on
127.0.0.1 with TLS from a test CA and htpasswd basic auth, images pushed with skopeo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscan.errors import UsageError
from layerscan.image.credentials import Credentials
from layerscan.image.distribution import RegistryClient, RegistryOptions
from layerscan.image.reference import parse_reference
from tests.support.command import Run
from tests.support.derived import with_one_more_layer
from tests.support.faulty_proxy import Faults, Proxy, faulty_proxy
from tests.support.paths import BUNDLED_DEMO
from tests.support.registry import (
    PASSWORD,
    USER,
    Registry,
    TokenServer,
    make_ca,
    running_registry,
    token_server,
)
from tests.support.tcp_relay import connect_proxy, pausing_relay

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
    reason="docker-registry and skopeo are needed (tests/prepare.sh installs them)",
)


def _layerscan(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Run:
    done = subprocess.run(
        ["python3", "-m", "layerscan", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def _fingerprints(run: Run) -> set[str]:
    assert run.code in (0, 1), run.stderr
    return {finding["fingerprint"] for finding in json.loads(run.stdout)["findings"]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    folder = tmp_path_factory.mktemp("registry")
    with running_registry(folder) as server:
        server.push(f"docker-archive:{BUNDLED_DEMO}", "demo:1")
        second = with_one_more_layer(BUNDLED_DEMO, folder / "second.tar")
        server.push(f"docker-archive:{second}", "demo:2")
        yield server


@pytest.fixture(scope="module")
def logged_in(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user who ran `docker login` for the registry."""
    config = registry.docker_config(tmp_path_factory.mktemp("docker-config"))
    return {"DOCKER_CONFIG": str(config)}


def test_a_registry_scan_finds_exactly_what_the_tarball_holds(
    registry: Registry, logged_in: dict[str, str]
) -> None:
    target = f"registry:{registry.host}/demo:1"
    run = _layerscan(
        "scan",
        "--no-cache",
        "-f",
        "json",
        target,
        "--ca-file",
        str(registry.ca_file),
        env=logged_in,
    )
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["complete"] is True
    assert report["image"]["source"] == "registry"
    assert report["image"]["digest"].startswith("sha256:")
    expected = _fingerprints(_layerscan("scan", "--no-cache", "-f", "json", str(BUNDLED_DEMO)))
    assert _fingerprints(run) == expected


def test_anonymous_is_refused_with_how_to_log_in(registry: Registry, tmp_path: Path) -> None:
    run = _layerscan(
        "layers",
        f"registry:{registry.host}/demo:1",
        "--ca-file",
        str(registry.ca_file),
        env={"DOCKER_CONFIG": str(tmp_path)},
    )
    assert run.code == 2
    assert "HTTP 401" in run.stderr and f"docker login {registry.host}" in run.stderr
    assert run.stderr.count("\n") == 1


def test_a_wrong_password_is_refused_and_never_printed(registry: Registry, tmp_path: Path) -> None:
    config = registry.docker_config(tmp_path / "config", password="not-the-password")
    run = _layerscan(
        "layers",
        f"registry:{registry.host}/demo:1",
        "--ca-file",
        str(registry.ca_file),
        env={"DOCKER_CONFIG": str(config)},
    )
    assert run.code == 2 and "were not accepted" in run.stderr
    assert "not-the-password" not in run.stdout + run.stderr


def test_username_and_password_stdin(registry: Registry, tmp_path: Path) -> None:
    run = _layerscan(
        "history",
        f"registry:{registry.host}/demo:1",
        "--ca-file",
        str(registry.ca_file),
        "--username",
        USER,
        "--password-stdin",
        env={"DOCKER_CONFIG": str(tmp_path)},
        stdin=PASSWORD + "\n",
    )
    assert run.code == 0, run.stderr
    assert "NPM_TOKEN" in run.stdout and PASSWORD not in run.stdout + run.stderr


def test_a_registry_whose_ca_is_not_trusted_names_ca_file(
    registry: Registry, logged_in: dict[str, str]
) -> None:
    run = _layerscan("layers", f"registry:{registry.host}/demo:1", env=logged_in)
    assert run.code == 2 and "--ca-file" in run.stderr and "TLS verification" in run.stderr


def test_plain_http_only_with_insecure_registry(tmp_path: Path) -> None:
    with running_registry(tmp_path / "plain", tls=False, auth=False) as plain:
        plain.push(f"docker-archive:{BUNDLED_DEMO}", "demo:1")
        target = f"registry:{plain.host}/demo:1"
        refused = _layerscan("layers", target)
        assert refused.code == 2 and "--insecure-registry" in refused.stderr
        run = _layerscan("layers", target, "--insecure-registry", plain.host)
        assert run.code == 0, run.stderr
        assert run.stdout.count("\n") == 12  # the header, its rule and ten layers


def test_a_missing_tag_and_a_missing_repository_are_told_apart(
    registry: Registry, logged_in: dict[str, str]
) -> None:
    ca = ["--ca-file", str(registry.ca_file)]
    tag = _layerscan("layers", f"registry:{registry.host}/demo:nope", *ca, env=logged_in)
    assert tag.code == 2 and "has no tag 'nope' (HTTP 404)" in tag.stderr
    repo = _layerscan("layers", f"registry:{registry.host}/nothing-here:1", *ca, env=logged_in)
    assert repo.code == 2 and "no repository 'nothing-here'" in repo.stderr


def test_a_rescan_of_a_tag_sharing_its_layers_downloads_only_its_own(
    registry: Registry, logged_in: dict[str, str], tmp_path: Path
) -> None:
    ca = ["--ca-file", str(registry.ca_file), "--cache-dir", str(tmp_path / "cache")]
    before = len(registry.blob_requests())
    first = _layerscan("scan", "-q", f"registry:{registry.host}/demo:1", *ca, env=logged_in)
    assert first.code == 1, first.stderr
    after_first = registry.blob_requests()[before:]
    assert len(after_first) == 11  # the config and ten layers
    second = _layerscan("scan", "-q", f"registry:{registry.host}/demo:2", *ca, env=logged_in)
    assert second.code == 1, second.stderr
    fetched = registry.blob_requests()[before + len(after_first) :]
    assert len(fetched) == 2, fetched  # its config and its one layer of its own
    assert not set(fetched) & set(after_first)


def test_a_diff_of_two_tags_downloads_each_shared_layer_once_and_then_none(
    registry: Registry, logged_in: dict[str, str], tmp_path: Path
) -> None:
    """Issue 16: the layer cache makes a diff of two tags sharing their base cost about one
    scan of the new layers (the versions come from the cache: no second download)."""
    ca = ["--ca-file", str(registry.ca_file), "--cache-dir", str(tmp_path / "cache")]
    tags = [f"registry:{registry.host}/demo:1", f"registry:{registry.host}/demo:2"]
    before = len(registry.blob_requests())
    cold = _layerscan("diff", "-f", "json", *tags, *ca, env=logged_in)
    assert cold.code == 0, cold.stderr
    fetched = registry.blob_requests()[before:]
    assert len(fetched) == 13, fetched  # two configs, ten shared layers, one of demo:2's own
    assert len(set(fetched)) == 13
    report = json.loads(cold.stdout)
    assert report["summary"]["layers"] == {"shared": 10, "dropped": 0, "added": 1}
    assert [f["path"] for f in report["files"]["added"]] == ["/srv/second.txt"]
    assert report["summary"]["findings"]["new"] == 0
    warm = _layerscan("diff", "-f", "json", *tags, *ca, env=logged_in)
    assert warm.code == 0, warm.stderr
    assert len(registry.blob_requests()) - before - len(fetched) == 2  # the two configs
    assert json.loads(warm.stdout)["summary"] == report["summary"]


def test_a_tampered_blob_damages_its_layer_and_exits_3(
    logged_in: dict[str, str], tmp_path: Path
) -> None:
    with running_registry(tmp_path / "tampered", tls=False, auth=False) as server:
        server.push(f"docker-archive:{BUNDLED_DEMO}", "demo:1")
        blobs = server.folder / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256"
        victim = max(blobs.glob("*/*/data"), key=lambda path: path.stat().st_size)
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
        run = _layerscan(
            "scan",
            "--no-cache",
            "-f",
            "json",
            f"registry:{server.host}/demo:1",
            "--insecure-registry",
            server.host,
        )
    assert run.code in (1, 3), run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["complete"] is False
    assert any("tampered or corrupt" in error["message"] for error in report["errors"])


def test_a_bare_name_the_engine_does_not_have_says_which_scheme_to_use() -> None:
    run = _layerscan("layers", "layerscan-no-such-image:none")
    assert run.code == 2 and "registry:HOST[:PORT]/REPO[:TAG]" in run.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("demo:1", "names no repository"),
        ("app/demo:1", "does not start with a registry host"),
        ("127.0.0.1:5000/Demo:1", "not a valid repository"),
        ("127.0.0.1:5000/demo@sha256:1234", "not a valid digest"),
    ],
)
def test_references_are_checked_before_any_request(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_reference(text)


def test_a_reference_keeps_host_port_repository_tag_and_digest() -> None:
    digest = "sha256:" + "ab" * 32
    ref = parse_reference(f"127.0.0.1:5000/team/app@{digest}")
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (
        "127.0.0.1:5000",
        "team/app",
        None,
        digest,
    )
    assert parse_reference("registry.example.com/app:1.2").reference == "1.2"
    assert str(parse_reference("localhost/app")) == "localhost/app:latest"


# --- token auth: the registry verifies tokens a realm signs --------------------------------


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Registry, TokenServer]]:
    """A registry with `auth: token`; its realm's tokens say they last 2 s (the registry
    would take them for 5 minutes): a client must ask for a new one once its own expires."""
    folder = tmp_path_factory.mktemp("token-registry")
    with (
        token_server(folder / "token", lifetime=300, announced=2) as token,
        running_registry(folder / "registry", token=token) as server,
    ):
        server.push(f"docker-archive:{BUNDLED_DEMO}", "demo:1")
        yield server, token[0]


def test_token_auth_scan_finds_what_the_tarball_holds(
    token_registry: tuple[Registry, TokenServer], tmp_path: Path
) -> None:
    registry, _ = token_registry
    config = registry.docker_config(tmp_path / "config")
    run = _layerscan(
        "scan",
        "--no-cache",
        "-f",
        "json",
        f"registry:{registry.host}/demo:1",
        "--ca-file",
        str(registry.ca_file),
        env={"DOCKER_CONFIG": str(config)},
    )
    expected = _fingerprints(_layerscan("scan", "--no-cache", "-f", "json", str(BUNDLED_DEMO)))
    assert _fingerprints(run) == expected


def test_token_auth_without_credentials_is_refused(
    token_registry: tuple[Registry, TokenServer], tmp_path: Path
) -> None:
    registry, _ = token_registry
    run = _layerscan(
        "layers",
        f"registry:{registry.host}/demo:1",
        "--ca-file",
        str(registry.ca_file),
        env={"DOCKER_CONFIG": str(tmp_path)},
    )
    assert run.code == 2 and "token service refused" in run.stderr
    assert "docker login" in run.stderr


def test_a_token_is_cached_for_its_scope_until_it_expires_then_renewed(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    registry, token = token_registry
    client = RegistryClient(
        parse_reference(f"{registry.host}/demo:1"),
        RegistryOptions(
            ca_file=str(registry.ca_file), credentials=Credentials(USER, PASSWORD, "test")
        ),
    )
    try:
        before = len(token.issued)
        manifest, _, _ = client.manifest("1")
        config_digest = json.loads(manifest)["config"]["digest"]
        client.manifest("1")
        assert len(token.issued) == before + 1  # the second request reused the token
        time.sleep(2.5)  # past the 2 s the realm announced
        config = client.blob_bytes(config_digest, 1 << 20, "the config")
        assert json.loads(config)["rootfs"]["type"] == "layers"
        assert len(token.issued) == before + 2
    finally:
        client.close()


# --- multi-platform indexes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def multi_platform(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`multi:1`: an index of the demo (linux/amd64) and a one-file image for linux/arm64
    that buildah builds from scratch (no emulation: nothing is run)."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is needed for a second platform (tests/prepare.sh installs it)")
    folder = tmp_path_factory.mktemp("arm64")
    (folder / "hello.txt").write_text("built for arm64\n")
    (folder / "Containerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    buildah = ["buildah", "--storage-driver", "vfs"]
    name = f"layerscan-multi-{os.getpid()}"
    run = lambda *args: subprocess.run([*buildah, *args], check=True, capture_output=True)  # noqa: E731
    run("bud", "--isolation", "chroot", "--arch", "arm64", "-t", f"{name}-arm64", str(folder))
    run("manifest", "create", name)
    try:
        run("manifest", "add", name, f"containers-storage:localhost/{name}-arm64")
        run("manifest", "add", name, f"docker-archive:{BUNDLED_DEMO}")
        run(
            "manifest",
            "push",
            "--all",
            "--cert-dir",
            str(registry.cert_dir),
            "--creds",
            f"{USER}:{PASSWORD}",
            name,
            f"docker://{registry.host}/multi:1",
        )
    finally:
        subprocess.run([*buildah, "manifest", "rm", name], capture_output=True)
        subprocess.run([*buildah, "rmi", f"{name}-arm64"], capture_output=True)
    return f"registry:{registry.host}/multi:1"


def test_an_index_gives_this_machines_platform_or_the_one_asked_for(
    registry: Registry, logged_in: dict[str, str], multi_platform: str
) -> None:
    ca = ["--ca-file", str(registry.ca_file)]
    default = _layerscan("scan", "--no-cache", "-f", "json", multi_platform, *ca, env=logged_in)
    assert json.loads(default.stdout)["image"]["platform"] == "linux/amd64"
    arm = _layerscan(
        "scan",
        "--no-cache",
        "-f",
        "json",
        multi_platform,
        "--platform",
        "linux/arm64",
        *ca,
        env=logged_in,
    )
    assert arm.code == 0, arm.stderr
    report = json.loads(arm.stdout)
    assert report["image"]["platform"] == "linux/arm64"
    assert [f for f in report["findings"] if f["kind"] == "secret"] == []


def test_a_platform_the_index_does_not_offer_lists_those_it_does(
    registry: Registry, logged_in: dict[str, str], multi_platform: str
) -> None:
    run = _layerscan(
        "layers",
        multi_platform,
        "--platform",
        "linux/s390x",
        "--ca-file",
        str(registry.ca_file),
        env=logged_in,
    )
    assert run.code == 2
    assert (
        "linux/s390x" in run.stderr and "linux/amd64" in run.stderr and "linux/arm64" in run.stderr
    )


def test_every_command_takes_a_registry_target(
    registry: Registry, logged_in: dict[str, str], tmp_path: Path
) -> None:
    target = f"registry:{registry.host}/demo:1"
    ca = ["--ca-file", str(registry.ca_file)]
    out = tmp_path / "x"
    before = len(registry.blob_requests())
    extract = _layerscan("extract", "-q", target, "-o", str(out), *ca, env=logged_in)
    assert extract.code == 0, extract.stderr
    assert (out / "removed/layer-1/root/.ssh/id_rsa").is_file()
    extracted = registry.blob_requests()[before:]
    assert len(extracted) == len(set(extracted)) == 11  # each layer downloaded once, and the config
    recovered = _layerscan(
        "recover", target, "/root/.ssh/id_rsa", "-o", str(tmp_path / "r"), *ca, env=logged_in
    )
    assert recovered.code == 0, recovered.stderr
    fetched = registry.blob_requests()[before + 11 :]
    assert len(fetched) == 12 and len(set(fetched)) == 11  # the walk, then layer 1 again
    assert (tmp_path / "r/layer-1/root/.ssh/id_rsa").read_bytes() == (
        out / "removed/layer-1/root/.ssh/id_rsa"
    ).read_bytes()
    exported = _layerscan("export", target, "-o", str(tmp_path / "demo.tar"), *ca, env=logged_in)
    assert exported.code == 0, exported.stderr
    record = json.loads((tmp_path / "demo.tar.json").read_text())
    assert record["source"] == "registry" and record["source_manifest_digest"].startswith("sha256:")
    assert _fingerprints(_layerscan("scan", "--no-cache", "-f", "json", str(tmp_path / "demo.tar")))
    baseline = _layerscan("baseline", target, "-o", str(tmp_path / "b.json"), *ca, env=logged_in)
    assert baseline.code == 0, baseline.stderr


# --- faults a real registry cannot be made to show (a proxy in front of one) -----------------


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("plain"), tls=False, auth=False) as server:
        server.push(f"docker-archive:{BUNDLED_DEMO}", "demo:1")
        yield server


def _through(proxy: Proxy, *args: str) -> Run:
    return _layerscan(
        *args,
        "--insecure-registry",
        proxy.host,
        "--username",
        USER,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )


def test_a_blob_redirected_to_another_host_gets_no_credentials(plain_registry: Registry) -> None:
    with faulty_proxy(plain_registry.host, Faults(redirect_blobs=True)) as proxy:
        run = _through(proxy, "scan", "--no-cache", "-f", "json", f"registry:{proxy.host}/demo:1")
        assert run.code == 1, run.stderr
        assert json.loads(run.stdout)["summary"]["complete"] is True
        assert len(proxy.faults.seen_by_storage) == 11  # the config and ten layers
        assert set(proxy.faults.seen_by_storage) == {None}


def test_503_and_429_are_retried_honouring_retry_after(plain_registry: Registry) -> None:
    for status in (503, 429):
        faults = Faults(fail_first=2, status=status)
        with faulty_proxy(plain_registry.host, faults) as proxy:
            started = time.monotonic()
            run = _through(proxy, "layers", f"registry:{proxy.host}/demo:1")
            assert run.code == 0, run.stderr
            assert time.monotonic() - started >= 2  # two Retry-After: 1 waits
            assert faults.fail_first == 0


def test_a_registry_that_keeps_failing_is_one_line_with_its_status(
    plain_registry: Registry,
) -> None:
    with faulty_proxy(plain_registry.host, Faults(fail_first=100)) as proxy:
        run = _through(proxy, "layers", f"registry:{proxy.host}/demo:1")
    assert run.code == 2 and "HTTP 503" in run.stderr and "after 5 attempts" in run.stderr
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>not a manifest</html>", "is not valid JSON"),
        (b"{" + b" " * (5 << 20) + b"}", "refusing more than"),
    ],
)
def test_a_manifest_that_is_not_json_or_too_large_is_refused(
    plain_registry: Registry, body: bytes, message: str
) -> None:
    with faulty_proxy(plain_registry.host, Faults(manifest_body=body)) as proxy:
        run = _through(proxy, "layers", f"registry:{proxy.host}/demo:1")
    assert run.code == 2 and message in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1


def test_a_connection_cut_mid_layer_damages_that_layer_and_the_rest_is_scanned(
    plain_registry: Registry,
) -> None:
    with faulty_proxy(plain_registry.host, Faults(cut_blob_after=50_000)) as proxy:
        run = _through(proxy, "scan", "--no-cache", "-f", "json", f"registry:{proxy.host}/demo:1")
    assert run.code in (1, 3), run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["complete"] is False
    assert [error["layer"] for error in report["errors"] if "stopped sending" in error["message"]]
    assert any(f["rule"] == "private-key" for f in report["findings"])  # later layers scanned


def test_the_registry_stopped_mid_layer_damages_that_layer_and_the_rest_is_scanned(
    tmp_path: Path,
) -> None:
    """The real registry is killed while it sends a 24 MB first layer (a relay holds that
    connection still at 4 MB so the moment is certain), then started again: that layer is
    damaged, the later ones are fetched from the restarted server and scanned, exit 3."""
    image = with_one_more_layer(
        BUNDLED_DEMO,
        tmp_path / "big-first.tar",
        {"srv/noise.bin": os.urandom(24 << 20)},
        first=True,
        tag="layerscan-fixture:big-first",
    )
    with running_registry(tmp_path / "crashing", tls=False, auth=False) as server:
        server.push(f"docker-archive:{image}", "demo:big")
        port = int(server.host.rsplit(":", 1)[1])

        def crash_and_restart() -> None:
            server.crash()
            server.start()

        with pausing_relay(port, 4 << 20, crash_and_restart) as (relay, pause):
            run = _layerscan(
                "scan",
                "--no-cache",
                "--fail-on",
                "never",
                "-f",
                "json",
                f"registry:{relay}/demo:big",
                "--insecure-registry",
                relay,
            )
    assert pause.fired.is_set() and pause.carried < 24 << 20
    assert run.code == 3, run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["complete"] is False
    assert [error["layer"] for error in report["errors"]] == [0], report["errors"]
    assert "127.0.0.1" in report["errors"][0]["message"]
    demo = _fingerprints(_layerscan("scan", "--no-cache", "-f", "json", str(BUNDLED_DEMO)))
    assert {finding["fingerprint"] for finding in report["findings"]} == demo


def test_an_https_proxy_from_the_environment_carries_the_connection(
    registry: Registry, logged_in: dict[str, str]
) -> None:
    """HTTPS_PROXY is honoured (a CONNECT tunnel, TLS still verified end to end against
    --ca-file) and NO_PROXY exempts a host."""
    target = f"registry:{registry.host}/demo:1"
    ca = ["--ca-file", str(registry.ca_file)]
    with connect_proxy() as (proxy, tunnels):
        proxied = {**logged_in, "HTTPS_PROXY": f"http://{proxy}", "NO_PROXY": ""}
        run = _layerscan("layers", target, *ca, env=proxied)
        assert run.code == 0, run.stderr
        assert tunnels and set(tunnels) == {registry.host}
        tunnels.clear()
        exempt = {**proxied, "NO_PROXY": "127.0.0.1"}
        run = _layerscan("layers", target, *ca, env=exempt)
        assert run.code == 0, run.stderr
        assert tunnels == []


# --- a hostile registry or token realm ---------------------------------------------------------


def _layers_as_logged_in_user(registry: Registry, tmp_path: Path) -> Run:
    config = registry.docker_config(tmp_path / "config")
    return _layerscan(
        "layers",
        f"registry:{registry.host}/demo:1",
        "--ca-file",
        str(registry.ca_file),
        env={"DOCKER_CONFIG": str(config)},
    )


@pytest.mark.parametrize("announced", [-5, "nan", 1e300])
def test_a_hostile_token_lifetime_is_clamped(
    token_registry: tuple[Registry, TokenServer], tmp_path: Path, announced: float | str
) -> None:
    registry, token = token_registry
    token.announced = announced
    try:
        run = _layers_as_logged_in_user(registry, tmp_path)
    finally:
        token.announced = 2
    assert run.code == 0, run.stderr


def test_a_token_answer_too_large_is_refused_unread(
    token_registry: tuple[Registry, TokenServer], tmp_path: Path
) -> None:
    registry, token = token_registry
    token.body = b'{"token": "' + b"a" * (2 << 20) + b'"}'
    try:
        run = _layers_as_logged_in_user(registry, tmp_path)
    finally:
        token.body = None
    assert run.code == 2 and "refusing more than" in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1


def test_credentials_are_not_sent_to_a_plain_http_realm_elsewhere(tmp_path: Path) -> None:
    """A registry naming http://127.0.0.2/… (not this machine's name, not listed insecure) as
    its realm would get the password in clear: refused before any request to it."""
    elsewhere = TokenServer("http://127.0.0.2:9/token", [], 300)
    bundle, _, _ = make_ca(tmp_path / "signer")  # the registry wants one; no token is made
    with running_registry(tmp_path / "registry", token=(elsewhere, bundle)) as server:
        run = _layers_as_logged_in_user(server, tmp_path)
    assert run.code == 2, run.stderr
    assert (
        "over plain HTTP; refused" in run.stderr and "--insecure-registry 127.0.0.2:9" in run.stderr
    )
    assert PASSWORD not in run.stderr


def test_a_blob_longer_than_declared_is_cut_at_its_size(plain_registry: Registry) -> None:
    with faulty_proxy(plain_registry.host, Faults(overlong_blobs=1 << 20)) as proxy:
        run = _through(proxy, "scan", "--no-cache", "-f", "json", f"registry:{proxy.host}/demo:1")
    assert run.code in (1, 3), run.stderr
    messages = [error["message"] for error in json.loads(run.stdout)["errors"]]
    assert messages and all("longer than the" in message for message in messages), messages
