"""`layerscan hunt TARGET... (--sha256 HEX | --secret-file FILE)`: where one known secret is.

Registered at the end of app.py (as diff is: no import cycle). The secret is never an
argument in clear (it would sit in the shell's history and the process list): a file, `-`
for stdin, or only its sha256. Exit 1 when found anywhere; else 4 when layerscan failed on
some image (a bug); else 3 when some image could not be read in full; else 0. Found and
unreadable both: 1, and stderr names the unreadable (docs/hunt.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..detect.known_secret import Needle
from ..engine.hunt import hunt, hunt_document
from ..engine.options import DEFAULT_MAX_FILE_BYTES, ScanOptions
from ..errors import EXIT_CLEAN, EXIT_INCOMPLETE, EXIT_INTERNAL, UsageError
from ..output import refuse_special, write_output
from ..report.hunt_report import HuntFormat, render, summary_line
from ..report.table import terminal_safe
from .exits import reported_errors
from .options import (
    DEFAULT_DEPTH,
    LIMITS,
    CaFileOpt,
    ImageOpt,
    InsecureRegistryOpt,
    MaxDepthOpt,
    MaxEntriesOpt,
    MaxImageBytesOpt,
    MaxLayerBytesOpt,
    MaxLayerEntriesOpt,
    MaxRatioOpt,
    PasswordStdinOpt,
    PlatformOpt,
    QuietOpt,
    UsernameOpt,
    registry_options,
    walk_limits,
)

EXIT_FOUND = 1
UnpackSizeOpt = Annotated[
    int,
    typer.Option(
        "--max-file-size", help="Unpack files up to this size; larger ones: raw bytes only"
    ),
]


def _needle(sha256: str | None, secret_file: Path | None) -> Needle:
    if (sha256 is None) == (secret_file is None):
        raise UsageError("give the secret by --sha256 HEX or --secret-file FILE (one of them)")
    try:
        if sha256 is not None:
            return Needle.from_sha256(sha256)
        assert secret_file is not None
        data = sys.stdin.buffer.read() if str(secret_file) == "-" else secret_file.read_bytes()
        if data.endswith(b"\n"):
            data = data[:-1].removesuffix(b"\r")
        return Needle.from_secret(data)
    except OSError as exc:
        raise UsageError(f"--secret-file {secret_file}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _targets(targets: list[str] | None, listed: Path | None) -> list[str]:
    found = list(targets or [])
    if listed is not None:
        try:
            lines = listed.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--targets {listed}: {exc}") from exc
        stripped = (line.strip() for line in lines)
        found += [line for line in stripped if line and not line.startswith("#")]
    if not found:
        raise UsageError("name at least one image: TARGET... or --targets FILE")
    if "-" in found and (len(found) > 1):
        raise UsageError("'-' (stdin) can be hunted alone only")
    return found


def hunt_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Images to search (any target scan takes)", show_default=False),
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="The secret's sha256 (hex of its bytes)")
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option("--secret-file", help="A file holding the secret ('-': stdin)"),
    ] = None,
    targets_file: Annotated[
        Path | None, typer.Option("--targets", help="A file of targets, one per line")
    ] = None,
    output_format: Annotated[
        HuntFormat, typer.Option("-f", "--format", help="table or json")
    ] = HuntFormat.TABLE,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write it here")] = None,
    quiet: QuietOpt = False,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    max_file_size: UnpackSizeOpt = DEFAULT_MAX_FILE_BYTES,
    max_layer_bytes: MaxLayerBytesOpt = LIMITS.layer.max_bytes,
    max_ratio: MaxRatioOpt = LIMITS.layer.max_ratio,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
    max_layer_entries: MaxLayerEntriesOpt = LIMITS.max_layer_entries,
    max_entries: MaxEntriesOpt = LIMITS.max_entries,
    max_archive_depth: MaxDepthOpt = DEFAULT_DEPTH,
) -> None:
    """Where one known secret appears across images: every layer, deleted and overwritten
    files, nested archives, history and config; found even where no rule would flag it."""
    with reported_errors():
        if output is not None:
            refuse_special(output)
        listed = _targets(targets, targets_file)
        readers = [password_stdin, str(secret_file) == "-", listed == ["-"]]
        if sum(readers) > 1:
            raise UsageError("stdin can carry one of: the password, the secret, the image")
        needle = _needle(sha256, secret_file)
        registry = registry_options(ca_file, insecure_registry, username, password_stdin)
        limits = walk_limits(
            max_layer_bytes, max_ratio, max_image_bytes, max_layer_entries, max_entries
        )
    options = ScanOptions(
        image_ref=image,
        platform=platform,
        max_file_bytes=max_file_size,
        max_archive_depth=max_archive_depth,
        registry=registry,
        walk_limits=limits,
    )

    def progress(number: int, count: int, target: str) -> None:
        if not quiet:
            typer.echo(terminal_safe(f"hunting in {target} ({number}/{count})"), err=True)

    results = hunt(listed, needle, options, progress)
    document = hunt_document(needle, results)
    text = render(document, output_format)
    if output is not None:
        with reported_errors():
            write_output(output, text)
    elif quiet:
        sys.stdout.write(summary_line(document) + "\n")
    else:
        sys.stdout.write(text)
    for result in results:
        if not result.complete:
            typer.echo(terminal_safe(f"layerscan: {result.target}: not read in full"), err=True)
        if result.skipped_total and not quiet:
            note = f"{result.skipped_total} parts not searched in full (-f json lists them)"
            typer.echo(terminal_safe(f"layerscan: {result.target}: {note}"), err=True)
    summary = document["summary"]
    if summary["hits"]:
        raise typer.Exit(EXIT_FOUND)
    if summary["failed"]:
        raise typer.Exit(EXIT_INTERNAL)
    raise typer.Exit(EXIT_INCOMPLETE if summary["unreadable"] else EXIT_CLEAN)
