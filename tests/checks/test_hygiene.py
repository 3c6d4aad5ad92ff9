"""The hygiene checks on real images (fixtures/hygiene), each built by the classic builder,
BuildKit and buildah: the image that does everything wrong trips every check exactly once,
each attributed to what caused it; the one that does everything right trips none."""

from __future__ import annotations

import pytest

from layerscan.checks.rules import RULES
from layerscan.engine.options import ScanOptions
from layerscan.engine.scan import scan
from layerscan.model.findings import Finding, Kind
from layerscan.model.severity import Severity

BUILDERS = ("classic", "buildkit", "buildah")


@pytest.fixture(params=BUILDERS)
def builder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _misconfig(target: str) -> list[Finding]:
    result = scan(target, ScanOptions(kinds=frozenset({Kind.MISCONFIG})))
    assert result.complete, result.problems
    assert all(finding.kind is Kind.MISCONFIG for finding in result.findings)
    return result.findings


def test_the_bad_image_trips_every_check_once(
    hygiene_images: dict[str, dict[str, str]], builder: str
) -> None:
    findings = _misconfig(hygiene_images["bad"][builder])
    ids = sorted(finding.rule.id for finding in findings)
    assert ids == sorted(RULES)
    by_rule = {finding.rule.id: finding for finding in findings}
    setuid = by_rule["misconfig.setuid-file"]
    assert (setuid.path, setuid.severity) == ("/usr/local/bin/tool", Severity.MEDIUM)
    assert setuid.layer is not None and "chmod 4755" in (setuid.layer.instruction or "")
    capability = by_rule["misconfig.file-capability"]
    assert capability.path == "/usr/local/bin/netprobe"
    assert capability.layer is not None and (capability.layer.instruction or "").startswith("ADD")
    piped = by_rule["misconfig.pipe-to-shell"]
    assert piped.layer is not None and "| sh" in (piped.layer.instruction or "")
    root = by_rule["misconfig.root-user"]
    assert (root.key, root.layer) == ("User", None)  # no USER step: the config says it
    world = by_rule["misconfig.world-writable"]
    assert (world.path, world.evidence) == ("/srv/shared", "directory, mode 0777")
    volume = by_rule["misconfig.sensitive-volume"]
    assert volume.evidence == "VOLUME /var/run/docker.sock"
    # buildah's own annotation names the base it was built on, before the image's label
    named = (
        "localhost/layerscan-base:busybox" if builder == "buildah" else "registry.example/base:1.0"
    )
    assert by_rule["misconfig.unpinned-base"].evidence == named
    assert by_rule["misconfig.ssh-server"].path == "/usr/sbin/sshd"
    assert by_rule["misconfig.empty-password"].path == "/etc/shadow"


def test_the_good_image_trips_none(hygiene_images: dict[str, dict[str, str]], builder: str) -> None:
    findings = _misconfig(hygiene_images["good"][builder])
    assert [f for f in findings if f.severity and f.severity.rank >= Severity.MEDIUM.rank] == []
    found = [(f.rule.id, f.evidence) for f in findings]
    if builder == "buildah":  # its own annotation says the build asked for a tag: true
        assert found == [("misconfig.unpinned-base", "localhost/layerscan-base:busybox")]
    else:
        assert found == []


def test_secrets_alone_leave_the_checks_out(hygiene_images: dict[str, dict[str, str]]) -> None:
    result = scan(hygiene_images["bad"]["classic"], ScanOptions(kinds=frozenset({Kind.SECRET})))
    assert [f.rule.id for f in result.findings if f.kind is Kind.MISCONFIG] == []
