"""The hygiene checks at their edges, on real images (fixtures/hygiene CASES) built by the
classic builder and BuildKit: near misses stay quiet, each problem is caught in another form
than the bad image has it, and what only a base brings is lowered with the base named.

With test_hygiene.py (every check once on the bad image, none on the good one) this gives
each check a positive and a negative case on a built image."""

from __future__ import annotations

import pytest

from fixtures.hygiene.build import CASE_BUILDERS
from layerscan.checks.rules import PREFIX, RULES
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import scan
from layerscan.model.findings import Finding, Kind
from layerscan.model.severity import Severity

TEAM_BASE = "registry.example/team-base:2@sha256:9f2b7d2c"
"""The start of the base name base-brings/ records in its label."""

OTHER_WAYS = {
    # rule: (severity, path or key, evidence)
    "empty-password": ("high", "/etc/passwd", "no password: root"),
    "ssh-server": ("high", "/var/lib/dpkg/status", "package openssh-server installed"),
    "build-toolchain": ("low", "/usr/bin/make", "make (45 B in this layer)"),
    "setuid-file": ("medium", "/usr/local/bin/gtool", "setgid, mode 2755"),
    "world-writable": ("medium", "/srv/open.txt", "file, mode 0666"),
    "package-leftovers": ("low", "/root/.cache/pip/http/entry", "pip cache: 1 files, 7 B"),
    "expose-ssh": ("medium", "EXPOSE", "EXPOSE 22/udp"),
    "root-user": ("medium", "USER", "User=0:0"),
    "sensitive-volume": ("high", "VOLUME", "VOLUME /proc"),
    "pipe-to-shell": ("medium", "RUN", "a download piped into a shell"),
    "sudo": ("medium", "RUN", "sudo used in a RUN step"),
    "system-workdir": ("low", "WORKDIR", "WORKDIR /etc/app"),
    "no-healthcheck": ("low", "Healthcheck", "no HEALTHCHECK"),
}
BASE_BRINGS = {
    # rule: (severity in the base image itself, in an image built on it)
    "ssh-server": ("high", "low"),
    "file-capability": ("medium", "low"),
    "setuid-file": ("medium", "low"),
    "world-writable": ("medium", "low"),
    "build-toolchain": ("low", "info"),
}


@pytest.fixture(params=CASE_BUILDERS)
def builder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _misconfig(target: str) -> dict[str, Finding]:
    result = scan(target, ScanOptions(kinds=frozenset({Kind.MISCONFIG})))
    assert result.complete, result.problems
    by_rule = {finding.rule.id.removeprefix(PREFIX): finding for finding in result.findings}
    assert len(by_rule) == len(result.findings), "a check fired twice"
    return by_rule


def _where(finding: Finding) -> str | None:
    return finding.path or finding.key


def test_near_misses_trip_no_check(hygiene_cases: dict[str, dict[str, str]], builder: str) -> None:
    """A setuid tool removed again, a file made private again, a sticky directory, a symlink,
    apt's lock and partial/, dpkg listing openssh-server and sudo as removed, `gitleaks`,
    `pseudo`/`visudo`, a download saved then run, a local ADD, EXPOSE 2222, VOLUME /devices,
    USER by name, a pinned base: not one finding, at any severity."""
    assert _misconfig(hygiene_cases["near-misses"][builder]) == {}


def test_each_problem_is_caught_in_another_form(
    hygiene_cases: dict[str, dict[str, str]], builder: str
) -> None:
    found = _misconfig(hygiene_cases["other-ways"][builder])
    seen = {
        name: (str(f.severity or f.rule.severity), _where(f), f.evidence)
        for name, f in found.items()
    }
    assert seen == OTHER_WAYS
    # The three checks this image gives no cause for stay quiet: no capability, no remote ADD,
    # one UID 0; and no base named, so nothing to pin.
    assert set(RULES) - {PREFIX + name for name in found} == {
        PREFIX + name
        for name in ("file-capability", "remote-add", "duplicate-root", "unpinned-base")
    }


def test_a_user_switched_back_to_root_names_that_step(
    hygiene_cases: dict[str, dict[str, str]], builder: str
) -> None:
    root = _misconfig(hygiene_cases["other-ways"][builder])["root-user"]
    assert root.layer is not None and root.layer.instruction == "USER 0:0"
    assert root.layer.index is None  # USER makes no layer: the history step is named
    assert root.layer.history_index is not None


def test_what_only_the_base_brings_is_lowered_and_the_base_named(
    hygiene_cases: dict[str, dict[str, str]], builder: str
) -> None:
    in_base = _misconfig(hygiene_cases["base-brings-base"][builder])
    on_base = _misconfig(hygiene_cases["base-brings"][builder])
    assert set(on_base) == set(BASE_BRINGS)  # USER 1000 and a HEALTHCHECK fix the rest
    assert {"root-user", "no-healthcheck"} <= set(in_base)
    for name, (own, lowered) in BASE_BRINGS.items():
        base_finding, child_finding = in_base[name], on_base[name]
        assert (str(base_finding.severity or base_finding.rule.severity), base_finding.reason) == (
            own,
            None,
        )
        assert child_finding.severity == Severity(lowered)
        assert child_finding.reason is not None and TEAM_BASE in child_finding.reason
        # the same file, attributed to the same base layer in both
        assert _where(child_finding) == _where(base_finding)
        assert child_finding.layer is not None and base_finding.layer is not None
        assert child_finding.layer.diff_id == base_finding.layer.diff_id
