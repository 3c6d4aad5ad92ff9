"""Turn a history `created_by` line back into the Dockerfile instruction that wrote it.

Each builder writes history differently:
- the classic builder and buildah: `/bin/sh -c #(nop)  ENV A=B` for metadata steps and
  `/bin/sh -c CMD` (prefixed with `|N K=V ...` when build args are in scope) for RUN;
- BuildKit: `RUN /bin/sh -c CMD # buildkit`, `RUN |2 A=1 B=2 /bin/sh -c CMD`, `ENV A=B`, ...;
- `docker import` and other tools: an empty line and a comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KEYWORDS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)

_NOP = re.compile(r"^(?:/bin/sh|/bin/bash|cmd /S /C)\s+-c\s+#\(nop\)\s*(.*)$", re.DOTALL)
_SHELL_C = re.compile(r"^(/\S*sh(?:\s+-o\s+\S+|\s+-[^c\s]\S*)*)\s+-c\s+(.*)$", re.DOTALL)
_ARG_COUNT = re.compile(r"^\|(\d+)\s+")
_BUILDKIT_SUFFIX = " # buildkit"


@dataclass(frozen=True)
class Instruction:
    """A parsed history line: keyword, its arguments, and the build args in scope."""

    keyword: str
    arguments: str
    build_args: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.keyword:
            return self.arguments
        return f"{self.keyword} {self.arguments}".rstrip()


_CONTENT_HASH = re.compile(r"\b(file|dir|multi):([0-9a-f]{8})[0-9a-f]{56}\b")


def abbreviate(text: str, width: int) -> str:
    """One line of at most `width` characters; builder content hashes cut to 8 digits."""
    text = " ".join(_CONTENT_HASH.sub(r"\1:\2…", text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _split_build_args(text: str) -> tuple[dict[str, str], str]:
    """Strip a `|N K=V ...` prefix; values with spaces cannot be told apart and stay joined."""
    match = _ARG_COUNT.match(text)
    if not match:
        return {}, text
    count = int(match.group(1))
    rest = text[match.end() :]
    args: dict[str, str] = {}
    for _ in range(count):
        token, _, rest = rest.partition(" ")
        key, sep, value = token.partition("=")
        if not sep:
            break
        args[key] = value
        rest = rest.lstrip(" ")
    return args, rest


def parse_created_by(created_by: str) -> Instruction:
    """Recover keyword, arguments and build args from any builder's `created_by`."""
    text = created_by.strip()
    if not text:
        return Instruction("", "")
    if text.endswith(_BUILDKIT_SUFFIX.strip()) and text.endswith(_BUILDKIT_SUFFIX):
        text = text[: -len(_BUILDKIT_SUFFIX)].rstrip()
    nop = _NOP.match(text)
    if nop:
        body = nop.group(1).strip()
        keyword, _, arguments = body.partition(" ")
        if keyword.upper() in KEYWORDS:
            return Instruction(keyword.upper(), arguments.strip())
        return Instruction("", body)
    keyword, _, remainder = text.partition(" ")
    if keyword in KEYWORDS and keyword != "RUN":
        return Instruction(keyword, remainder.strip())
    if keyword == "RUN":
        text = remainder.strip()
    build_args, command = _split_build_args(text)
    shell = _SHELL_C.match(command)
    if shell:
        command = shell.group(2)
    elif not build_args and keyword != "RUN" and not command.startswith("/"):
        # Not a shell line we recognise (a tool's own comment): keep it verbatim.
        return Instruction("", created_by.strip())
    return Instruction("RUN", command.strip(), build_args)
