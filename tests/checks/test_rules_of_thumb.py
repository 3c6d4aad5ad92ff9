"""The hygiene checks' text rules, on the lines builders record: a download piped into a
shell, a user that is root, what a package database lists as installed."""

from __future__ import annotations

import pytest

from layerscan.checks.facts import installed_packages
from layerscan.checks.settings import runs_as_root
from layerscan.checks.steps import pipes_into_shell
from tests.support.adversarial import MB, SECONDS_PER_MB, fill, timed


@pytest.mark.parametrize(
    ("command", "piped"),
    [
        ("curl -fsSL https://get.example.com | sh", True),
        ("wget -qO- https://x.example/install.sh | sudo -E bash -s -- --yes", True),
        ("apt-get update && curl -s https://x | /bin/bash", True),
        ("curl -fsSL https://x -o install.sh && sha256sum -c sums && sh install.sh", False),
        ("curl -s https://x | tar xz", False),
        ("test -f x || sh -c 'echo no'", False),
        ("echo curl | sh", False),
        ("/usr/bin/curl https://x|sh", True),
    ],
)
def test_a_download_piped_into_a_shell_is_told_from_other_pipes(command: str, piped: bool) -> None:
    assert pipes_into_shell(command) is piped


@pytest.mark.parametrize(
    ("user", "root"),
    [("", True), ("root", True), ("0", True), ("0:0", True), ("root:staff", True),
     ("1000", False), ("1000:1000", False), ("app", False), ("nobody:0", False)],
)  # fmt: skip
def test_root_is_told_by_the_user_part(user: str, root: bool) -> None:
    assert runs_as_root(user) is root


def test_dpkg_status_lists_what_is_installed_and_not_what_was_removed() -> None:
    status = (
        b"Package: openssh-server\nStatus: install ok installed\nVersion: 1\n\n"
        b"Package: sudo\nStatus: deinstall ok config-files\n\n"
        b"Package: git\nStatus: install ok installed\n"
    )
    assert installed_packages("var/lib/dpkg/status", status) == ["git", "openssh-server"]
    apk = b"P:busybox\nV:1\n\nP:openssh-server\nV:9\n"
    assert installed_packages("lib/apk/db/installed", apk) == ["busybox", "openssh-server"]


def _piped(text: str) -> bool:
    return pipes_into_shell(text)


@pytest.mark.parametrize("unit", ["curl |", "curl ", "| sh ", "wget|||", "curl curl | x "])
def test_a_hostile_command_is_read_in_linear_time(unit: str) -> None:
    result = timed(_piped, (fill(unit, MB),), SECONDS_PER_MB)
    assert result.finished, result.error or "too slow"
