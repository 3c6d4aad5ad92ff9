"""What to do about a finding of each kind: the help text SARIF and Markdown reports carry.

One text per way a secret reaches an image, because the fix differs: a build argument needs a
build secret, an ENV value needs runtime injection, a copied file needs a .dockerignore entry,
and a baked host key needs generating at start-up. Every text starts with rotation, because a
secret that was ever in a pushed image must be treated as public.
"""

from __future__ import annotations

ROTATE = (
    "Treat the secret as exposed: revoke or rotate it first. Deleting the file in a later "
    "layer or rebuilding does not help anyone who already pulled the image, because every "
    "layer keeps its bytes."
)

_BY_RULE = {
    "build-arg-secret": (
        "Build arguments are recorded in the image history of every step that uses them. "
        "Pass the secret as a build secret instead (`RUN --mount=type=secret,id=NAME`) so "
        "that it is never written to a layer or to the history."
    ),
    "env-secret": (
        "ENV values are stored in the image config and visible to anyone who pulls the "
        "image (`docker inspect`). Inject the value at run time (an orchestrator secret, a "
        "mounted file or `docker run -e`) instead of baking it into the image."
    ),
    "label-secret": (
        "Labels are stored in the image config and shown by `docker inspect`. Remove the "
        "secret from the LABEL and keep only non-sensitive metadata there."
    ),
    "ssh-host-key": (
        "Every container started from this image shares the same SSH host key, so one "
        "leaked container lets an attacker impersonate all of them. Remove the keys from "
        "the image and generate them when the container starts (`ssh-keygen -A`)."
    ),
}

_BY_PREFIX = {
    "detect-secrets.": (
        "detect-secrets flagged this value by its shape or the name it is assigned to. "
        "Check whether it is a real credential; if it is, remove it from the image and "
        "provide it at run time."
    ),
}

_BUILD_COMMANDS = {
    "cli-secret-flag",
    "curl-user-credentials",
    "chpasswd-password",
    "mysql-password-flag",
}

_COMMAND_TEXT = (
    "The secret is written on a command line. In a RUN step that line is stored in the "
    "image history; in a script it is stored in a layer, and on a running container it is "
    "visible in the process list. Read it from a build secret (`RUN --mount=type=secret`) "
    "or a file the command opens instead of passing it as an argument."
)

_FILE_TEXT = (
    "Keep the file out of the build context (`.dockerignore`) or use it only through a "
    "build secret (`RUN --mount=type=secret`); in a multi-stage build make sure it never "
    "reaches the final stage. Provide credentials the running container needs at run "
    "time (mounted secret or environment from the orchestrator)."
)


def remediation(rule_id: str) -> str:
    """Rotation advice followed by how to keep this kind of secret out of the next build."""
    specific = _BY_RULE.get(rule_id)
    if specific is None and rule_id in _BUILD_COMMANDS:
        specific = _COMMAND_TEXT
    if specific is None:
        specific = next(
            (text for prefix, text in _BY_PREFIX.items() if rule_id.startswith(prefix)), None
        )
    return f"{ROTATE} {specific or _FILE_TEXT}"
