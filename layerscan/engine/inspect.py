"""The facades of `layers`, `history` and `rules`: what an image is made of, without a scan.

Each opens the target, reads what it needs and returns plain rows, redacted: instructions
quote ARG values, so any secret the history holds is masked before a row leaves here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..image.model import Image
from ..image.open import open_image
from ..image.source import OpenOptions
from ..layers.reader import WalkLimits
from ..layers.walk import replay
from ..model.findings import redact_known
from ..model.rule_meta import RuleGroup
from ..model.walk_log import LayerProblem
from .options import ScanOptions
from .scan import build_engine


@dataclass(frozen=True)
class LayerRow:
    """One layer as `layers` lists it."""

    index: int
    diff_id: str | None
    size: int | None
    added: int
    changed: int
    deleted: int
    verified: bool | None
    """True: both digests match; False: tampered or corrupt; None: not read to its end."""
    instruction: str
    """Redacted."""


@dataclass(frozen=True)
class LayerListing:
    rows: list[LayerRow]
    problems: list[LayerProblem]

    @property
    def complete(self) -> bool:
        return not any(problem.lost_content for problem in self.problems)


@dataclass(frozen=True)
class HistoryRow:
    """One build step as `history` lists it, empty layers included."""

    index: int
    layer_index: int | None
    empty_layer: bool
    created: str | None
    created_by: str
    """Redacted unless the caller asked for the secrets."""


@dataclass(frozen=True)
class HistoryListing:
    rows: list[HistoryRow]
    warnings: tuple[str, ...]


def list_layers(
    target: str, options: OpenOptions | None = None, limits: WalkLimits | None = None
) -> LayerListing:
    """Every layer with what it did to the filesystem and whether its digests hold."""
    with open_image(target, options) as image:
        timeline, log = replay(image, limits)
        secrets = history_secrets(image)
        rows = []
        for layer in image.layers:
            stats = timeline.stats.get(layer.index)
            check = log.checks.get(layer.index)
            rows.append(
                LayerRow(
                    index=layer.index,
                    diff_id=layer.diff_id,
                    size=layer.size,
                    added=stats.added if stats else 0,
                    changed=stats.changed if stats else 0,
                    deleted=stats.deleted if stats else 0,
                    verified=check.verified if check else None,
                    instruction=redact_known(layer.instruction or "", secrets),
                )
            )
    return LayerListing(rows, list(log.problems))


def list_history(
    target: str, options: OpenOptions | None = None, show_secrets: bool = False
) -> HistoryListing:
    """Every history entry, as the config records it."""
    with open_image(target, options) as image:
        secrets = [] if show_secrets else history_secrets(image)
        rows = [
            HistoryRow(
                index=entry.index,
                layer_index=entry.layer_index,
                empty_layer=entry.empty_layer,
                created=entry.created,
                created_by=redact_known(entry.created_by or entry.comment or "", secrets),
            )
            for entry in image.history
        ]
        return HistoryListing(rows, image.warnings)


def history_secrets(image: Image) -> list[str]:
    """Secrets the history holds, so listings can redact them."""
    from ..detect.history import scan_history  # deferred, like the engine (see scan.py)

    engine = build_engine(ScanOptions())
    with engine.session():
        return [hit.match.secret for hit in scan_history(image, engine)]


def rule_catalogue() -> list[RuleGroup]:
    """Every rule layerscan can report, grouped by where it comes from."""
    from ..checks.rules import RULES
    from ..detect.catalogue import rule_groups  # deferred: it compiles every rule

    hygiene = RuleGroup(
        "Image hygiene checks, kind misconfig (layerscan/checks/)",
        tuple((meta, meta.reference or "-") for meta in RULES.values()),
    )
    return [*rule_groups(), hygiene]


def versions() -> list[tuple[str, str]]:
    """(component, version) of layerscan and the parts whose versions change what it finds:
    the detection core, the prefilter (or that it is missing) and Python."""
    import platform

    from ..detect.prefilter import available
    from ..version import __version__
    from .cache import installed_version

    hyperscan = installed_version("hyperscan")
    if hyperscan is None or not available():
        prefilter = "not available: every rule runs on every text (slower, same findings)"
    else:
        prefilter = f"{hyperscan} (prefilter on)"
    return [
        ("layerscan", __version__),
        ("detect-secrets", installed_version("detect-secrets") or "not installed"),
        ("hyperscan", prefilter),
        ("python", platform.python_version()),
    ]
