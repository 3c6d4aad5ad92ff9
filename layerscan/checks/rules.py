"""The image hygiene rules: ids, titles, severities, remediation and references.

Ids are stable like secret rule ids (SARIF ruleIds, baseline keys). References are the CIS
Docker Benchmark v1.6 recommendations each rule follows, where one exists (section 4 covers
images and build files; 5.x are runtime recommendations an image can already break).
"""

from __future__ import annotations

from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity

PREFIX = "misconfig."
"""No secret rule id starts so: the two kinds never share an id (and `misconfig.*` in an
ignore file selects them all)."""


def _rule(
    name: str, title: str, severity: Severity, remediation: str, reference: str = ""
) -> RuleMeta:
    return RuleMeta(
        PREFIX + name,
        title,
        severity,
        Confidence.HIGH,
        description=title,
        remediation=remediation,
        reference=reference,
    )


RULES: dict[str, RuleMeta] = {
    rule.id: rule
    for rule in (
        _rule(
            "root-user",
            "The container runs as root",
            Severity.MEDIUM,
            "Create an unprivileged user and end the Dockerfile with `USER <name or uid>`; "
            "give it only the files it must write.",
            "CIS Docker Benchmark 4.1",
        ),
        _rule(
            "ssh-server",
            "An SSH server is installed in the image",
            Severity.HIGH,
            "Remove the SSH server: use `docker exec` (or the orchestrator's equivalent) to "
            "get a shell, and keep host keys and authorized keys out of images.",
            "CIS Docker Benchmark 5.6",
        ),
        _rule(
            "expose-ssh",
            "The image exposes port 22",
            Severity.MEDIUM,
            "Drop `EXPOSE 22`: a container needs no SSH port.",
            "CIS Docker Benchmark 5.7",
        ),
        _rule(
            "setuid-file",
            "A setuid or setgid file",
            Severity.MEDIUM,
            "Remove the set-id bit (`chmod u-s,g-s FILE`) unless the program needs it, and "
            "run the container as a non-root user.",
            "CIS Docker Benchmark 4.8",
        ),
        _rule(
            "file-capability",
            "A file with Linux file capabilities",
            Severity.MEDIUM,
            "Remove the capability (`setcap -r FILE`) and grant what the process needs at run "
            "time (`--cap-add`), only where it is needed.",
            "CIS Docker Benchmark 4.8",
        ),
        _rule(
            "build-toolchain",
            "Build tools in the final image of a single-stage build",
            Severity.LOW,
            "Build in a separate stage (`FROM ... AS build`) and copy only the result into "
            "the final stage: compilers, git and their credentials stay out of it.",
            "CIS Docker Benchmark 4.3",
        ),
        _rule(
            "package-leftovers",
            "Package manager caches left in the image",
            Severity.LOW,
            "Clean up in the same RUN step that installs: `rm -rf /var/lib/apt/lists/*`, "
            "`pip install --no-cache-dir`, `npm cache clean --force`.",
            "CIS Docker Benchmark 4.3",
        ),
        _rule(
            "remote-add",
            "ADD fetches from a remote URL",
            Severity.MEDIUM,
            "Fetch with RUN (curl or wget) and verify a checksum, or COPY a file you have "
            "vetted; ADD from a URL checks nothing.",
            "CIS Docker Benchmark 4.9",
        ),
        _rule(
            "pipe-to-shell",
            "A RUN step pipes a download into a shell",
            Severity.MEDIUM,
            "Download the script, verify its checksum or signature, then run it; or install "
            "from a package repository.",
        ),
        _rule(
            "sudo",
            "sudo is installed or used",
            Severity.MEDIUM,
            "Build steps run as root already and a container's user should not escalate: "
            "remove sudo and run the needed steps before `USER`.",
        ),
        _rule(
            "empty-password",
            "An account has an empty password",
            Severity.HIGH,
            "Lock the account (`passwd -l NAME`, or `*` / `!` in /etc/shadow's password field).",
        ),
        _rule(
            "duplicate-root",
            "More than one account has UID 0",
            Severity.HIGH,
            "Keep root as the only account with UID 0; give other accounts their own UIDs.",
        ),
        _rule(
            "no-healthcheck",
            "The image has no HEALTHCHECK",
            Severity.LOW,
            "Add a `HEALTHCHECK CMD ...` that tells whether the service works.",
            "CIS Docker Benchmark 4.6",
        ),
        _rule(
            "sensitive-volume",
            "A VOLUME on a host system path",
            Severity.HIGH,
            "Remove the VOLUME: /proc, /sys, /dev and the Docker socket are the host's, and "
            "mounting them hands the container control of it.",
            "CIS Docker Benchmark 5.5",
        ),
        _rule(
            "system-workdir",
            "WORKDIR is a system directory",
            Severity.LOW,
            "Work in a directory of the application's own (`WORKDIR /srv/app`).",
        ),
        _rule(
            "unpinned-base",
            "The base image is named by a tag, not a digest",
            Severity.LOW,
            "Pin the base by digest (`FROM name:tag@sha256:...`) so a rebuild uses the image "
            "that was reviewed.",
            "CIS Docker Benchmark 4.2",
        ),
        _rule(
            "world-writable",
            "A world-writable file or directory without the sticky bit",
            Severity.MEDIUM,
            "Remove write permission for others (`chmod o-w`), or set the sticky bit on a "
            "shared directory (`chmod +t`).",
        ),
    )
}


def rule(name: str) -> RuleMeta:
    """The rule of a check by its short name (`root-user`)."""
    return RULES[PREFIX + name]
