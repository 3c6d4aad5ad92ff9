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

_NOP_MARK = "#(nop)"
_TOKEN = re.compile(r"\S+")
_ARG_COUNT = re.compile(r"^\|(\d+)\s+")
_BUILDKIT_SUFFIX = " # buildkit"


@dataclass(frozen=True)
class Instruction:
    """A parsed history line: keyword, its arguments, and the build args in scope."""

    keyword: str
    arguments: str
    build_args: dict[str, str] = field(default_factory=dict)
    exec_form: bool = False
    """A RUN whose command was no `SHELL -c` line: exec form (`RUN ["make", "all"]`)."""

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
    """Strip a `|N K=V ...` prefix; values with spaces cannot be told apart and stay joined.

    Read by index, not by splitting off the rest at each pair: that copied the whole line
    once per build argument (quadratic on a line of a million of them)."""
    match = _ARG_COUNT.match(text)
    if not match:
        return {}, text
    count = int(match.group(1)) if len(match.group(1)) < 8 else 10**7
    at = match.end()
    args: dict[str, str] = {}
    for _ in range(count):
        space = text.find(" ", at)
        end = len(text) if space < 0 else space
        key, sep, value = text[at:end].partition("=")
        at = min(end + 1, len(text))  # past the token and the space after it
        if not sep:
            break  # (the token goes too, as it always has)
        args[key] = value
        while at < len(text) and text[at] == " ":
            at += 1
    return args, text[at:]


_SHELL_PREFIX_WINDOW = 4096
"""How much of a line the shell prefix is looked for in: real ones are `/bin/sh -c` or
`/bin/bash -o pipefail -c`, and a line of a million options is read as no shell line."""


def _after_shell_c(command: str) -> str | None:
    """The command of a `/bin/sh [options] -c COMMAND` line, or None if it is not one.

    Options are `-o NAME` or any `-X...` but `-c`. Where a line reads several ways
    (`-o -c -c x`), the reading is the one the regular expression this replaces found first
    (an `-o` takes a value before it stands alone, more options before fewer). That choice
    depends only on the tokens after it, so it is worked out once per token from the last
    one back: the regular expression retried both readings of every `-o`, 2**n paths.
    """
    head = command[:_SHELL_PREFIX_WINDOW]
    tokens: list[str] = []
    ends: list[int] = []
    for match in _TOKEN.finditer(head):
        if not tokens and match.start() != 0:
            return None
        if match.end() < len(command) and not command[match.end()].isspace():
            break  # cut by the window: not a whole token
        tokens.append(match.group())
        ends.append(match.end())
    if not tokens:
        return None
    shell = tokens[0]
    if not (shell.startswith("/") and shell.endswith("sh") and len(shell) > 2):
        return None
    count = len(tokens)
    chosen: list[int | None] = [None] * (count + 2)  # where `-c` is, reading from each token
    for position in range(count - 1, 0, -1):
        token = tokens[position]
        reading = chosen[position + 2] if token == "-o" else None
        if reading is None and token.startswith("-") and token[1:2] not in ("c", ""):
            reading = chosen[position + 1]
        if (
            reading is None
            and token == "-c"
            and command[ends[position] : ends[position] + 1].isspace()
        ):
            reading = position
        chosen[position] = reading
    flag = chosen[1]
    return None if flag is None else command[ends[flag] :].lstrip()


def _nop_body(text: str) -> str | None:
    """What follows `SHELL -c #(nop)` (the classic builder's and buildah's metadata steps),
    or None. The shell is the one in force: `SHELL ["/bin/sh", "-e", "-c"]` makes later
    steps read `/bin/sh -e -c #(nop) ...`, and Windows images use `cmd /S /C`."""
    mark = text.find(_NOP_MARK, 0, _SHELL_PREFIX_WINDOW)
    if mark <= 0:
        return None
    head = text[:mark].split()
    if len(head) < 2 or head[-1] not in ("-c", "/C", "/c"):
        return None
    shell = head[0]
    if not (shell.endswith("sh") or shell.lower() == "cmd"):
        return None
    return text[mark + len(_NOP_MARK) :].strip()


def parse_created_by(created_by: str) -> Instruction:
    """Recover keyword, arguments and build args from any builder's `created_by`."""
    text = created_by.strip()
    if not text:
        return Instruction("", "")
    if text.endswith(_BUILDKIT_SUFFIX.strip()) and text.endswith(_BUILDKIT_SUFFIX):
        text = text[: -len(_BUILDKIT_SUFFIX)].rstrip()
    body = _nop_body(text)
    if body is not None:
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
    shell_command = _after_shell_c(command)
    if shell_command is not None:
        command = shell_command
    elif not build_args and keyword != "RUN" and not command.startswith("/"):
        # Not a shell line we recognise (a tool's own comment): keep it verbatim.
        return Instruction("", created_by.strip())
    return Instruction("RUN", command.strip(), build_args, exec_form=shell_command is None)
