"""Findings by file name and place alone: a private key file, a .netrc, a Terraform state.

Such files are secrets whatever their content matches. When a content rule already reported
something in the same file version, that finding is enough and no name finding is added. SSH
host keys are their own, medium finding: every container started from the image shares them.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass

from ..model.rule_meta import RuleMeta
from ..model.severity import Confidence, Severity


@dataclass(frozen=True)
class NameRule:
    meta: RuleMeta
    globs: tuple[str, ...]
    requires: re.Pattern[bytes] | None = None
    """Content that must be present (an .npmrc without a token is only configuration)."""

    def matches(self, path: str, data: bytes) -> bool:
        if not _compiled(self.globs).match(path) or _TEMPLATE.match(path):
            return False
        return self.requires is None or self.requires.search(data) is not None


@functools.cache
def _compiled(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a set of globs: this runs for every file of every layer."""
    return re.compile("|".join(fnmatch.translate(glob) for glob in globs))


_TEMPLATE = _compiled(("*.example", "*.sample", "*.template", "*.tmpl", "*.dist", "*.defaults"))
"""Templates that document which secrets to set (.env.example) hold none themselves."""


def _rule(rule_id: str, title: str, severity: Severity, description: str) -> RuleMeta:
    return RuleMeta(rule_id, title, severity, Confidence.MEDIUM, description)


SSH_HOST_KEY = NameRule(
    _rule(
        "ssh-host-key",
        "SSH host private key baked into the image",
        Severity.MEDIUM,
        "Every container started from this image presents the same host key, so one leak "
        "lets an attacker impersonate all of them. Generate host keys at first start instead.",
    ),
    ("*/etc/ssh/ssh_host_*_key",),
)

NAME_RULES: tuple[NameRule, ...] = (
    NameRule(
        _rule(
            "ssh-private-key-file",
            "SSH private key file",
            Severity.HIGH,
            "A file named like an SSH private key (id_rsa, id_ed25519, ...).",
        ),
        ("*/id_rsa", "*/id_dsa", "*/id_ecdsa", "*/id_ed25519", "*/id_ecdsa_sk", "*/id_ed25519_sk"),
    ),
    NameRule(
        _rule(
            "npmrc-file",
            ".npmrc with registry credentials",
            Severity.HIGH,
            "An .npmrc that holds an auth token or password.",
        ),
        ("*/.npmrc",),
        re.compile(rb"_(?:authToken|auth|password)\s*="),
    ),
    NameRule(
        _rule(
            "pypirc-file",
            ".pypirc with an index password",
            Severity.HIGH,
            "A .pypirc that holds a password or token for a package index.",
        ),
        ("*/.pypirc",),
        re.compile(rb"(?m)^\s*password\s*[=:]"),
    ),
    NameRule(
        _rule("netrc-file", ".netrc file", Severity.HIGH, "Login credentials for remote hosts."),
        ("*/.netrc", "*/_netrc"),
    ),
    NameRule(
        _rule(
            "git-credentials-file",
            ".git-credentials file",
            Severity.HIGH,
            "Git's plain-text credential store.",
        ),
        ("*/.git-credentials",),
    ),
    NameRule(
        _rule(
            "docker-config-file",
            "Docker config.json with registry auths",
            Severity.HIGH,
            "A Docker client config that stores registry credentials.",
        ),
        ("*/.docker/config.json",),
        re.compile(rb'"(?:auth|identitytoken)"\s*:\s*"[^"]'),
    ),
    NameRule(
        _rule(
            "aws-credentials-file",
            "AWS credentials file",
            Severity.HIGH,
            "The AWS CLI's shared credentials file.",
        ),
        ("*/.aws/credentials",),
    ),
    NameRule(
        _rule(
            "kubeconfig-file",
            "Kubernetes kubeconfig",
            Severity.HIGH,
            "A kubeconfig: cluster addresses and, usually, credentials to use them.",
        ),
        ("*/.kube/config",),
    ),
    NameRule(
        _rule(
            "dotenv-file",
            ".env file",
            Severity.MEDIUM,
            "Environment files usually carry the application's secrets.",
        ),
        ("*/.env", "*/.env.*"),
    ),
    NameRule(
        _rule(
            "terraform-state-file",
            "Terraform state",
            Severity.HIGH,
            "Terraform state stores every resource attribute in clear, secrets included.",
        ),
        ("*.tfstate", "*.tfstate.backup"),
    ),
    NameRule(
        _rule(
            "keystore-file",
            "Key store (PKCS#12 or Java)",
            Severity.HIGH,
            "A key store file: private keys, usually behind a weak or default password.",
        ),
        ("*.p12", "*.pfx", "*.jks", "*.keystore"),
    ),
)

NAME_RULE_METAS: tuple[RuleMeta, ...] = (SSH_HOST_KEY.meta, *(rule.meta for rule in NAME_RULES))


_ANY_NAME = _compiled(tuple(glob for rule in NAME_RULES for glob in rule.globs))


def sensitive_by_name(path: str, data: bytes) -> RuleMeta | None:
    """The name rule a file version falls under, if any (`path` is absolute in the image)."""
    if not _ANY_NAME.match(path):
        return None
    for rule in NAME_RULES:
        if rule.matches(path, data):
            return rule.meta
    return None


def is_ssh_host_key(path: str) -> bool:
    return SSH_HOST_KEY.matches(path, b"")
