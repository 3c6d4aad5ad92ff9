"""Run layerscan on hostile input the way the trusted extraction libraries test themselves.

Every command runs as a user would run it (`python -m layerscan ...` in a fresh process), with
a wall-clock timeout, an address-space bound and a file-size bound, in its own sandbox: a
directory holding the output directory `out/`, a sibling `victim/` directory an escaping write
would hit (and a second victim one level up), and the process's private TMPDIR. Whatever the
image holds, after the command

- it finished in time, exited 0, 1, 2 or 3, and printed no Python traceback;
- nothing it printed can drive a terminal (no control characters, valid UTF-8);
- `scan -f json` printed a report that parses, matches the schema and agrees with the exit code;
- both victims are byte-for-byte unchanged and nothing appeared outside `out/` (TMPDIR is
  empty again);
- `out/` holds only directories and regular files without set-id bits, and each file
  `recover` recorded in `out/manifest.json` is there with the sha256 it recorded;
- the image itself is unchanged, and nothing but the sandboxes appeared beside them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jsonschema

from tests.hostile.corpus import Case, Observed
from tests.support.report_schema import validate_report

WALL_SECONDS = float(os.environ.get("HOSTILE_TIMEOUT", "60"))
MEMORY_BYTES = 2 << 30
FILE_BYTES = 256 << 20
EXTRACT_ENTRIES = 50_000
"""Entries per layer extract may write in the harness (its inode quota, see commands)."""
KEEP_SANDBOXES = os.environ.get("HOSTILE_KEEP") == "1"
WORKERS = max(1, int(os.environ.get("HOSTILE_WORKERS", str(min(os.cpu_count() or 2, 4)))))
_GATING = frozenset({"critical", "high"})
HUNTED_SHA256 = "5" * 64
"""The sha256 `hunt` looks for in every case (no text hashes to it)."""
EXIT_CODES = frozenset({0, 1, 2, 3, 4})
"""Every documented exit code; 4 (layerscan itself failed) only where a case expects it."""

Arg = str | bytes

# Sets the bounds, then becomes `python -m layerscan ...`: rlimits survive exec, so the process
# the user would have run is the one that is bounded (no preexec_fn: commands run from threads).
_LAUNCHER = (
    "import os, resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]),) * 2)\n"
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'layerscan', *sys.argv[3:]])\n"
)


class Kind(StrEnum):
    SCAN_JSON = "scan -f json"
    SCAN_TABLE = "scan"
    LAYERS = "layers"
    HISTORY = "history"
    DOCKERFILE = "history --dockerfile"
    HUNT = "hunt"
    RECOVER = "recover"
    EXTRACT = "extract"
    EXTRACT_LINKS = "extract --symlinks"
    EXPORT = "export"
    OWN = "a case's own command"


@dataclass(frozen=True)
class Command:
    """One layerscan invocation; `out` in recover's arguments stands for the sandbox's out/."""

    kind: Kind
    args: tuple[Arg, ...]
    expected: frozenset[int]
    label: str = ""
    prepare: Callable[[Path], None] | None = None
    """Plants things in out/ before the run (links an attacker left in the output directory)."""
    verify: Callable[[int | None, bytes, bytes, Path], None] | None = None
    """A case's own check of the run (see corpus.Run), made before the sandbox is removed."""
    json_report: bool = False
    env: tuple[tuple[str, str], ...] = ()

    def argv(self, sandbox: Path) -> list[Arg]:
        out = str(sandbox / "out")
        return [arg.replace("{out}", out) if isinstance(arg, str) else arg for arg in self.args]

    def shown(self) -> str:
        parts = [_abbreviated(arg if isinstance(arg, str) else repr(arg)) for arg in self.args]
        line = "python -m layerscan " + " ".join(parts).replace("{out}", "SANDBOX/out")
        return line.encode("unicode_escape").decode("ascii")


def remove_tree(path: Path) -> None:
    """rm -rf: shutil.rmtree recurses once per level and fails on the 1,500-deep cases."""
    subprocess.run(["rm", "-rf", "--", str(path)], check=True)


def _abbreviated(text: str, keep: int = 60) -> str:
    """Long hostile names stay readable in a failure message."""
    return text if len(text) <= 2 * keep else f"{text[:keep]}…[{len(text)} chars]…{text[-keep:]}"


@dataclass
class Outcome:
    """What one bounded run did, and every rule of the oracle it broke."""

    command: Command
    code: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    sandbox: Path
    violations: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    recovered: bytes | None = None
    """For a successful recover: the bytes of the file it wrote."""

    def describe(self) -> str:
        lines = self.stderr.decode("utf-8", "replace").strip().splitlines()[-8:]
        tail = "\n".join(line[:240] for line in lines)
        shown_tail = tail.encode("unicode_escape").decode("ascii").replace("\\n", "\n    ")
        return (
            f"$ {self.command.shown()}\n  exit {self.code} after {self.seconds:.1f} s\n  "
            + "\n  ".join(self.violations)
            + (f"\n  stderr:\n    {shown_tail}" if tail else "")
        )


# --- sandbox --------------------------------------------------------------------------------

VICTIM_FILES = {
    "authorized_keys": b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvictim victim@host\n",
    "passwd": b"root:x:0:0:root:/root:/bin/sh\n",
    "secret.txt": b"the victim's own file\n",
    "sub/file": b"nested victim file\n",
}
SANDBOX = "sandbox"
"""The sandbox's name inside its box; paths in a snapshot are relative to the box."""


def _populate_victim(folder: Path) -> None:
    for name, data in VICTIM_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (folder / "link-to-passwd").symlink_to("passwd")


def make_sandbox(parent: Path) -> Path:
    """A fresh `box/sandbox/` holding `out/`, `tmp/` and a sibling `victim/`; `box/victim/` too.

    The second victim one level up catches escapes one `..` deeper than the first; the whole
    box is what the oracle snapshots.
    """
    box = Path(tempfile.mkdtemp(prefix="box-", dir=parent))
    sandbox = box / SANDBOX
    for victim in (box / "victim", sandbox / "victim"):
        _populate_victim(victim)
    (sandbox / "out").mkdir()
    (sandbox / "tmp").mkdir()
    return sandbox


@dataclass(frozen=True)
class Node:
    """What the snapshot records of one path (never following a symlink)."""

    mode: int
    size: int
    content: str  # sha256 of a regular file, target of a symlink, '' otherwise


def _walk(root_fd: int, prefix: str) -> Iterator[tuple[str, os.stat_result, int]]:
    """(relative path, lstat, dir fd) of everything below root_fd, iteratively and via fds.

    Descriptors instead of joined paths: a deep tree written by `recover` is longer than
    PATH_MAX, and a recursive walk would stop at Python's recursion limit.
    """
    stack: list[tuple[int, str]] = [(os.dup(root_fd), prefix)]
    while stack:
        fd, relative = stack.pop()
        try:
            with os.scandir(fd) as entries:
                names = sorted(entry.name for entry in entries)
            for name in names:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                path = f"{relative}/{name}" if relative else name
                yield path, info, fd
                if stat.S_ISDIR(info.st_mode):
                    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                    stack.append((os.open(name, flags, dir_fd=fd), path))
        finally:
            os.close(fd)


def _hash_at(fd: int, name: str | bytes) -> str:
    digest = hashlib.sha256()
    handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    with os.fdopen(handle, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot(root: Path) -> dict[str, Node]:
    """Every path below root with its mode, size and content hash (or link target)."""
    nodes: dict[str, Node] = {".": Node(os.lstat(root).st_mode, 0, "")}
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for path, info, parent_fd in _walk(root_fd, ""):
            name = path.rsplit("/", 1)[-1]
            content = ""
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(name, dir_fd=parent_fd)
            elif stat.S_ISREG(info.st_mode):
                content = _hash_at(parent_fd, name)
            nodes[path] = Node(info.st_mode, info.st_size if content else 0, content)
    finally:
        os.close(root_fd)
    return nodes


OUT = f"{SANDBOX}/out"
TMP = f"{SANDBOX}/tmp/"
CACHE = f"{SANDBOX}/cache"
"""$XDG_CACHE_HOME of the commands: the layer cache is layerscan's own state, not image
content, so it may change there (as private regular files and directories only)."""


def _in_cache(path: str) -> bool:
    return path == CACHE or path.startswith(CACHE + "/")


def _outside_out(path: str) -> bool:
    return path != OUT and not path.startswith(OUT + "/")


def sandbox_violations(
    before: dict[str, Node], after: dict[str, Node], links_allowed: bool = False
) -> list[str]:
    """Changes the command made outside out/, and anything unsafe it left inside out/
    (`links_allowed`: `extract --symlinks` creates the image's symbolic links there)."""
    found = []
    for path in sorted(set(before) | set(after)):
        if not _outside_out(path):
            continue
        if _in_cache(path):
            node = after.get(path)
            if node is not None and not (stat.S_ISDIR(node.mode) or stat.S_ISREG(node.mode)):
                found.append(f"left {path!r} in its cache, not a regular file or directory")
            elif node is not None and node.mode & 0o077 and path != CACHE:
                found.append(f"left {path!r} readable by others ({stat.filemode(node.mode)})")
            continue
        if path.startswith(TMP) and path not in before:
            found.append(f"left {path!r} behind in its TMPDIR")
        elif before.get(path) != after.get(path):
            change = (
                "created" if path not in before else "removed" if path not in after else "changed"
            )
            found.append(f"{change} {path!r} outside the output directory")
    for path, node in after.items():
        if _outside_out(path) or path == OUT or before.get(path) == node:
            continue  # what was planted in out/ before the run is not the command's doing
        if links_allowed and stat.S_ISLNK(node.mode):
            continue
        if not (stat.S_ISDIR(node.mode) or stat.S_ISREG(node.mode)):
            kind = stat.filemode(node.mode)
            found.append(f"wrote {path!r}, which is not a regular file or directory ({kind})")
        elif node.mode & (stat.S_ISUID | stat.S_ISGID):
            found.append(f"wrote {path!r} with a set-id bit ({stat.filemode(node.mode)})")
    return found


# --- running --------------------------------------------------------------------------------


def run_bounded(command: Command, sandbox: Path) -> Outcome:
    """Run one command in its sandbox (cwd and TMPDIR too) under the time and memory bounds."""
    env = {
        **os.environ,
        "TMPDIR": str(sandbox / "tmp"),
        "XDG_CACHE_HOME": str(sandbox / "cache"),  # the layer cache stays in the sandbox
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **{name: value.replace("{out}", str(sandbox / "out")) for name, value in command.env},
    }
    argv: list[Arg] = [sys.executable, "-c", _LAUNCHER, str(MEMORY_BYTES), str(FILE_BYTES)]
    started = time.monotonic()
    process = subprocess.Popen(
        [*argv, *command.argv(sandbox)],
        cwd=sandbox,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    code: int | None
    try:
        stdout, stderr = process.communicate(timeout=WALL_SECONDS)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        code = None
    return Outcome(command, code, stdout, stderr, time.monotonic() - started, sandbox)


def run_in_sandbox(command: Command, parent: Path) -> Outcome:
    """Snapshot a fresh sandbox, run the command, and check everything the oracle demands."""
    sandbox = make_sandbox(parent)
    if command.prepare is not None:
        command.prepare(sandbox / "out")
    before = snapshot(sandbox.parent)
    outcome = run_bounded(command, sandbox)
    outcome.violations += process_violations(outcome)
    links = command.kind is Kind.EXTRACT_LINKS
    outcome.violations += sandbox_violations(before, snapshot(sandbox.parent), links)
    if command.kind is Kind.SCAN_JSON or command.json_report:
        outcome.violations += report_violations(outcome)
    if command.verify is not None:
        try:
            command.verify(outcome.code, outcome.stdout, outcome.stderr, sandbox / "out")
        except AssertionError as exc:
            outcome.violations.append(f"the case's own check failed: {exc}")
    if command.kind is Kind.RECOVER and outcome.code == 0:
        outcome.violations += recovered_violations(sandbox / "out")
    if command.kind in (Kind.EXTRACT, Kind.EXTRACT_LINKS) and outcome.code in (0, 3):
        outcome.violations += extracted_violations(sandbox / "out" / "x")
    if command.kind is Kind.EXPORT and outcome.code == 0:
        outcome.violations += exported_violations(sandbox / "out" / "image.tar")
    if outcome.code is not None and outcome.code not in command.expected:
        outcome.violations.append(
            f"expected exit {sorted(command.expected)}, got {outcome.code}"
            + _first_line(outcome.stderr)
        )
    if command.kind is Kind.RECOVER and outcome.code == 0:
        outcome.recovered = recovered_bytes(sandbox / "out")
    if not KEEP_SANDBOXES:
        remove_tree(sandbox.parent)  # a bomb's partial output can be hundreds of MB
    return outcome


def run_all(commands: Sequence[Command], parent: Path) -> list[Outcome]:
    """Every command in its own sandbox, a few at a time (they share nothing)."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda command: run_in_sandbox(command, parent), commands))


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return f" ({text.splitlines()[-1][:300]})" if text else ""


# --- the oracle's rules ---------------------------------------------------------------------

_CONTROL = {*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)}


def _control_characters(text: str) -> list[str]:
    return sorted({f"\\x{ord(char):02x}" for char in text if ord(char) in _CONTROL})


def process_violations(outcome: Outcome) -> list[str]:
    """Finished in time, a documented exit code, no traceback, nothing that drives a terminal."""
    found = []
    if outcome.code is None:
        found.append(f"did not finish within {WALL_SECONDS:g} s (killed)")
    elif outcome.code < 0:
        found.append(f"killed by signal {signal.Signals(-outcome.code).name}")
    elif outcome.code not in EXIT_CODES:
        found.append(f"exit code {outcome.code} is not one of 0, 1, 2, 3, 4")
    for stream, data in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        if b"Traceback (most recent call last)" in data:
            found.append(f"printed a Python traceback on {stream}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            found.append(f"{stream} is not valid UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        controls = _control_characters(text)
        if controls:
            found.append(f"{stream} carries terminal control characters raw: {' '.join(controls)}")
    if b"[Errno 27]" in outcome.stderr or b"File too large" in outcome.stderr:
        found.append(f"was stopped by the harness's {FILE_BYTES >> 20} MiB file-size bound")
    if outcome.code in (2, 4):
        lines = outcome.stderr.decode("utf-8", "replace").strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("layerscan: "):
            found.append(
                f"exit {outcome.code} without a one-line 'layerscan: ...' error (stderr has "
                f"{len(lines)} lines)"
            )
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def report_violations(outcome: Outcome) -> list[str]:
    """The JSON report parses, is strict UTF-8 all through, matches the schema and the exit code."""
    if outcome.code not in (0, 1, 3, 4):
        return []
    try:
        report = json.loads(outcome.stdout.decode("utf-8"))
    except ValueError as exc:
        return [f"stdout is not a JSON report ({str(exc)[:200]})"]
    if not isinstance(report, dict):
        return ["stdout is JSON but not a report object"]
    outcome.report = report
    found = []
    unencodable = [text for text in _strings(report) if not _encodes(text)]
    if unencodable:
        found.append(f"report strings hold lone surrogates, not UTF-8: {unencodable[0][:80]!r}")
    try:
        validate_report(report)
    except jsonschema.ValidationError as exc:
        found.append(
            f"report breaks its JSON Schema at {list(exc.absolute_path)}: {exc.message[:200]}"
        )
    findings = report.get("findings") or []
    summary = report.get("summary") or {}
    complete = summary.get("complete")
    failed = (summary.get("policy") or {}).get("exit_code") == 4
    # The default gate is --fail-on high: a low or medium finding (a hygiene check, say)
    # leaves the exit code to completeness.
    gating = [f for f in findings if isinstance(f, dict) and f.get("severity") in _GATING]
    wanted = 4 if failed else 1 if gating else 0 if complete else 3
    if outcome.code != wanted:
        found.append(
            f"exit {outcome.code} disagrees with the report ({len(findings)} findings, "
            f"complete={complete}): expected {wanted}"
        )
    return found


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def recovered_violations(out: Path) -> list[str]:
    """Each file recover recorded is inside out/, a regular file, with the recorded sha256."""
    try:
        records = _manifest_records(out)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"recover exited 0 but out/manifest.json is missing or unreadable ({exc})"]
    found = []
    for record in records:
        written = str(record.get("written_to", ""))
        if written.startswith("/") or ".." in written.split("/"):
            found.append(f"recorded a file outside out/: {written!r}")
            continue
        sha = _sha_below(out, written_parts(record))
        if sha != record.get("sha256"):
            found.append(f"out/{written!r} does not hold the recorded sha256 ({sha})")
    return found


def extracted_violations(out: Path) -> list[str]:
    """extract's manifest says complete or not, and every file it records as written is
    inside the directory, reached without a link, with the sha256 it records."""
    try:
        handle = os.open(out / "manifest.json", os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(handle, "rb") as stream:
            manifest = json.loads(stream.read())
        records = manifest["records"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"extract exited 0 or 3 but its manifest.json is missing or unreadable ({exc})"]
    found = []
    if not isinstance(manifest.get("complete"), bool):
        found.append("extract's manifest.json does not say whether it is complete")
    for record in records:
        written = record.get("written_to")
        if not written or not record.get("sha256"):
            continue
        if written.startswith("/") or ".." in written.split("/"):
            found.append(f"extract recorded a file outside its directory: {written!r}")
            continue
        sha = _sha_below(out, written.split("/"))
        if sha != record["sha256"]:
            found.append(f"x/{written!r} does not hold the sha256 extract recorded ({sha})")
            if len(found) > 5:
                break
    return found


def exported_violations(tarball: Path) -> list[str]:
    """An export that succeeded is a docker-save tarball whose layers hash to the config's
    diff_ids, with its record beside it."""
    import tarfile

    try:
        with tarfile.open(tarball) as archive:
            [entry] = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
            config = json.load(archive.extractfile(entry["Config"]))  # type: ignore[arg-type]
            hashes = []
            for name in entry["Layers"]:
                digest = hashlib.sha256()
                stream = archive.extractfile(name)
                assert stream is not None
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                hashes.append("sha256:" + digest.hexdigest())
        record = json.loads(Path(f"{tarball}.json").read_text())
    except (OSError, ValueError, KeyError, TypeError, tarfile.TarError, AssertionError) as exc:
        return [f"export exited 0 but its tarball or record is not readable ({exc})"]
    found = []
    if hashes != config["rootfs"]["diff_ids"]:
        found.append("export exited 0 but its layers do not hash to the config's diff_ids")
    if record.get("size") != tarball.stat().st_size:
        found.append("export's record gives another size than the tarball's")
    return found


def _manifest_records(out: Path) -> list[dict[str, Any]]:
    """recover's out/manifest.json records, read without following a planted link."""
    handle = os.open(out / "manifest.json", os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(handle, "rb") as stream:
        records = json.loads(stream.read())["recovered"]
    if not isinstance(records, list):
        raise TypeError("'recovered' is not a list")
    return records


def written_parts(record: dict[str, Any]) -> list[str] | list[bytes]:
    """The components of a recorded file's path below out/: exact bytes from `written_to_hex`
    when the name is not UTF-8 (`written_to` then only shows it, escaped)."""
    if record.get("written_to_hex"):
        return bytes.fromhex(str(record["written_to_hex"])).split(b"/")
    return str(record["written_to"]).split("/")


def _sha_below(root: Path, parts: list[str] | list[bytes]) -> str | None:
    """The sha256 of root/parts, entered one directory fd at a time without following links."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            following = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = following
        return _hash_at(fd, parts[-1])
    except OSError:
        return None
    finally:
        os.close(fd)


def recovered_bytes(out: Path) -> bytes | None:
    """The content of the one file a recover run wrote (via its manifest record)."""
    try:
        parts = written_parts(_manifest_records(out)[-1])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            following = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = following
        handle = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        with os.fdopen(handle, "rb") as stream:
            return stream.read(1 << 20)  # planted contents are small; a bomb's output is not
    except OSError:
        return None
    finally:
        os.close(fd)


# --- a whole case ---------------------------------------------------------------------------


@dataclass
class CaseRun:
    """Every run of one case and every problem found (oracle rules and expectations)."""

    case: Case
    target: str
    outcomes: list[Outcome]
    problems: list[str]


def case_commands(case: Case, target: str) -> list[Command]:
    """scan (JSON and table), layers, history (and --dockerfile), and recover of every
    planted path.

    A heavy case (a bomb whose every walk costs up to the time bound) runs the JSON scan and
    the recoveries only: the table scan and `layers` walk the layers the same way.
    """
    readable = case.readable
    own = [
        Command(
            Kind.OWN, run.args, run.codes, run.label, run.prepare, run.verify, run.json, run.env
        )
        for run in (case.runs(target) if case.runs is not None else ())
    ]
    if case.own_runs_only:
        return own
    commands = [Command(Kind.SCAN_JSON, ("scan", "-f", "json", "--", target), case.scan_codes)]
    if not case.heavy:
        commands += [
            Command(Kind.SCAN_TABLE, ("scan", "--", target), case.scan_codes),
            Command(Kind.LAYERS, ("layers", "--", target), frozenset({0, 3} if readable else {2})),
            Command(Kind.HISTORY, ("history", "--", target), frozenset({0} if readable else {2})),
            Command(
                Kind.DOCKERFILE,
                ("history", "--dockerfile", "--", target),
                frozenset({0, 3} if readable else {2}),
            ),
            # A secret no image holds: every file, history and config is searched; an image
            # that cannot be read is 3 (the hunt goes on with the others), never 2.
            Command(
                Kind.HUNT,
                ("hunt", "-q", "--sha256", HUNTED_SHA256, "--", target),
                frozenset({0, 3} if readable else {3}),
            ),
        ]
    # extract and export (issue 14): a readable image extracts (perhaps incompletely) and
    # exports or is refused (a damaged or tampered layer: 3); an unreadable one is exit 2.
    extract_codes = frozenset({0, 3} if readable else {2})
    # A bomb's 10 GiB of zeros is what the image holds: export and extract write it unless
    # bounded, and the harness's file-size bound is a user's disk quota, so they are bounded.
    bounds = ("--max-image-bytes", str(FILE_BYTES // 2))
    # Likewise an inode quota: 2,000,000 empty files are what that image holds, and writing
    # even the 264,000 the byte limit lets through twice (layers/ and rootfs/) takes minutes on
    # a disk whose directory blocks are not cached; that time is the disk's, not layerscan's.
    files = ("--max-layer-entries", str(EXTRACT_ENTRIES))
    commands += [
        Command(
            Kind.EXTRACT,
            ("extract", "-q", *bounds, *files, "-o", "{out}/x", "--", target),
            extract_codes,
        ),
        Command(
            Kind.EXPORT,
            ("export", "-q", *bounds, "-o", "{out}/image.tar", "--", target),
            frozenset({0, 3} if readable else {2}),
        ),
    ]
    if not case.heavy:
        commands.append(
            Command(
                Kind.EXTRACT_LINKS,
                ("extract", "-q", "--symlinks", *bounds, *files, "-o", "{out}/x", "--", target),
                extract_codes,
            )
        )
    for number, planted in enumerate(case.plants):
        layer = ("--layer", str(planted.layer)) if planted.layer is not None else ()
        args = ("recover", "-o", "{out}", *layer, "--", target, planted.path)
        commands.append(Command(Kind.RECOVER, args, planted.codes, str(number), case.prepare_out))
    return commands + own


def _expectation_problems(case: Case, outcomes: list[Outcome]) -> list[str]:
    by_kind = {outcome.command.kind: outcome for outcome in outcomes}
    if Kind.SCAN_JSON not in by_kind:
        return []  # a case of its own runs only: each run's `verify` is its expectation
    scan, table = by_kind[Kind.SCAN_JSON], by_kind.get(Kind.SCAN_TABLE)
    if scan.code not in case.scan_codes or (scan.report is None and scan.code != 2):
        return []  # already reported as an exit-code or report violation
    table_text = table.stdout.decode("utf-8", "replace") if table else ""
    observed = Observed(scan.code, scan.report, table_text)
    try:
        case.expect(observed)
    except AssertionError as exc:
        return [
            f"$ {scan.command.shown()}\n  expected result not met:\n  "
            + str(exc).replace("\n", "\n  ")
        ]
    return []


def _digest_of(content: bytes | None) -> str:
    """Planted contents hold secrets: failures name their size and hash, never the bytes."""
    if content is None:
        return "nothing"
    return f"{len(content)} bytes, sha256 {hashlib.sha256(content).hexdigest()[:16]}…"


def _recovered_content_problems(case: Case, outcomes: list[Outcome]) -> list[str]:
    problems = []
    for outcome in outcomes:
        if outcome.command.kind is not Kind.RECOVER or outcome.code != 0:
            continue
        planted = case.plants[int(outcome.command.label)]
        if planted.content is None:
            continue
        written = outcome.recovered
        if written != planted.content:
            problems.append(
                f"$ {outcome.command.shown()}\n  recovered {_digest_of(written)} instead of "
                f"the planted content ({_digest_of(planted.content)})"
            )
    return problems


def _target_state(target: str) -> object:
    """Enough of the image on disk to see that no command wrote to it (never its 1 GiB bytes)."""
    path = Path(
        target.split(":", 1)[1] if target.startswith(("oci-dir:", "oci-archive:")) else target
    )
    if path.is_dir():
        return snapshot(path)
    info = path.lstat()
    return (info.st_mode, info.st_size, info.st_mtime_ns)


def run_case(case: Case, work: Path) -> CaseRun:
    """Build the case's image, run every command on it, and gather every problem."""
    target = case.build(work)
    runs = work / "runs"
    runs.mkdir()
    image_before = _target_state(target)
    outcomes = run_all(case_commands(case, target), runs)
    problems = [outcome.describe() for outcome in outcomes if outcome.violations]
    if _target_state(target) != image_before:
        problems.append(f"the image {target} was modified by the commands")
    strays = sorted(p.name for p in runs.iterdir() if not p.name.startswith("box-"))
    if strays:
        problems.append(f"files appeared beside the sandboxes: {strays}")
    problems += _expectation_problems(case, outcomes)
    problems += _recovered_content_problems(case, outcomes)
    return CaseRun(case, target, outcomes, problems)
