"""The facades of `recover`: one file version, or the evidence behind one finding, on disk.

Writing is layers/recover.py's job (directory descriptors, O_NOFOLLOW, no links or devices);
this module decides what to write: the version a user names, or the one that holds a finding,
with the finding, the build step and the image's identity beside it in evidence.json.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import OutputError, UsageError
from ..image.model import Image
from ..image.open import open_image
from ..image.source import OpenOptions
from ..layers.recover import DEFAULT_MAX_SIZE, Recovered, recover, write_json_document
from ..layers.timeline import Timeline
from ..layers.walk import replay
from ..model.findings import Finding, Source, redact_known
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
        open_image(target, OpenOptions(options.image_ref, options.platform)) as image,
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


def write_evidence(
    image: Image,
    timeline: Timeline,
    finding: Finding,
    finding_document: dict[str, Any],
    out_dir: Path,
    clean: Callable[[str | None], str | None] = lambda text: text,
    max_size: int = DEFAULT_MAX_SIZE,
) -> dict[str, Any]:
    """Recover the file version behind a finding and write evidence.json beside it.

    A history or config finding has no file: its evidence is the build step or config key,
    written (redacted) to evidence.json alone.
    """
    recovered = None
    if finding.source is Source.FILE and finding.path and finding.layer is not None:
        record = recover(
            image, timeline, finding.path, out_dir, finding.layer.index, clean, max_size
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
    write_json_document(out_dir, "evidence.json", evidence)
    return evidence
