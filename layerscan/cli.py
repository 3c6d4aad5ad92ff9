"""The command line: parse options, call scan(), pick a reporter, set the exit code.

Exit codes: 0 nothing found; 1 findings; 2 target unreadable or bad usage; 3 the scan is
incomplete (some layer or file could not be read; the rest was scanned) and found nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from tabulate import tabulate

from .compression import LayerLimits
from .detect.history import scan_history
from .errors import LayerscanError, TargetError, UsageError
from .findings import redact_known
from .image import Image
from .instruction import abbreviate
from .recover import DEFAULT_MAX_SIZE
from .report import Format, render
from .report.document import build_document
from .report.table import terminal_safe
from .scan import DEFAULT_MAX_FILE_BYTES, ScanOptions, build_engine, scan
from .sources import OpenOptions, open_image
from .walk import LayerCheck, WalkLimits

EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_TARGET, EXIT_INCOMPLETE = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold literal brackets ("os/arch[/variant]")
    help="Find secrets and build leaks in every layer of a container image.",
)

TargetArg = Annotated[
    str,
    typer.Argument(
        help="docker-archive:PATH, oci-dir:PATH, oci-archive:PATH, docker:REF, '-' for stdin, "
        "or a bare path or image name (auto-detected)",
        show_default=False,
    ),
]
ImageOpt = Annotated[
    str | None, typer.Option("--image", help="Which image, when the target holds several")
]
PlatformOpt = Annotated[
    str | None, typer.Option("--platform", help="os/arch[/variant] of a multi-platform image")
]


def _fail(message: str, code: int = EXIT_BAD_TARGET) -> NoReturn:
    typer.echo(f"layerscan: {message}", err=True)
    raise typer.Exit(code)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")


@app.command("scan")
def scan_command(
    target: TargetArg,
    output_format: Annotated[
        Format, typer.Option("-f", "--format", help="Report format")
    ] = Format.TABLE,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the report here")
    ] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secrets in full (redacted by default)")
    ] = False,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    max_file_size: Annotated[
        int, typer.Option("--max-file-size", help="Skip files larger than this many bytes")
    ] = DEFAULT_MAX_FILE_BYTES,
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="Extra rules file (YAML, as signatures/)")
    ] = None,
    max_layer_bytes: Annotated[
        int, typer.Option("--max-layer-bytes", help="Stop reading a layer past this many bytes")
    ] = WalkLimits().layer.max_bytes,
    max_ratio: Annotated[
        float, typer.Option("--max-ratio", help="Stop a layer that expands more than this")
    ] = WalkLimits().layer.max_ratio,
    max_image_bytes: Annotated[
        int, typer.Option("--max-image-bytes", help="Stop reading the image past this many bytes")
    ] = WalkLimits().max_image_bytes,
    max_layer_entries: Annotated[
        int, typer.Option("--max-layer-entries", help="Stop a layer after this many tar entries")
    ] = WalkLimits().max_layer_entries,
    max_entries: Annotated[
        int, typer.Option("--max-entries", help="Stop after this many tar entries in all")
    ] = WalkLimits().max_entries,
    max_archive_depth: Annotated[
        int, typer.Option("--max-archive-depth", help="Open archives inside files this deep")
    ] = ScanOptions().max_archive_depth,
) -> None:
    """Scan every layer, the build history and the config for secrets."""
    options = ScanOptions(
        image_ref=image,
        platform=platform,
        max_file_bytes=max_file_size,
        rules_files=tuple(rules or ()),
        max_archive_depth=max_archive_depth,
        walk_limits=WalkLimits(
            layer=LayerLimits(max_bytes=max_layer_bytes, max_ratio=max_ratio),
            max_image_bytes=max_image_bytes,
            max_layer_entries=max_layer_entries,
            max_entries=max_entries,
        ),
    )
    try:
        result = scan(target, options)
    except (TargetError, UsageError) as exc:
        _fail(str(exc))
    except LayerscanError as exc:
        _fail(str(exc))
    document = build_document(result, show_secrets=show_secrets)
    _write(render(document, output_format), output)
    if result.findings:
        raise typer.Exit(EXIT_FINDINGS)
    if not result.complete:
        raise typer.Exit(EXIT_INCOMPLETE)


@app.command("layers")
def layers_command(target: TargetArg, image: ImageOpt = None, platform: PlatformOpt = None) -> None:
    """List layers: size, files added / changed / deleted, and the instruction."""
    from .timeline import replay

    try:
        with open_image(target, OpenOptions(image, platform)) as opened:
            timeline, log = replay(opened)
            secrets = _history_secrets(opened)
            rows = []
            for layer in opened.layers:
                stats = timeline.stats.get(layer.index)
                rows.append(
                    [
                        layer.index,
                        (layer.diff_id or "")[7:19],
                        layer.size if layer.size is not None else "",
                        stats.added if stats else 0,
                        stats.changed if stats else 0,
                        stats.deleted if stats else 0,
                        _verified(log.checks.get(layer.index)),
                        terminal_safe(
                            abbreviate(redact_known(layer.instruction or "", secrets), 80)
                        ),
                    ]
                )
    except LayerscanError as exc:
        _fail(str(exc))
    headers = ["layer", "diff_id", "size", "added", "changed", "deleted", "verified", "instruction"]
    typer.echo(tabulate(rows, headers=headers, tablefmt="simple"))
    for problem in log.problems:
        label = "error" if problem.lost_content else "warning"
        where = f" {problem.path}" if problem.path else ""
        typer.echo(
            terminal_safe(f"{label}: layer {problem.layer_index}{where}: {problem.message}"),
            err=True,
        )
    if any(problem.lost_content for problem in log.problems):
        raise typer.Exit(EXIT_INCOMPLETE)


def _verified(check: LayerCheck | None) -> str:
    """yes: digests match; NO: tampered or corrupt; ?: the layer was not read to its end."""
    if check is None or check.verified is None:
        return "?"
    return "yes" if check.verified else "NO"


def _history_secrets(opened_image: Image) -> list[str]:
    """Secrets the history holds, so listings can redact them."""
    engine = build_engine(ScanOptions())
    with engine.session():
        return [hit.match.secret for hit in scan_history(opened_image, engine)]


@app.command("history")
def history_command(
    target: TargetArg,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    show_secrets: Annotated[bool, typer.Option("--show-secrets")] = False,
) -> None:
    """Every history entry, empty layers included, with secrets redacted."""
    try:
        with open_image(target, OpenOptions(image, platform)) as opened:
            secrets = [] if show_secrets else _history_secrets(opened)
            rows = [
                [
                    entry.index,
                    "" if entry.layer_index is None else entry.layer_index,
                    "yes" if entry.empty_layer else "",
                    (entry.created or "")[:19],
                    terminal_safe(redact_known(entry.created_by or entry.comment or "", secrets)),
                ]
                for entry in opened.history
            ]
            warnings = opened.warnings
    except LayerscanError as exc:
        _fail(str(exc))
    typer.echo(
        tabulate(
            rows, headers=["step", "layer", "empty", "created", "created_by"], tablefmt="simple"
        )
    )
    for warning in warnings:
        typer.echo(terminal_safe(f"warning: {warning}"), err=True)


@app.command("recover")
def recover_command(
    target: TargetArg,
    path: Annotated[str, typer.Argument(help="Absolute path of the file inside the image")],
    output_dir: Annotated[Path, typer.Option("-o", "--output-dir", help="Directory to write into")],
    layer: Annotated[
        int | None, typer.Option("--layer", help="Take the version from this layer")
    ] = None,
    max_size: Annotated[
        int, typer.Option("--max-size", help="Refuse files that declare more bytes than this")
    ] = DEFAULT_MAX_SIZE,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
) -> None:
    """Write one version of a file (deleted or overwritten ones too) into a directory."""
    from .recover import recover
    from .timeline import replay

    try:
        with open_image(target, OpenOptions(image, platform)) as opened:
            timeline, _ = replay(opened)
            secrets = _history_secrets(opened)
            record = recover(
                opened,
                timeline,
                path,
                output_dir,
                layer,
                clean=lambda text: redact_known(text, secrets) if text else text,
                max_size=max_size,
            )
    except LayerscanError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write into {output_dir}: {exc.strerror or exc}")
    typer.echo(
        terminal_safe(
            f"{record.original_path} from layer {record.layer_index} ({record.status}) -> "
            f"{output_dir / record.written_to} sha256:{record.sha256} ({record.size} bytes)"
        )
    )


@app.command("rules")
def rules_command() -> None:
    """List every rule layerscan can report (Markdown, as in the README)."""
    from .report.rules_doc import catalogue_markdown

    typer.echo(catalogue_markdown(), nl=False)


def main() -> None:
    """Console entry point."""
    app()
