"""`layerscan diff OLD NEW`: what changed between two images, gated on the new findings.

Registered at the end of app.py (as export and extract are: this module does not import
app.py, so the two make no import cycle). Both images are scanned as `scan` scans them (same
options, same layer cache), so a diff of two tags of one base scans the new layers only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..engine.diff import diff_document, diff_images
from ..engine.options import DEFAULT_MAX_FILE_BYTES
from ..output import refuse_special, write_output
from ..policy import (
    DEFAULT_IGNORE_FILE,
    FailOn,
    apply_policy,
    exit_code,
    load_baseline,
    load_ignore_rules,
    policy_summary,
)
from ..report.diff_report import DiffFormat, render, summary_line
from .exits import log_to_stderr, reported_errors
from .options import (
    DEFAULT_DEPTH,
    LIMITS,
    CacheDirOpt,
    CaFileOpt,
    ImageOpt,
    InsecureRegistryOpt,
    JobsOpt,
    MaxFileSizeOpt,
    MaxImageBytesOpt,
    NoCacheOpt,
    PasswordStdinOpt,
    PlatformOpt,
    QuietOpt,
    RulesOpt,
    TargetArg,
    UsernameOpt,
    VerboseOpt,
    registry_options,
    scan_options,
)
from .progress import Progress


def diff_command(
    old: TargetArg,
    new: TargetArg,
    output_format: Annotated[
        DiffFormat, typer.Option("-f", "--format", help="table, json or markdown")
    ] = DiffFormat.TABLE,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write it here")] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secrets in full (redacted by default)")
    ] = False,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 for a NEW finding at or above this severity"),
    ] = FailOn.HIGH,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="New findings in this baseline do not gate")
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
    max_image_bytes: MaxImageBytesOpt = LIMITS.max_image_bytes,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = 0,
) -> None:
    """What changed from OLD to NEW: layers, base, files, and findings new, fixed and
    unchanged; exit 1 only for a new finding at or above --fail-on."""
    with reported_errors():
        if output is not None:
            refuse_special(output)  # before the scans, not after them
        accepted = load_baseline(baseline) if baseline else None
        ignores = load_ignore_rules(ignore_file)
        registry = registry_options(ca_file, insecure_registry, username, password_stdin)
    options = scan_options(
        image,
        platform,
        max_file_size,
        rules,
        LIMITS.layer.max_bytes,
        LIMITS.layer.max_ratio,
        max_image_bytes,
        LIMITS.max_layer_entries,
        LIMITS.max_entries,
        DEFAULT_DEPTH,
        cache_dir,
        no_cache,
        jobs,
        registry,
    )
    log_to_stderr(verbose)
    progress = Progress() if Progress.wanted(quiet) else None
    try:
        with reported_errors():
            diff = diff_images(old, new, options, progress.update if progress else None)
    finally:
        if progress is not None:
            progress.close()
    outcome = apply_policy(diff.new_findings, accepted, ignores)
    code = exit_code(outcome, diff.complete, fail_on)
    why = {finding.fingerprint: "baseline" for finding in outcome.baselined}
    why |= {finding.fingerprint: f"ignore file: {rule.reason}" for finding, rule in outcome.ignored}
    document = diff_document(diff, show_secrets, why, policy_summary(outcome, fail_on, code))
    text = render(document, output_format)
    if output is not None:
        with reported_errors():
            write_output(output, text)
    elif quiet:
        sys.stdout.write(summary_line(document) + "\n")
    else:
        sys.stdout.write(text)
    raise typer.Exit(code)
