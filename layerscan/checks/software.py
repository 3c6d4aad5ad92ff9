"""Checks on what is installed in the final image: an SSH server, sudo, build toolchains and
package manager leftovers; the last two with the layer that added them and their bytes."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from ..layers.entries import Version
from ..model.findings import Finding
from .context import CheckContext, is_file
from .rules import rule
from .steps import sudo_step

SSH_SERVERS = ("usr/sbin/sshd", "sbin/sshd", "usr/sbin/dropbear", "usr/bin/dropbear")
SSH_PACKAGES = ("openssh-server", "dropbear", "dropbear-bin")
SUDO_PATHS = ("usr/bin/sudo", "bin/sudo")
_TOOLS = re.compile(
    r"^(?:usr/(?:local/)?bin/(?P<tool>gcc|g\+\+|cc|c\+\+|clang|clang\+\+|make|git|rustc|cargo"
    r"|javac|go)(?:-[\d.]+)?|usr/local/go/bin/(?P<go>go))$"
)
_TOOL_TREES = ("usr/lib/gcc/", "usr/libexec/gcc/", "usr/lib/git-core/", "usr/local/go/")
_LEFTOVERS = (
    ("apt lists", re.compile(r"^var/lib/apt/lists/(?!lock$|partial(?:/|$))[^/]+$")),
    ("apt archives", re.compile(r"^var/cache/apt/archives/[^/]+\.deb$")),
    ("pip cache", re.compile(r"^(?:root|home/[^/]+)/\.cache/pip/")),
    ("npm cache", re.compile(r"^(?:root|home/[^/]+)/\.npm/_cacache/")),
    ("apk cache", re.compile(r"^var/cache/apk/[^/]+$")),
)


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _present(ctx: CheckContext, paths: tuple[str, ...]) -> Version | None:
    for path in paths:
        version = ctx.timeline.present(path)
        if version is not None:
            return version
    return None


def check_ssh_server(ctx: CheckContext) -> Iterator[Finding]:
    binary = _present(ctx, SSH_SERVERS)
    if binary is not None:
        yield ctx.file_finding(rule("ssh-server"), binary, f"{binary.display_path} installed")
        return
    packages = [name for name in SSH_PACKAGES if name in ctx.packages]
    database = _present(ctx, ("var/lib/dpkg/status", "lib/apk/db/installed"))
    if packages and database is not None:
        yield ctx.file_finding(rule("ssh-server"), database, f"package {packages[0]} installed")


def check_sudo(ctx: CheckContext) -> Iterator[Finding]:
    """Installed (the binary, with its layer) or, failing that, used by a RUN step: once."""
    binary = _present(ctx, SUDO_PATHS)
    if binary is not None:
        yield ctx.file_finding(rule("sudo"), binary, f"{binary.display_path} installed")
        return
    step = sudo_step(ctx)
    if step is not None:
        yield ctx.step_finding(rule("sudo"), step, "sudo used in a RUN step")


def check_toolchain(ctx: CheckContext) -> Iterator[Finding]:
    """One finding per layer that added compilers or git to the final filesystem, with the
    bytes of the tools and their trees (gcc's libexec, git-core) that layer wrote."""
    tools: dict[int, set[str]] = defaultdict(set)
    first: dict[int, Version] = {}
    cost: dict[int, int] = defaultdict(int)
    for version in ctx.final_versions:
        if not is_file(version):
            continue
        match = _TOOLS.match(version.path)
        layer = version.layer_index
        if match:
            tools[layer].add(match.group("tool") or match.group("go"))
            first.setdefault(layer, version)
            cost[layer] += version.size
        elif version.path.startswith(_TOOL_TREES):
            cost[layer] += version.size
    for layer in sorted(tools):
        evidence = f"{', '.join(sorted(tools[layer]))} ({_size_text(cost[layer])} in this layer)"
        yield ctx.file_finding(rule("build-toolchain"), first[layer], evidence)


def check_leftovers(ctx: CheckContext) -> Iterator[Finding]:
    """One finding per kind of leftover and layer, with its bytes."""
    found: dict[tuple[str, int], list[Version]] = defaultdict(list)
    for version in ctx.final_versions:
        if not is_file(version):
            continue
        for name, pattern in _LEFTOVERS:
            if pattern.match(version.path):
                found[(name, version.layer_index)].append(version)
                break
    for (name, _layer), versions in sorted(found.items(), key=lambda item: item[0][1]):
        size = sum(version.size for version in versions)
        evidence = f"{name}: {len(versions)} files, {_size_text(size)}"
        yield ctx.file_finding(rule("package-leftovers"), versions[0], evidence)
