"""The command line's shared options, and how they become the engine's `ScanOptions`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..engine.cache import default_cache_dir
from ..engine.options import ScanOptions
from ..errors import UsageError
from ..image.credentials import Credentials
from ..image.distribution import RegistryOptions
from ..image.source import OpenOptions
from ..layers.reader import WalkLimits
from ..model.findings import Kind
from ..report import Format
from ..streams.compression import LayerLimits

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
MaxFileSizeOpt = Annotated[
    int, typer.Option("--max-file-size", help="Skip files larger than this many bytes")
]
RulesOpt = Annotated[
    list[Path] | None, typer.Option("--rules", help="Extra rules file (YAML, as signatures/)")
]
MaxLayerBytesOpt = Annotated[
    int, typer.Option("--max-layer-bytes", help="Stop reading a layer past this many bytes")
]
MaxRatioOpt = Annotated[
    float, typer.Option("--max-ratio", help="Stop a layer that expands more than this")
]
MaxImageBytesOpt = Annotated[
    int, typer.Option("--max-image-bytes", help="Stop reading the image past this many bytes")
]
MaxLayerEntriesOpt = Annotated[
    int, typer.Option("--max-layer-entries", help="Stop a layer after this many tar entries")
]
MaxEntriesOpt = Annotated[
    int, typer.Option("--max-entries", help="Stop after this many tar entries in all")
]
MaxDepthOpt = Annotated[
    int, typer.Option("--max-archive-depth", help="Open archives inside files this deep")
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Layer cache directory (default: ~/.cache/layerscan)"),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Scan every layer; neither read nor write the cache")
]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs", "-j", min=0, help="Processes scanning files: 0 = one per core, 1 = no workers"
    ),
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option("--ca-file", help="CA certificates (PEM) to verify registries with"),
]
InsecureRegistryOpt = Annotated[
    list[str] | None,
    typer.Option("--insecure-registry", help="Speak plain HTTP to this registry HOST[:PORT]"),
]
UsernameOpt = Annotated[
    str | None, typer.Option("--username", help="Registry user name (with --password-stdin)")
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the registry password from stdin")
]
ChecksOpt = Annotated[
    str | None,
    typer.Option(
        "--checks",
        help="Kinds of findings: secrets, misconfig (image hygiene), or both (the default)",
    ),
]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print only the summary line")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="Log what was skipped and why")]

LIMITS = WalkLimits()
DEFAULT_DEPTH = ScanOptions().max_archive_depth
_SUFFIX_FORMATS = {
    ".json": Format.JSON,
    ".sarif": Format.SARIF,
    ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN,
    ".txt": Format.TABLE,
    ".html": Format.HTML,
    ".htm": Format.HTML,
}


def registry_options(
    ca_file: Path | None,
    insecure: list[str] | None,
    username: str | None,
    password_stdin: bool,
) -> RegistryOptions:
    """The registry options as the sources take them; the password read from stdin, once."""
    credentials = None
    if password_stdin and not username:
        raise UsageError("--password-stdin needs --username")
    if username:
        if not password_stdin:
            raise UsageError("--username needs --password-stdin (a password is never an option)")
        password = sys.stdin.readline().rstrip("\r\n")
        credentials = Credentials(username, password, "--username")
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"--ca-file {ca_file} is not a file")
    return RegistryOptions(
        ca_file=str(ca_file) if ca_file else os.environ.get("SSL_CERT_FILE") or None,
        insecure_hosts=frozenset(insecure or ()),
        credentials=credentials,
    )


def open_options(
    image: str | None,
    platform: str | None,
    max_image_bytes: int,
    ca_file: Path | None,
    insecure: list[str] | None,
    username: str | None,
    password_stdin: bool,
) -> OpenOptions:
    """How `layers`, `history`, `recover`, `export` and `extract` open their target."""
    registry = registry_options(ca_file, insecure, username, password_stdin)
    return OpenOptions(image, platform, max_image_bytes, registry)


def scan_options(
    image: str | None,
    platform: str | None,
    max_file_size: int,
    rules: list[Path] | None,
    max_layer_bytes: int,
    max_ratio: float,
    max_image_bytes: int,
    max_layer_entries: int,
    max_entries: int,
    max_archive_depth: int,
    cache_dir: Path | None,
    no_cache: bool,
    jobs: int,
    registry: RegistryOptions | None = None,
    checks: str | None = None,
) -> ScanOptions:
    """The options of `scan` and `baseline` as the engine takes them."""
    return ScanOptions(
        kinds=finding_kinds(checks),
        workers={0: None, 1: -1}.get(jobs, jobs),
        cache_dir=None if no_cache else cache_dir or default_cache_dir(),
        reuse_image_results=True,  # reports need the findings and per-layer counts only
        image_ref=image,
        platform=platform,
        max_file_bytes=max_file_size,
        rules_files=tuple(rules or ()),
        registry=registry or RegistryOptions(),
        max_archive_depth=max_archive_depth,
        walk_limits=walk_limits(
            max_layer_bytes, max_ratio, max_image_bytes, max_layer_entries, max_entries
        ),
    )


_CHECK_NAMES = {"secrets": Kind.SECRET, "misconfig": Kind.MISCONFIG}


def finding_kinds(checks: str | None) -> frozenset[Kind]:
    """`--checks secrets,misconfig` as the kinds of findings to report (both by default)."""
    if checks is None:
        return frozenset(Kind)
    names = [name.strip() for name in checks.split(",") if name.strip()]
    unknown = sorted(set(names) - set(_CHECK_NAMES))
    if unknown or not names:
        raise UsageError(
            f"--checks takes {' and '.join(_CHECK_NAMES)}, comma-separated; got {checks!r}"
        )
    return frozenset(_CHECK_NAMES[name] for name in names)


def walk_limits(
    max_layer_bytes: int,
    max_ratio: float,
    max_image_bytes: int,
    max_layer_entries: int,
    max_entries: int,
) -> WalkLimits:
    """The size and entry limits every command that walks the layers takes."""
    return WalkLimits(
        layer=LayerLimits(max_bytes=max_layer_bytes, max_ratio=max_ratio),
        max_image_bytes=max_image_bytes,
        max_layer_entries=max_layer_entries,
        max_entries=max_entries,
    )


def _format_for(path: Path) -> Format:
    """-o report.sarif without -f: the suffix says which format (JSON when it says nothing)."""
    return _SUFFIX_FORMATS.get(path.suffix.lower(), Format.JSON)


def report_outputs(
    formats: list[Format] | None, outputs: list[Path] | None
) -> list[tuple[Format, Path | None]]:
    """Pair -f and -o by position; a missing -f is guessed from the file suffix."""
    formats, outputs = list(formats or []), list(outputs or [])
    if len(outputs) > len(formats):
        formats += [_format_for(path) for path in outputs[len(formats) :]]
    pairs: list[tuple[Format, Path | None]] = [
        (fmt, outputs[i] if i < len(outputs) else None) for i, fmt in enumerate(formats)
    ]
    if not pairs:
        pairs = [(Format.TABLE, None)]
    if sum(path is None for _, path in pairs) > 1:
        raise UsageError("only one report can go to stdout; give the others an -o FILE")
    return pairs
