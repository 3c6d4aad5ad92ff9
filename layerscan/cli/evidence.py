"""`export` and `extract`: the image kept on disk as evidence, whole or laid out by layer.

Each command parses its options, calls its engine facade, prints what was written and sets
the exit code; app.py registers them beside the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import EXIT_INCOMPLETE
from ..layers.extract import ExtractOptions, Part
from ..layers.recover import DEFAULT_MAX_SIZE
from ..report.table import terminal_safe
from ..streams.compression import LayerLimits
from .exits import reported_errors
from .options import (
    LIMITS,
    CaFileOpt,
    ImageOpt,
    InsecureRegistryOpt,
    MaxEntriesOpt,
    MaxImageBytesOpt,
    MaxLayerBytesOpt,
    MaxLayerEntriesOpt,
    MaxRatioOpt,
    PasswordStdinOpt,
    PlatformOpt,
    QuietOpt,
    TargetArg,
    UsernameOpt,
    open_options,
    walk_limits,
)
from .progress import byte_progress


def export_command(
    target: TargetArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The tarball to write (docker load reads it)")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the tarball and its .json if they exist")
    ] = False,
    quiet: QuietOpt = False,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    max_layer_bytes: MaxLayerBytesOpt = LIMITS.layer.max_bytes,
    max_ratio: MaxRatioOpt = LIMITS.layer.max_ratio,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
) -> None:
    """Save the image as a `docker save` tarball, every layer checked against its diff_id,
    with a record of what was written in TARBALL.json."""
    from ..engine.export import evidence_path, export_image

    with reported_errors(), byte_progress("exporting", quiet) as progress:
        record = export_image(
            target,
            output,
            options=open_options(
                image,
                platform,
                max_image_bytes,
                ca_file,
                insecure_registry,
                username,
                password_stdin,
            ),
            limits=LayerLimits(max_bytes=max_layer_bytes, max_ratio=max_ratio),
            force=force,
            progress=progress,
        )
    if quiet:
        typer.echo(f"{output} {record.sha256}")
        return
    lines = [
        f"Exported {record.reference or record.target} ({record.source}, "
        f"{len(record.layers)} layers, {record.layout}) to {output}",
        f"  manifest  {record.manifest_digest or 'none (legacy layout)'}",
    ]
    if record.source_manifest_digest and record.source_manifest_digest != record.manifest_digest:
        lines.append(f"  source    {record.source_manifest_digest} (the manifest it was read by)")
    lines += [
        f"  config    {record.config_digest} (the image ID after docker load)",
        f"  tarball   {record.sha256}  {record.size:,} bytes",
        f"  record    {evidence_path(output)}",
    ]
    for line in lines:
        typer.echo(terminal_safe(line))


def extract_command(
    target: TargetArg,
    output_dir: Annotated[
        Path, typer.Option("-o", "--output-dir", help="A new or empty directory to write into")
    ],
    layer: Annotated[
        list[int] | None,
        typer.Option("--layer", help="Only this layer's entries (repeatable); all are read"),
    ] = None,
    only: Annotated[
        list[Part] | None,
        typer.Option("--only", help="Only these views: layers, rootfs, removed (repeatable)"),
    ] = None,
    path: Annotated[
        list[str] | None,
        typer.Option(
            "--path",
            help="Only paths matching this pattern (repeatable; '*' matches '/' too; a "
            "directory brings what is below it)",
        ),
    ] = None,
    symlinks: Annotated[
        bool,
        typer.Option("--symlinks", help="Create symbolic links (by default only recorded)"),
    ] = False,
    max_size: Annotated[
        int, typer.Option("--max-size", help="Do not write files that declare more bytes")
    ] = DEFAULT_MAX_SIZE,
    quiet: QuietOpt = False,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    max_layer_bytes: MaxLayerBytesOpt = LIMITS.layer.max_bytes,
    max_ratio: MaxRatioOpt = LIMITS.layer.max_ratio,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
    max_layer_entries: MaxLayerEntriesOpt = LIMITS.max_layer_entries,
    max_entries: MaxEntriesOpt = LIMITS.max_entries,
) -> None:
    """Unpack every layer, the final filesystem and every removed file version into a
    directory, with manifest.json recording each written path."""
    from ..engine.extract import extract_image

    options = ExtractOptions(
        parts=frozenset(only) if only else frozenset(Part),
        layers=frozenset(layer) if layer else None,
        paths=tuple(path or ()),
        symlinks=symlinks,
        max_file_size=max_size,
        limits=walk_limits(
            max_layer_bytes, max_ratio, max_image_bytes, max_layer_entries, max_entries
        ),
    )
    with reported_errors(), byte_progress("extracting", quiet) as progress:
        summary = extract_image(
            target,
            output_dir,
            options,
            open_options(
                image,
                platform,
                max_image_bytes,
                ca_file,
                insecure_registry,
                username,
                password_stdin,
            ),
            progress,
        )
    for problem in summary.problems[:20]:
        typer.echo(terminal_safe(f"warning: {problem}"), err=True)
    if len(summary.problems) > 20:
        typer.echo(f"warning: {len(summary.problems) - 20} more in manifest.json", err=True)
    state = "complete" if summary.complete else "INCOMPLETE (see the notes in manifest.json)"
    digests = {True: "digests verified", False: "DIGESTS DO NOT MATCH", None: "digests not checked"}
    if not quiet:
        counts = summary.counts
        lines = [f"Extracted into {output_dir}"]
        for part in Part:
            if part in options.parts:
                count = counts[part.value]
                extra = f", {summary.whiteouts} whiteouts listed" if part is Part.LAYERS else ""
                lines.append(
                    f"  {part.value + '/':9} {count.files:,} files, {_size(count.bytes)}{extra}"
                )
        missing = ", ".join(f"{count:,} {why}" for why, count in summary.not_written.items())
        lines.append(
            f"  manifest.json  {summary.records:,} records, {state}, {digests[summary.verified]}"
        )
        if missing:
            hint = "; --symlinks creates links" if "symbolic links" in summary.not_written else ""
            lines.append(f"  not written    {missing} (recorded){hint}")
        for line in lines:
            typer.echo(terminal_safe(line))
    if not summary.complete or summary.verified is False:
        raise typer.Exit(EXIT_INCOMPLETE)


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count:,} bytes"
