"""Every hygiene check, run on one image after its walk: the one entry point the engine calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..model.findings import Finding
from . import accounts, files, settings, software, steps
from .context import CheckContext

Check = Callable[[CheckContext], Iterator[Finding]]

CHECKS: tuple[Check, ...] = (
    settings.check_user,
    software.check_ssh_server,
    settings.check_ssh_port,
    files.check_set_id,
    files.check_capabilities,
    software.check_toolchain,
    software.check_leftovers,
    steps.check_remote_add,
    steps.check_pipe_to_shell,
    software.check_sudo,
    accounts.check_empty_password,
    accounts.check_duplicate_root,
    settings.check_healthcheck,
    settings.check_volumes,
    settings.check_workdir,
    settings.check_base_pinned,
    files.check_world_writable,
)


def run_checks(context: CheckContext) -> list[Finding]:
    """The misconfig findings of one image, in the order the checks are listed."""
    findings = []
    for check in CHECKS:
        findings += sorted(check(context), key=lambda finding: finding.path or finding.key or "")
    return findings
