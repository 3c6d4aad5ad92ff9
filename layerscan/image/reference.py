"""A registry reference, `HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`, parsed and checked.

The host is always explicit (the `registry:` scheme never guesses Docker Hub), the
repository follows the distribution spec's grammar, and a digest is validated before it is
ever put in a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from .model import is_digest

_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Reference:
    host: str
    """`host` or `host:port`, as the URL and the credentials store name it."""
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What the manifest is fetched by: the digest when given, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        name = f"{self.host}/{self.repository}"
        if self.digest:
            return f"{name}@{self.digest}"
        return f"{name}:{self.tag or 'latest'}"


def parse_reference(text: str) -> Reference:
    """`127.0.0.1:5000/team/app:1.2`, `registry.example.com/app@sha256:…` -> Reference."""
    host, slash, rest = text.partition("/")
    if not slash or not rest:
        raise UsageError(
            f"registry:{text} names no repository; write registry:HOST[:PORT]/REPO[:TAG]"
        )
    if not _HOST.match(host) or ("." not in host and ":" not in host and host != "localhost"):
        raise UsageError(
            f"registry:{text} does not start with a registry host (HOST[:PORT], such as "
            "registry.example.com or 127.0.0.1:5000)"
        )
    digest = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not is_digest(digest):
            raise UsageError(f"{digest!r} is not a valid digest (sha256:<64 hex>)")
    tag = None
    name, colon, candidate = rest.rpartition(":")
    if colon and "/" not in candidate:
        rest, tag = name, candidate
        if not _TAG.match(tag):
            raise UsageError(f"{tag!r} is not a valid tag")
    if not _REPOSITORY.match(rest) or len(rest) > 255:
        raise UsageError(
            f"{rest!r} is not a valid repository name (lowercase letters, digits and "
            "separators, parts joined by /)"
        )
    return Reference(host, rest, tag, digest)
