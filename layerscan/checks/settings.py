"""Checks on what the image is set to do when it runs: its user, ports, volumes, working
directory, health check and the base it names. Each names the step that set it, or the
config field when no step says so."""

from __future__ import annotations

from collections.abc import Iterator

from ..image.model import HistoryEntry
from ..model.dockerfile_syntax import healthcheck_line
from ..model.findings import Finding
from .context import CheckContext
from .rules import rule

_ROOT_NAMES = frozenset({"", "root", "0"})
_HOST_VOLUMES = ("/proc", "/sys", "/dev")
_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
_SYSTEM_DIRS = (
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/lib",
    "/lib64",
    "/usr/lib",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
)


def runs_as_root(user: str) -> bool:
    """`""`, `root`, `0`, `0:0`, `root:staff`...: the user part names root."""
    return user.strip().split(":", 1)[0] in _ROOT_NAMES


def _setting(ctx: CheckContext, name: str) -> object:
    return ctx.config.get(name)


def check_user(ctx: CheckContext) -> Iterator[Finding]:
    user = _setting(ctx, "User")
    user = user if isinstance(user, str) else ""
    if not runs_as_root(user):
        return
    evidence = f"User={user}" if user else "no USER: the container runs as root"
    step = ctx.last_step("USER")
    if step is not None and ctx.own_step(step):  # switched back to root at the end
        yield ctx.step_finding(rule("root-user"), step, evidence)
    else:
        yield ctx.config_finding(rule("root-user"), "User", evidence)


def _step_mentioning(ctx: CheckContext, keyword: str, text: str) -> HistoryEntry | None:
    for entry in reversed(ctx.image.history):
        if entry.parsed.keyword == keyword and text in entry.parsed.arguments:
            return entry
    return None


def check_ssh_port(ctx: CheckContext) -> Iterator[Finding]:
    ports = _setting(ctx, "ExposedPorts")
    if not isinstance(ports, dict):
        return
    ssh = [str(port) for port in ports if str(port).split("/")[0] == "22"]
    if not ssh:
        return
    step = _step_mentioning(ctx, "EXPOSE", "22")
    if step is not None:
        yield ctx.step_finding(rule("expose-ssh"), step, f"EXPOSE {ssh[0]}")
    else:
        yield ctx.config_finding(rule("expose-ssh"), "ExposedPorts", ssh[0])


def check_healthcheck(ctx: CheckContext) -> Iterator[Finding]:
    health = _setting(ctx, "Healthcheck")
    if isinstance(health, dict):
        if health.get("Test") not in (None, [], ["NONE"]):
            return
    else:
        # buildah's OCI config has no Healthcheck field at all: its history still tells.
        step = ctx.last_step("HEALTHCHECK")
        if step is not None and not healthcheck_line(step.parsed.arguments).startswith("NONE"):
            return
    yield ctx.config_finding(rule("no-healthcheck"), "Healthcheck", "no HEALTHCHECK")


def _host_path(volume: str) -> bool:
    path = "/" + volume.strip().strip("/")
    return path in _SOCKETS or any(
        path == top or path.startswith(top + "/") for top in _HOST_VOLUMES
    )


def check_volumes(ctx: CheckContext) -> Iterator[Finding]:
    volumes = _setting(ctx, "Volumes")
    if not isinstance(volumes, dict):
        return
    for volume in sorted(str(v) for v in volumes):
        if not _host_path(volume):
            continue
        step = _step_mentioning(ctx, "VOLUME", volume)
        if step is not None:
            yield ctx.step_finding(rule("sensitive-volume"), step, f"VOLUME {volume}")
        else:
            yield ctx.config_finding(rule("sensitive-volume"), "Volumes", volume)


def check_workdir(ctx: CheckContext) -> Iterator[Finding]:
    workdir = _setting(ctx, "WorkingDir")
    if not isinstance(workdir, str) or not workdir:
        return
    path = "/" + workdir.strip("/")
    if not any(path == top or path.startswith(top + "/") for top in _SYSTEM_DIRS):
        return
    step = ctx.last_step("WORKDIR")
    if step is not None:
        yield ctx.step_finding(rule("system-workdir"), step, f"WORKDIR {workdir}")
    else:
        yield ctx.config_finding(rule("system-workdir"), "WorkingDir", workdir)


def check_base_pinned(ctx: CheckContext) -> Iterator[Finding]:
    base = ctx.base
    # buildah records the digest it resolved beside the name: the name still says that the
    # build asked for a tag, so a rebuild may get another image.
    if base.name is None or "@sha256:" in base.name:
        return
    where = {"annotation": "annotation", "label": "Labels"}.get(base.named_by or "", "history")
    yield ctx.config_finding(
        rule("unpinned-base"), f"{where} org.opencontainers.image.base.name", base.name
    )
