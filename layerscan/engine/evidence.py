"""The facades of `recover`: one file version, or the evidence behind one finding, on disk.

Writing is layers/recover.py's job (directory descriptors, O_NOFOLLOW, no links or devices);
this module decides what to write: the version a user names, or the one that holds a finding,
with the finding, the build step and the image's identity beside it in evidence.json.
Evidence is checked before it is reported: the written bytes (or the archive member's, or the
table's) must hold the finding's secret again, or the file is removed and the command fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..content.dispatch import units_of
from ..content.limits import ContentLimits
from ..content.model import Unit
from ..errors import ContentError, OutputError, UsageError
from ..image.model import Image
from ..image.open import open_image
from ..image.source import OpenOptions
from ..layers.entries import Version, normalise_path
from ..layers.recover import (
    DEFAULT_MAX_SIZE,
    NotWritten,
    Recovered,
    Verify,
    check_output_names,
    recover,
    recover_version,
    write_json_document,
)
from ..layers.timeline import Timeline
from ..layers.walk import replay
from ..model.findings import Finding, Source, redact_known, sha256_text
from .document import build_document
from .inspect import history_secrets
from .options import ScanOptions
from .scan import build_engine, scan_image


def recover_file(
    target: str,
    path: str,
    out_dir: Path,
    layer: int | None = None,
    options: OpenOptions | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> Recovered:
    """Write one version of `path` (the newest with content unless `layer` says which)."""
    with open_image(target, options) as image:
        timeline, _ = replay(image)
        secrets = history_secrets(image)
        try:
            return recover(
                image,
                timeline,
                path,
                out_dir,
                layer,
                clean=lambda text: redact_known(text, secrets) if text else text,
                max_size=max_size,
            )
        except OSError as exc:
            raise OutputError(f"cannot write into {out_dir}: {exc.strerror or exc}") from exc


def recover_finding(
    target: str,
    fingerprint: str,
    out_dir: Path,
    options: ScanOptions | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> tuple[Finding, dict[str, Any]]:
    """Scan, find the finding a fingerprint names, and write its evidence into out_dir."""
    options = options or ScanOptions()
    engine = build_engine(options)
    with (
        open_image(
            target,
            options.open_options(),
        ) as image,
        engine.session(),
    ):
        result = scan_image(image, engine, options)
        chosen = find_finding(result.findings, fingerprint)
        secrets = [f.secret for f in result.findings]
        document = build_document(result, shown=[chosen])
        try:
            evidence = write_evidence(
                image,
                result.timeline,
                chosen,
                document["findings"][0],
                out_dir,
                clean=lambda text: redact_known(text, secrets) if text else text,
                max_size=max_size,
                limits=ContentLimits(
                    max_file_bytes=options.max_file_bytes, max_depth=options.max_archive_depth
                ),
            )
        except OSError as exc:
            raise OutputError(f"cannot write into {out_dir}: {exc.strerror or exc}") from exc
    return chosen, evidence


def find_finding(findings: Sequence[Finding], fingerprint: str) -> Finding:
    """The finding a fingerprint (or an unambiguous prefix of at least 8 digits) names."""
    wanted = fingerprint.strip().lower()
    if len(wanted) < 8:
        raise UsageError("give at least 8 characters of the fingerprint")
    matches = [f for f in findings if f.fingerprint.startswith(wanted)]
    if not matches:
        raise UsageError(f"no finding of this image has the fingerprint {fingerprint!r}")
    if len({f.fingerprint for f in matches}) > 1:
        raise UsageError(f"{fingerprint!r} matches several findings; give more of it")
    return matches[0]


EVIDENCE = "evidence.json"


def write_evidence(
    image: Image,
    timeline: Timeline,
    finding: Finding,
    finding_document: dict[str, Any],
    out_dir: Path,
    clean: Callable[[str | None], str | None] = lambda text: text,
    max_size: int = DEFAULT_MAX_SIZE,
    limits: ContentLimits | None = None,
) -> dict[str, Any]:
    """Recover the file version behind a finding and write evidence.json beside it.

    The file is recorded, and evidence.json written, only once its bytes are seen to hold the
    finding's secret (ContentError, exit 3, otherwise: evidence that does not show the key is
    worse than none). A history or config finding has no file: its evidence is the build step
    or config key, written (redacted) to evidence.json alone.
    """
    check_output_names(out_dir, (EVIDENCE,))  # refused before the recovered file is written
    recovered = None
    if finding.source is Source.FILE and finding.path and finding.layer is not None:
        record = _recover_evidence(
            image, timeline, finding, out_dir, clean, max_size, limits or ContentLimits()
        )
        recovered = asdict(record)
    history = None
    if (
        finding.source is Source.HISTORY
        and finding.layer
        and finding.layer.history_index is not None
    ):
        entry = image.history[finding.layer.history_index]
        history = {
            "index": entry.index,
            "created": entry.created,
            "created_by": clean(entry.created_by),
            "layer_index": entry.layer_index,
        }
    evidence = {
        "finding": finding_document,
        "file": recovered,
        "history": history,
        "image": {
            "reference": image.reference,
            "digest": image.digest,
            "config_digest": image.config_digest,
            "target": image.target,
        },
        "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json_document(out_dir, EVIDENCE, evidence)
    return evidence


def evidence_versions(timeline: Timeline, finding: Finding) -> list[Version]:
    """The file versions that can hold a file finding, most likely first.

    A finding names its path and layer, but one layer can hold a path more than once (a file,
    then a directory or link, then a file again): the versions whose status and `removed_by`
    are the finding's, newest first. Superseded duplicates never carry findings.
    """
    if finding.layer is None or finding.layer.index is None or not finding.path:
        return []
    path = normalise_path(finding.path)
    removed_by = finding.removed_by.index if finding.removed_by is not None else None
    return [
        version
        for version in reversed(timeline.versions.get(path or "", []))
        if version.layer_index == finding.layer.index
        and version.holds_content
        and not version.duplicate
        and version.status is finding.status
        and version.removed_by == removed_by
    ]


def _recover_evidence(
    image: Image,
    timeline: Timeline,
    finding: Finding,
    out_dir: Path,
    clean: Callable[[str | None], str | None],
    max_size: int,
    limits: ContentLimits,
) -> Recovered:
    """Write the version that holds the finding, trying each candidate until one does."""
    candidates = evidence_versions(timeline, finding)
    layer = finding.layer.index if finding.layer is not None else None
    if not candidates:
        raise ContentError(
            f"no version of {finding.path} in layer {layer} matches the finding "
            f"({finding.status}); the image changed since it was scanned?"
        )
    failure: NotWritten | None = None
    for version in candidates:
        try:
            return recover_version(
                image,
                version,
                out_dir,
                clean=clean,
                max_size=max_size,
                verify=holds_secret(finding, limits),
            )
        except NotWritten as exc:
            failure = exc
    assert failure is not None
    raise failure


def holds_secret(finding: Finding, limits: ContentLimits) -> Verify:
    """The check `recover` runs on the written file before recording it: the finding's
    secret must be found again in the bytes (in the same archive member or table)."""

    def check(content: Version, handle: IO[bytes]) -> None:
        data = handle.read(limits.max_file_bytes + 1)
        found = found_again(finding, content.display_path, data, limits)
        if found is None or sha256_text(found) != finding.secret_sha256:
            member = f" (member {finding.nested_path})" if finding.nested_path else ""
            raise ContentError(
                f"the bytes written for {finding.path}{member} from layer "
                f"{content.layer_index} do not hold the finding's secret (sha256 "
                f"{finding.secret_sha256[:16]}…)"
            )

    return check


def found_again(finding: Finding, path: str, data: bytes, limits: ContentLimits) -> str | None:
    """The finding's secret as it reads in `data`, or None: searched the way the scan read the
    file (`path` is the name it was scanned under, which names a compressed file's member).

    The raw bytes first (most secrets are there as they are); then the units the content stage
    makes of the file: decoded text (UTF-16 too), archive members, SQLite rows, a binary's
    strings. A finding made by a file's name alone holds its text or, for a binary, its sha256.
    """
    if len(data) > limits.max_file_bytes:
        return None  # the scan never reads such a file, so no finding can come from it
    secret = finding.secret
    if finding.nested_path is None:
        raw = secret.encode("utf-8", "surrogatepass")
        at = data.find(raw)
        if at >= 0:
            return data[at : at + len(raw)].decode("utf-8", "surrogatepass")
        if secret == "sha256:" + hashlib.sha256(data).hexdigest():
            return secret
    for unit in units_of(path, data, limits):
        if isinstance(unit, Unit) and unit.nested_path == finding.nested_path:
            at = unit.text.find(secret)
            if at >= 0:
                return unit.text[at : at + len(secret)]
    if finding.nested_path is None:
        text = data.decode("utf-8", "replace")  # how an SSH host key finding reads its file
        at = text.find(secret)
        if at >= 0:
            return text[at : at + len(secret)]
    return None
