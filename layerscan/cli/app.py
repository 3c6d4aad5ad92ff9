"""The commands: each parses its options, calls one engine facade, renders, sets the exit code.

Every LayerscanError becomes one line on stderr and the exit code the error carries (see
errors.py for what each code means to a CI job).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..engine.cache import default_cache_dir
from ..engine.document import build_document, failed_document
from ..engine.options import DEFAULT_MAX_FILE_BYTES, ScanOptions, ScanResult
from ..engine.scan import scan
from ..errors import EXIT_CLEAN, EXIT_INCOMPLETE, EXIT_INTERNAL, LayerscanError, OutputError
from ..image.source import OpenOptions
from ..layers.recover import DEFAULT_MAX_SIZE
from ..model.instruction import abbreviate
from ..model.severity import Severity
from ..output import refuse_special, write_output
from ..policy import (
    DEFAULT_IGNORE_FILE,
    FailOn,
    apply_policy,
    baseline_document,
    exit_code,
    load_baseline,
    load_ignore_rules,
    policy_summary,
)
from ..report import Format, render
from ..report.json_report import escape_unsafe
from ..report.table import summary_line, terminal_safe
from .evidence import export_command, extract_command
from .exits import fail, log_to_stderr, reported_errors
from .options import (
    DEFAULT_DEPTH,
    LIMITS,
    CacheDirOpt,
    CaFileOpt,
    ChecksOpt,
    ImageOpt,
    InsecureRegistryOpt,
    JobsOpt,
    MaxDepthOpt,
    MaxEntriesOpt,
    MaxFileSizeOpt,
    MaxImageBytesOpt,
    MaxLayerBytesOpt,
    MaxLayerEntriesOpt,
    MaxRatioOpt,
    NoCacheOpt,
    PasswordStdinOpt,
    PlatformOpt,
    QuietOpt,
    RulesOpt,
    TargetArg,
    UsernameOpt,
    VerboseOpt,
    open_options,
    registry_options,
    report_outputs,
    scan_options,
)
from .progress import Progress

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold literal brackets ("os/arch[/variant]")
    help="Find secrets and build leaks in every layer of a container image.",
)


def _print_versions() -> None:
    from ..engine.inspect import versions

    for component, version in versions():
        typer.echo(f"{component} {version}")


def _version_option(value: bool) -> None:
    if value:
        _print_versions()
        raise typer.Exit(EXIT_CLEAN)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_option,
            is_eager=True,
            help="Print the versions of layerscan, detect-secrets and Hyperscan, and exit",
        ),
    ] = False,
) -> None:
    """Find secrets and build leaks in every layer of a container image."""


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    with reported_errors():
        write_output(output, text)


def _run_scan(target: str, options: ScanOptions, quiet: bool, verbose: bool) -> ScanResult:
    """Scan with a progress line on a terminal."""
    log_to_stderr(verbose)
    progress = Progress() if Progress.wanted(quiet) else None
    try:
        with reported_errors():
            return scan(target, options, progress.update if progress else None)
    finally:
        if progress is not None:
            progress.close()


@app.command("scan")
def scan_command(
    target: TargetArg,
    output_format: Annotated[
        list[Format] | None,
        typer.Option("-f", "--format", help="Report format; repeat with -o for several reports"),
    ] = None,
    output: Annotated[
        list[Path] | None, typer.Option("-o", "--output", help="Write the report here (repeatable)")
    ] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secrets in full (redacted by default)")
    ] = False,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 for a finding at or above this severity")
    ] = FailOn.HIGH,
    severity: Annotated[
        Severity | None,
        typer.Option(
            "--severity",
            help="Show findings at or above this severity (all of them, vendored ones too)",
        ),
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="List every finding in table, Markdown and SARIF; by default low findings "
            "in vendored code are counted in one line (JSON always lists them)",
        ),
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Report only findings not in this baseline")
    ] = None,
    ignore_file: Annotated[
        Path | None,
        typer.Option("--ignore-file", help=f"Accepted findings (default: ./{DEFAULT_IGNORE_FILE})"),
    ] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    max_file_size: MaxFileSizeOpt = DEFAULT_MAX_FILE_BYTES,
    rules: RulesOpt = None,
    max_layer_bytes: MaxLayerBytesOpt = LIMITS.layer.max_bytes,
    max_ratio: MaxRatioOpt = LIMITS.layer.max_ratio,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
    max_layer_entries: MaxLayerEntriesOpt = LIMITS.max_layer_entries,
    max_entries: MaxEntriesOpt = LIMITS.max_entries,
    max_archive_depth: MaxDepthOpt = DEFAULT_DEPTH,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = 0,
    checks: ChecksOpt = None,
) -> None:
    """Scan every layer, the build history and the config for secrets and image hygiene
    problems; gate by exit code."""
    with reported_errors():
        reports = report_outputs(output_format, output)
        for _, path in reports:
            if path is not None:
                refuse_special(path)  # before the scan, not after it
        accepted = load_baseline(baseline) if baseline else None
        ignores = load_ignore_rules(ignore_file)
    with reported_errors():  # --password-stdin without --username and such
        registry = registry_options(ca_file, insecure_registry, username, password_stdin)
        options = scan_options(
            image,
            platform,
            max_file_size,
            rules,
            max_layer_bytes,
            max_ratio,
            max_image_bytes,
            max_layer_entries,
            max_entries,
            max_archive_depth,
            cache_dir,
            no_cache,
            jobs,
            registry,
            checks,
        )
    wants_html = any(fmt is Format.HTML for fmt, _ in reports)
    if wants_html:  # its timeline names the paths each layer wrote: the full timeline
        options = replace(options, reuse_image_results=False)
    try:
        result = _run_scan(target, options, quiet, verbose)
        outcome = apply_policy(result.findings, accepted, ignores)
        code = exit_code(outcome, result.complete, fail_on)
        document = build_document(
            result,
            show_secrets=show_secrets,
            shown=[
                f
                for f in outcome.new
                if (f.severity or f.rule.severity).rank >= (severity or Severity.INFO).rank
            ],
            policy=policy_summary(outcome, fail_on, code),
            fold_vendored=not show_all and severity is None,
        )
        page = _html_document(document, result, show_secrets) if wants_html else document
        texts = [
            (render(page if fmt is Format.HTML else document, fmt), path) for fmt, path in reports
        ]
    except (typer.Exit, LayerscanError):
        raise
    except Exception as exc:
        _write_failed_reports(reports, target, exc, fail_on)
        raise  # cli/main.py reports it in one line, exit 4
    for (text, path), _ in zip(texts, reports, strict=True):
        if path is None and quiet:
            sys.stdout.write(summary_line(document) + "\n")
        else:
            _write(text, path)
    raise typer.Exit(code)


def _html_document(
    document: dict[str, Any], result: ScanResult, show_secrets: bool
) -> dict[str, Any]:
    """The document the HTML report reads: it also draws the reconstructed Dockerfile's steps
    as its timeline (kept out of the JSON contract); made once for any number of pages."""
    from ..engine.dockerfile import reconstruct_result, reconstruction_document
    from ..report.html import DOCKERFILE_KEY

    reconstruction = reconstruction_document(reconstruct_result(result, show_secrets))
    return {**document, DOCKERFILE_KEY: reconstruction}


def _write_failed_reports(
    reports: list[tuple[Format, Path | None]], target: str, exc: Exception, fail_on: FailOn
) -> None:
    """Where the scan itself failed, each report asked for still says so, as far as it can
    be written: a CI job that reads the SARIF or JSON file sees an incomplete scan, not a
    stale file or none."""
    message = f"layerscan failed: {type(exc).__name__}; the scan did not complete"
    try:
        document = failed_document(target, message, str(fail_on), EXIT_INTERNAL)
        for report_format, path in reports:
            text = render(document, report_format)
            if path is None:
                sys.stdout.write(text)
            else:
                write_output(path, text)
    except Exception:  # best effort: the exit code still says it all
        return


@app.command("baseline")
def baseline_command(
    target: TargetArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Baseline file to write")] = Path(
        ".layerscan-baseline.json"
    ),
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    max_file_size: MaxFileSizeOpt = DEFAULT_MAX_FILE_BYTES,
    rules: RulesOpt = None,
    max_layer_bytes: MaxLayerBytesOpt = LIMITS.layer.max_bytes,
    max_ratio: MaxRatioOpt = LIMITS.layer.max_ratio,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
    max_layer_entries: MaxLayerEntriesOpt = LIMITS.max_layer_entries,
    max_entries: MaxEntriesOpt = LIMITS.max_entries,
    max_archive_depth: MaxDepthOpt = DEFAULT_DEPTH,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = 0,
) -> None:
    """Record the image's current findings, so later scans report only new ones."""
    with reported_errors():
        refuse_special(output)
    with reported_errors():  # --password-stdin without --username and such
        registry = registry_options(ca_file, insecure_registry, username, password_stdin)
    options = scan_options(
        image,
        platform,
        max_file_size,
        rules,
        max_layer_bytes,
        max_ratio,
        max_image_bytes,
        max_layer_entries,
        max_entries,
        max_archive_depth,
        cache_dir,
        no_cache,
        jobs,
        registry,
    )
    result = _run_scan(target, options, quiet, verbose)
    image_facts = {
        "reference": result.image.reference,
        "digest": result.image.digest,
        "config_digest": result.image.config_digest,
    }
    document = baseline_document(result.findings, image_facts)
    _write(json.dumps(document, indent=2) + "\n", output)
    if not quiet:
        typer.echo(f"{len(result.findings)} findings recorded in {output}", err=True)
    raise typer.Exit(EXIT_CLEAN if result.complete else EXIT_INCOMPLETE)


@app.command("layers")
def layers_command(
    target: TargetArg,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
) -> None:
    """List layers: size, files added / changed / deleted, and the instruction."""
    from tabulate import tabulate  # deferred (see report/table.py): a scan draws no table

    from ..engine.inspect import list_layers

    with reported_errors():
        listing = list_layers(
            target,
            open_options(
                image,
                platform,
                max_image_bytes,
                ca_file,
                insecure_registry,
                username,
                password_stdin,
            ),
            replace(LIMITS, max_image_bytes=max_image_bytes),
        )
    rows = [
        [
            row.index,
            (row.diff_id or "")[7:19],
            row.size if row.size is not None else "",
            row.added,
            row.changed,
            row.deleted,
            _verified(row.verified),
            terminal_safe(abbreviate(row.instruction, 80)),
        ]
        for row in listing.rows
    ]
    headers = ["layer", "diff_id", "size", "added", "changed", "deleted", "verified", "instruction"]
    typer.echo(tabulate(rows, headers=headers, tablefmt="simple"))
    for problem in listing.problems:
        label = "error" if problem.lost_content else "warning"
        where = f" {problem.path}" if problem.path else ""
        typer.echo(
            terminal_safe(f"{label}: layer {problem.layer_index}{where}: {problem.message}"),
            err=True,
        )
    if not listing.complete:
        raise typer.Exit(EXIT_INCOMPLETE)


def _verified(verified: bool | None) -> str:
    """yes: digests match; NO: tampered or corrupt; ?: the layer was not read to its end."""
    if verified is None:
        return "?"
    return "yes" if verified else "NO"


class HistoryFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command("history")
def history_command(
    target: TargetArg,
    dockerfile: Annotated[
        bool,
        typer.Option(
            "--dockerfile",
            help="Reconstruct the Dockerfile: the base as one FROM, each step with what its "
            "layer wrote, its size and findings (scans the image, through the layer cache)",
        ),
    ] = False,
    output_format: Annotated[
        HistoryFormat, typer.Option("-f", "--format", help="table (or Dockerfile text) or json")
    ] = HistoryFormat.TABLE,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write it here")] = None,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets")] = False,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Every history entry, empty layers included, with secrets redacted; or, with
    --dockerfile, the Dockerfile the image was built from."""
    with reported_errors():
        if output is not None:
            refuse_special(output)
        opening = open_options(
            image,
            platform,
            max_image_bytes,
            ca_file,
            insecure_registry,
            username,
            password_stdin,
        )
    if dockerfile:
        _dockerfile(target, opening, output_format, output, show_secrets, cache_dir, no_cache)
        return
    from tabulate import tabulate

    from ..engine.inspect import list_history

    with reported_errors():
        listing = list_history(target, opening, show_secrets)
    if output_format is HistoryFormat.JSON:
        rows = [
            {
                "step": row.index,
                "layer": row.layer_index,
                "empty_layer": row.empty_layer,
                "created": row.created,
                "created_by": row.created_by,
            }
            for row in listing.rows
        ]
        data = {"schema_version": 1, "history": rows, "warnings": list(listing.warnings)}
        with reported_errors():
            _write(escape_unsafe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n", output)
        return
    table = [
        [
            row.index,
            "" if row.layer_index is None else row.layer_index,
            "yes" if row.empty_layer else "",
            (row.created or "")[:19],
            terminal_safe(row.created_by),
        ]
        for row in listing.rows
    ]
    text = tabulate(
        table, headers=["step", "layer", "empty", "created", "created_by"], tablefmt="simple"
    )
    with reported_errors():
        _write(text + "\n", output)
    for warning in listing.warnings:
        typer.echo(terminal_safe(f"warning: {warning}"), err=True)


def _dockerfile(
    target: str,
    opening: OpenOptions,
    output_format: HistoryFormat,
    output: Path | None,
    show_secrets: bool,
    cache_dir: Path | None,
    no_cache: bool,
) -> None:
    from ..engine.dockerfile import reconstruct, reconstruction_document
    from ..report import dockerfile as dockerfile_report

    options = ScanOptions(
        image_ref=opening.image_ref,
        platform=opening.platform,
        registry=opening.registry,
        cache_dir=None if no_cache else cache_dir or default_cache_dir(),
        walk_limits=replace(
            LIMITS, max_image_bytes=opening.max_spool_bytes or LIMITS.max_image_bytes
        ),
    )
    with reported_errors():
        document = reconstruction_document(reconstruct(target, options, show_secrets))
        if output_format is HistoryFormat.JSON:
            text = escape_unsafe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
        else:
            text = dockerfile_report.render(document)
        _write(text, output)
    if not document["complete"]:
        raise typer.Exit(EXIT_INCOMPLETE)


@app.command("recover")
def recover_command(
    target: TargetArg,
    output_dir: Annotated[Path, typer.Option("-o", "--output-dir", help="Directory to write into")],
    path: Annotated[
        str | None, typer.Argument(help="Absolute path of the file inside the image")
    ] = None,
    finding: Annotated[
        str | None,
        typer.Option("--finding", help="Recover the evidence of this finding (its fingerprint)"),
    ] = None,
    layer: Annotated[
        int | None, typer.Option("--layer", help="Take the version from this layer")
    ] = None,
    max_size: Annotated[
        int, typer.Option("--max-size", help="Refuse files that declare more bytes than this")
    ] = DEFAULT_MAX_SIZE,
    image: ImageOpt = None,
    platform: PlatformOpt = None,
    ca_file: CaFileOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
) -> None:
    """Write one version of a file (deleted or overwritten ones too) into a directory."""
    from ..engine.evidence import recover_file, recover_finding

    if (path is None) == (finding is None):
        typer.echo("layerscan: give either a PATH or --finding FINGERPRINT", err=True)
        raise typer.Exit(2)
    if finding is not None:
        with reported_errors():
            chosen, evidence = recover_finding(
                target,
                finding,
                output_dir,
                ScanOptions(
                    image_ref=image,
                    platform=platform,
                    walk_limits=replace(LIMITS, max_image_bytes=max_image_bytes),
                    registry=registry_options(ca_file, insecure_registry, username, password_stdin),
                ),
                max_size,
            )
        recovered = evidence["file"]
        where = (
            f"{recovered['original_path']} from layer {recovered['layer_index']} -> "
            f"{output_dir / recovered['written_to']} sha256:{recovered['sha256']}"
            if recovered
            else f"{chosen.source} {chosen.key}: nothing to extract"
        )
        typer.echo(
            terminal_safe(f"{chosen.rule.id} {where}; evidence in {output_dir / 'evidence.json'}")
        )
        return
    assert path is not None
    with reported_errors():
        record = recover_file(
            target,
            path,
            output_dir,
            layer,
            open_options(
                image,
                platform,
                max_image_bytes,
                ca_file,
                insecure_registry,
                username,
                password_stdin,
            ),
            max_size,
        )
    typer.echo(
        terminal_safe(
            f"{record.original_path} from layer {record.layer_index} ({record.status}) -> "
            f"{output_dir / record.written_to} sha256:{record.sha256} ({record.size} bytes)"
        )
    )


app.command("export")(export_command)
app.command("extract")(extract_command)


@app.command("rules")
def rules_command(
    into: Annotated[
        Path | None,
        typer.Option(
            "--into",
            help="Refresh the catalogue between the rules markers of this Markdown file "
            "(as docs/rules.md keeps it) instead of printing it",
        ),
    ] = None,
) -> None:
    """List every rule layerscan can report (Markdown, as in docs/rules.md)."""
    from ..engine.inspect import rule_catalogue
    from ..report.rules_doc import catalogue_markdown, update

    catalogue = catalogue_markdown(rule_catalogue())
    if into is None:
        typer.echo(catalogue, nl=False)
        return
    try:
        changed = update(into, catalogue)
    except LayerscanError as exc:
        fail(exc)
    except (OSError, ValueError) as exc:
        fail(OutputError(f"cannot refresh {into}: {exc}"))
    typer.echo(f"{into}: " + ("updated" if changed else "already up to date"), err=True)


@app.command("version")
def version_command() -> None:
    """Print the versions of layerscan, detect-secrets, Hyperscan and Python."""
    _print_versions()


from .diff_command import diff_command  # noqa: E402  (registered here: no import cycle)

app.command("diff")(diff_command)

from .hunt_command import hunt_command  # noqa: E402  (registered here: no import cycle)

app.command("hunt")(hunt_command)
