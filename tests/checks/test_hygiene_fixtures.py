"""The hygiene fixtures (fixtures/hygiene, issue 17) as the three builders wrote them, read by
layerscan's own reader: the bad image holds every problem docs/checks.md lists, in its own
layers, and the good one none of them.

These tests hold what the images are, not what the checks say about them: a check that
misses one of these facts is a check bug, not a fixture one. Where the builders disagree
(how a remote ADD is recorded, buildah's config without a Healthcheck, buildah's mount-point
files) the test says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fixtures.hygiene.build import BUILDERS, CAPABILITY_FILE
from layerscan.image.model import Image
from layerscan.image.open import open_image
from layerscan.layers.entries import EntryKind, Version
from layerscan.layers.timeline import Timeline
from layerscan.layers.walk import replay, walk
from layerscan.model.findings import Status
from layerscan.model.walk_log import WalkLog

BASE_LAYERS = 1
"""layerscan-base:busybox is one `docker import` layer: every later layer is the image's own."""
SET_ID = 0o6000
TOOLCHAIN = ("usr/bin/gcc", "usr/bin/cc", "usr/bin/git")
BUILDAH_MOUNT_POINTS = {"etc", "etc/hostname", "etc/hosts", "etc/resolv.conf", "run"}
"""What buildah's first RUN step leaves in its layer: the (empty) files it bind-mounts over,
and their directories. The Docker builders leave none."""


@pytest.fixture(params=BUILDERS)
def builder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def _opened(target: str) -> Iterator[tuple[Image, Timeline]]:
    with open_image(target) as image:
        timeline, _log = replay(image)
        yield image, timeline


def _settings(image: Image) -> dict[str, object]:
    config = image.config.get("config")
    return config if isinstance(config, dict) else {}


def _final(timeline: Timeline) -> list[Version]:
    return [
        versions[-1]
        for versions in timeline.versions.values()
        if versions and versions[-1].status is Status.PRESENT
    ]


def _own_file(timeline: Timeline, path: str) -> Version:
    version = timeline.present(path)
    assert version is not None, f"/{path} is missing"
    assert version.kind is EntryKind.FILE and version.layer_index >= BASE_LAYERS
    return version


def _final_bytes(image: Image, paths: set[str]) -> dict[str, bytes]:
    """The bytes the final image shows at each path (walked with their contents)."""
    found: dict[str, bytes] = {}
    for entry in walk(image, Timeline(), WalkLog()):
        if entry.path in paths and entry.kind is EntryKind.FILE:
            found[entry.path] = entry.read(1 << 20)
    return found


def _steps(image: Image, keyword: str) -> list[str]:
    return [e.created_by for e in image.history if e.parsed.keyword == keyword]


# -- the bad image -----------------------------------------------------------------------


def test_the_bad_image_runs_as_root_with_ssh_exposed_and_the_docker_socket_as_a_volume(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["bad"][builder]) as (image, _timeline):
        settings = _settings(image)
        assert not settings.get("User")  # no USER: '' (classic) or absent (BuildKit, buildah)
        assert _steps(image, "USER") == []
        assert "22/tcp" in settings["ExposedPorts"]  # type: ignore[operator]
        assert "/var/run/docker.sock" in settings["Volumes"]  # type: ignore[operator]
        assert settings["WorkingDir"] == "/usr/bin"
        assert not settings.get("Healthcheck") and _steps(image, "HEALTHCHECK") == []
        labels = settings["Labels"]
        assert isinstance(labels, dict)
        assert labels["org.opencontainers.image.base.name"] == "registry.example/base:1.0"


def test_the_bad_image_adds_a_setuid_tool_and_a_world_writable_directory_in_its_own_layers(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["bad"][builder]) as (_image, timeline):
        tool = _own_file(timeline, "usr/local/bin/tool")
        assert tool.mode & 0o7777 == 0o4755 and tool.uid == 0
        shared = timeline.present("srv/shared")
        assert shared is not None and shared.kind is EntryKind.DIRECTORY
        assert shared.mode & 0o7777 == 0o777 and shared.layer_index >= BASE_LAYERS
        set_id = [v.path for v in _final(timeline) if v.mode & SET_ID]
        assert set_id == ["usr/local/bin/tool"]


def test_every_builder_keeps_the_file_capability_the_build_context_tar_gives(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    """ADD caps.tar: the pax header's SCHILY.xattr.security.capability (cap_net_raw=ep) is
    set on the file and written again into the layer by all three builders (vfs storage)."""
    with _opened(hygiene_images["bad"][builder]) as (_image, timeline):
        probe = _own_file(timeline, CAPABILITY_FILE)
        assert probe.capabilities
        assert [v.path for v in _final(timeline) if v.capabilities] == [CAPABILITY_FILE]


def test_the_bad_image_ships_an_ssh_server_sudo_a_toolchain_and_apt_lists(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["bad"][builder]) as (image, timeline):
        _own_file(timeline, "usr/sbin/sshd")
        _own_file(timeline, "usr/bin/sudo")
        tools = [_own_file(timeline, path) for path in TOOLCHAIN]
        assert len({tool.layer_index for tool in tools}) == 1  # one COPY, one stage
        lists = [v for v in _final(timeline) if v.path.startswith("var/lib/apt/lists/")]
        assert [v.kind for v in lists] == [EntryKind.FILE] and lists[0].size > 0
        status = _final_bytes(image, {"var/lib/dpkg/status"})["var/lib/dpkg/status"]
        assert b"Package: openssh-server\nStatus: install ok installed\n" in status


def test_the_bad_image_has_an_account_without_password_and_a_second_root(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["bad"][builder]) as (image, timeline):
        for path in ("etc/passwd", "etc/shadow"):
            _own_file(timeline, path)
        files = _final_bytes(image, {"etc/passwd", "etc/shadow"})
    shadow = [line.split(":") for line in files["etc/shadow"].decode().splitlines()]
    assert [row[0] for row in shadow if row[1] == ""] == ["toor"]
    passwd = [line.split(":") for line in files["etc/passwd"].decode().splitlines()]
    assert [row[0] for row in passwd if row[2] == "0"] == ["root", "toor"]


def test_the_bad_image_pipes_a_download_into_sh_and_uses_sudo_in_run_steps(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["bad"][builder]) as (image, timeline):
        runs = _steps(image, "RUN")
        _own_file(timeline, "opt/installed")  # what the piped script did
        _own_file(timeline, "opt/sudo-used")
    assert any(
        re.search(r"wget -q -O - http://127\.0\.0\.1:\d+/install\.sh \| sh", r) for r in runs
    )
    assert any("sudo touch /opt/sudo-used" in run for run in runs)


def test_a_remote_add_keeps_its_url_in_the_history_only_with_buildkit(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    """The classic builder writes `ADD <hash of the download> in DEST` (no `file:` prefix,
    unlike a local file's), and buildah copies that form: only BuildKit keeps the URL."""
    with _opened(hygiene_images["bad"][builder]) as (image, timeline):
        adds = _steps(image, "ADD")
        remote = _own_file(timeline, "opt/remote.txt")
    assert remote.mode & 0o777 == 0o600  # a downloaded file's mode, whoever fetched it
    [fetched] = [add for add in adds if "/opt/remote.txt" in add]
    if builder == "buildkit":
        assert re.fullmatch(
            r"ADD http://127\.0\.0\.1:\d+/remote\.txt /opt/remote\.txt # buildkit", fetched
        )
    else:
        assert re.fullmatch(r"/bin/sh -c #\(nop\) ADD [0-9a-f]{64} in /opt/remote\.txt ", fetched)
    local = "ADD caps.tar / # buildkit" if builder == "buildkit" else r"ADD file:[0-9a-f]{64} in / "
    assert any(re.search(local, add) for add in adds)  # a local file keeps its `file:` prefix


def test_the_three_builders_ship_the_same_files_in_the_bad_images_own_layers(
    hygiene_images: dict[str, dict[str, str]],
) -> None:
    shapes = {}
    for builder in BUILDERS:
        with _opened(hygiene_images["bad"][builder]) as (_image, timeline):
            shapes[builder] = {
                v.path: (v.kind, v.mode & 0o7777, v.size, v.capabilities)
                for v in _final(timeline)
                if v.layer_index >= BASE_LAYERS
            }
    extra = set(shapes["buildah"]) - set(shapes["classic"])
    assert extra == BUILDAH_MOUNT_POINTS - {"etc"}  # the bad image COPYs an /etc of its own
    for path in extra:
        del shapes["buildah"][path]
    assert shapes["classic"] == shapes["buildkit"] == shapes["buildah"]


# -- the good image ----------------------------------------------------------------------


def test_the_good_image_runs_as_a_user_with_a_health_check_and_a_pinned_base(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["good"][builder]) as (image, _timeline):
        settings = _settings(image)
        assert settings["User"] == "1000:1000"
        assert settings["WorkingDir"] == "/srv/app"
        assert not settings.get("ExposedPorts") and not settings.get("Volumes")
        [health] = _steps(image, "HEALTHCHECK")
        assert "/srv/app/bin/app.sh" in health
        if builder == "buildah":  # its OCI config has no Healthcheck: the history holds it
            assert "Healthcheck" not in settings
        else:
            healthcheck = settings["Healthcheck"]
            assert isinstance(healthcheck, dict)
            assert healthcheck["Test"] == ["CMD", "/srv/app/bin/app.sh", "--check"]
        labels = settings["Labels"]
        assert isinstance(labels, dict)
        name = labels["org.opencontainers.image.base.name"]
        assert re.fullmatch(r"registry\.example/base:1\.0@sha256:[0-9a-f]{64}", name)


def test_the_good_image_adds_no_set_id_capability_or_world_writable_file(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["good"][builder]) as (_image, timeline):
        own = [
            version
            for versions in timeline.versions.values()
            for version in versions
            if version.layer_index >= BASE_LAYERS
        ]
        assert own, "the good image has layers of its own"
        assert [v.path for v in own if v.mode & SET_ID or v.capabilities] == []
        writable = [v for v in own if v.mode & 0o002 and v.kind is not EntryKind.SYMLINK]
        assert [(v.path, v.mode & 0o7777) for v in writable] == [("srv/app/scratch", 0o1777)]


def test_the_good_images_final_stage_holds_only_the_builder_stages_output(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    with _opened(hygiene_images["good"][builder]) as (_image, timeline):
        paths = set(timeline.versions)
        app = _own_file(timeline, "srv/app/bin/app.sh")
    assert app.mode & 0o7777 == 0o755
    assert not paths & {*TOOLCHAIN, "usr/sbin/sshd", "usr/bin/sudo", "build", "etc/shadow"}
    assert not any(p.startswith(("var/lib/apt/", "root/.cache/", "root/.npm/")) for p in paths)
