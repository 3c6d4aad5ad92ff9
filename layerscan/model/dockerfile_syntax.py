"""A parsed history step written back as a Dockerfile line a builder accepts.

Builders record some instructions in Go's own print formats rather than as written:
`HEALTHCHECK &{["CMD-SHELL" "curl -f x"] "5m0s" "0s" "0s" '\\x00'}` (a struct),
`CMD ["sh" "-c" "x"]` (a quoted slice, no commas), `VOLUME [/data /logs]`,
`EXPOSE map[8080/tcp:{}]` (BuildKit), `COPY file:<sha256> in /dst` (classic). Each is turned
into the Dockerfile form that records the same thing again, so a rebuild from the
reconstruction writes the same history.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping

from .instruction import Instruction

_GO_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_HEALTHCHECK = re.compile(
    r"^&\{\[(?P<test>.*)\]\s+(?P<durations>(?:\"[^\"]*\"\s*)+)'(?P<retries>(?:[^'\\]|\\.)*)'\}$",
    re.DOTALL,
)
_HEALTH_FLAGS = ("interval", "timeout", "start-period", "start-interval")
_CLASSIC_COPY = re.compile(
    r"(?P<kind>file|dir|multi):(?P<hash>[0-9a-f]{64})\s+in\s+(?P<dest>.+?)\s*$"
)
_EXPOSE_MAP = re.compile(r"^map\[(?P<ports>[^\]]*)\]$")
_SHELL_WINDOW = 4096
"""COPY flags and a content hash sit at the start of a line: looked for there only."""
_MAX_HEALTHCHECK = 1 << 16
"""A HEALTHCHECK longer than this stays in the builder's format (its pattern backtracks)."""
_MAX_LINE = 1 << 20
"""Lines longer than this are kept verbatim: no builder writes one, a hostile image may."""


def go_strings(text: str) -> list[str] | None:
    """The strings of a Go-quoted slice body (`"a" "b"`), or None if it is not one."""
    values: list[str] = []
    position = 0
    for match in _GO_STRING.finditer(text):
        if text[position : match.start()].strip():
            return None
        try:
            value = ast.literal_eval(match.group())
        except (ValueError, SyntaxError):
            return None
        if not isinstance(value, str):
            return None
        values.append(value)
        position = match.end()
    if text[position:].strip():
        return None
    return values


def _json_list(values: list[str]) -> str:
    return json.dumps(values, ensure_ascii=False)


def _exec_form(arguments: str) -> str:
    """`["a" "b"]` (Go) -> `["a", "b"]` (JSON); JSON and shell forms stay as they are."""
    text = arguments.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return text
        except ValueError:
            pass
        values = go_strings(text[1:-1])
        if values is None and '"' not in text:
            values = text[1:-1].split()  # `[/bin/sh -e -c]`, `[/data]`: Go's print of a list
        if values is not None:
            return _json_list(values)
    return text


def healthcheck_line(arguments: str) -> str:
    """`&{[test...] durations... 'retries'}` -> `--interval=... CMD ...` (or `NONE`)."""
    match = _HEALTHCHECK.match(arguments.strip())
    if not match:
        return arguments
    test = go_strings(match.group("test"))
    durations = go_strings(match.group("durations"))
    try:
        retries_text = ast.literal_eval("'" + match.group("retries") + "'")
    except (ValueError, SyntaxError):
        return arguments
    if test is None or durations is None or not isinstance(retries_text, str):
        return arguments
    if test == ["NONE"]:
        return "NONE"
    flags = [
        f"--{name}={value}"
        for name, value in zip(_HEALTH_FLAGS, durations, strict=False)
        if value not in ("0s", "")
    ]
    retries = ord(retries_text) if len(retries_text) == 1 else 0
    if retries:
        flags.append(f"--retries={retries}")
    if test and test[0] == "CMD-SHELL":
        command = "CMD " + " ".join(test[1:])
    elif test and test[0] == "CMD":
        command = "CMD " + _json_list(test[1:])
    else:
        return arguments
    return " ".join([*flags, command])


def go_duration(nanoseconds: int) -> str:
    """A duration as Go prints it (`1h2m3s`, `5m0s`, `1.5s`): what the history records."""
    if nanoseconds <= 0:
        return "0s"
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    tail = f"{seconds}" + (f".{fraction:09d}".rstrip("0") if fraction else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{tail}"
    return f"{minutes}m{tail}" if minutes else tail


def healthcheck_config(config: Mapping[str, object]) -> str:
    """The config's Healthcheck object as HEALTHCHECK arguments (durations in nanoseconds)."""
    test = config.get("Test")
    test = [str(part) for part in test] if isinstance(test, list) else []
    durations = []
    for name in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = config.get(name)
        durations.append(json.dumps(go_duration(value if isinstance(value, int) else 0)))
    retries = config.get("Retries")
    count = retries if isinstance(retries, int) and 0 <= retries < 0x110000 else 0
    return healthcheck_line(
        "&{["
        + " ".join(json.dumps(part) for part in test)
        + "] "
        + " ".join(durations)
        + " "
        + repr(chr(count))
        + "}"
    )


def _quoted_pairs(arguments: str, known: Mapping[str, str]) -> str:
    """`K=V K2=two words` as recorded -> `K=V K2="two words"`, split where the config's
    final values say the pairs are (a value with spaces cannot be told apart otherwise).

    Read by index, with the next `=` remembered: slicing the rest off at each token, or
    looking for `=` again from each one, is quadratic on a long hostile line."""
    text = arguments.strip()
    pairs: list[str] = []
    at, equals = 0, -1
    while at < len(text):
        if equals < at:
            equals = text.find("=", at)
            if equals < 0:
                equals = len(text)
        space = text.find(" ", at)
        space = len(text) if space < 0 else space
        key = text[at:equals] if equals < space else None
        value = known.get(key) if key is not None else None
        end = equals + 1 + len(value) if value is not None else -1
        if (
            value is not None
            and text.startswith(value, equals + 1)
            and text[end : end + 1] in ("", " ")
        ):
            pairs.append(f"{key}={_shell_word(value)}")
        else:
            pairs.append(text[at:space])
            end = space
        at = end
        while at < len(text) and text[at] == " ":
            at += 1
    return " ".join(pairs)


def _shell_word(value: str) -> str:
    if value and re.fullmatch(r"[\w@%+=:,./-]+", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _expose(arguments: str) -> str:
    match = _EXPOSE_MAP.match(arguments.strip())
    if not match:
        return arguments
    return " ".join(port.removesuffix(":{}") for port in match.group("ports").split())


def _exec_run(command: str) -> str:
    """An exec-form RUN recorded as its words joined by spaces, back as a JSON array: a
    shell's `-c` takes the rest as one word; elsewhere a word that held a space cannot be
    told apart."""
    words = command.split()
    if len(words) >= 3 and words[0].endswith("sh") and words[1] == "-c":
        script = command.split(None, 2)[2]
        return _json_list([words[0], "-c", script])
    return _json_list(words)


def content_source(arguments: str) -> tuple[str, str | None]:
    """COPY/ADD arguments with the classic builder's `file:<sha256> in DEST` made readable
    (`file:1a2b3c4d DEST`), and the destination when it is known."""
    match = _CLASSIC_COPY.search(arguments, 0, _SHELL_WINDOW)
    flags = arguments[: match.start()].split() if match else []
    if match and all(flag.startswith("--") for flag in flags):
        # (the classic builder writes `--chown=1:1file:<sha256>`, no space before the hash)
        source = f"{match.group('kind')}:{match.group('hash')[:8]}"
        dest = match.group("dest")
        return " ".join([*flags, source, dest]), dest
    words = arguments.split()
    return arguments, words[-1] if len(words) >= 2 else None


def dockerfile_line(
    instruction: Instruction,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """The Dockerfile line of a parsed step (`env` and `labels`: the config's final values,
    which tell where values with spaces end)."""
    keyword, arguments = instruction.keyword, instruction.arguments
    if not keyword:
        return ""
    if len(arguments) > _MAX_LINE:
        return f"{keyword} {arguments}"
    if keyword == "HEALTHCHECK" and len(arguments) <= _MAX_HEALTHCHECK:
        arguments = healthcheck_line(arguments)
    elif keyword in ("CMD", "ENTRYPOINT", "SHELL", "VOLUME"):
        arguments = _exec_form(arguments)
    elif keyword == "EXPOSE":
        arguments = _expose(arguments)
    elif keyword == "ENV":
        arguments = _quoted_pairs(arguments, env or {})
    elif keyword == "LABEL":
        arguments = _quoted_pairs(arguments, labels or {})
    elif keyword in ("COPY", "ADD"):
        arguments, _ = content_source(arguments)
    elif keyword == "RUN" and instruction.exec_form:
        arguments = _exec_run(arguments)
    return f"{keyword} {arguments}".rstrip()
