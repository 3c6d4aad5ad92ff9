"""The facade of `hunt`: every place one known secret appears, across many images.

Each image is walked once, every version of every file in every layer (deleted and
overwritten ones included), each read the way a scan reads it (text, nested archives, the
strings of binaries, SQLite rows) and searched for the secret's forms (detect/known_secret.py);
then its history and its config. An image that cannot be read is reported and the hunt goes
on with the next one. Nothing is extracted and no rule has to match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..detect.known_secret import Needle
from ..errors import LayerscanError
from ..image.model import Image
from ..image.open import open_image
from ..layers.entries import EntryKind, Version
from ..layers.timeline import Timeline
from ..layers.walk import walk
from ..model.findings import Status, redact
from ..model.safe_text import printable
from ..model.walk_log import WalkLog
from ..version import __version__
from .options import ScanOptions

if TYPE_CHECKING:
    from ..content.limits import ContentLimits
    from ..content.model import Unit

SCHEMA_VERSION = 1
KIND = "layerscan-hunt"


@dataclass
class Place:
    """One place the secret was found in one image."""

    source: str
    """file, history or config."""
    form: str
    found: str
    """The text that matched (redacted before any output)."""
    version: Version | None = None
    nested_path: str | None = None
    history_index: int | None = None
    key: str | None = None


@dataclass
class ImageHunt:
    target: str
    image: Image | None = None
    places: list[Place] = field(default_factory=list)
    error: str | None = None
    """Why the image could not be opened at all."""
    problems: list[str] = field(default_factory=list)
    """What could not be read in an image that opened (a damaged layer, a refused file)."""
    skipped: list[str] = field(default_factory=list)
    """Files over --max-file-size, not searched (as a scan skips them: the hunt still counts
    as complete, and says which)."""

    @property
    def complete(self) -> bool:
        return self.error is None and not self.problems


Progress = Callable[[int, int, str], None]
"""(image number, image count, target), called before each image is hunted."""


def hunt(
    targets: Sequence[str],
    needle: Needle,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> list[ImageHunt]:
    """Hunt the secret in every target, one after the other."""
    options = options or ScanOptions()
    results = []
    for number, target in enumerate(targets, 1):
        if progress is not None:
            progress(number, len(targets), target)
        results.append(_hunt_one(target, needle, options))
    return results


def _hunt_one(target: str, needle: Needle, options: ScanOptions) -> ImageHunt:
    # Deferred, as in scan.py: the content readers (libmagic among them) load only to hunt,
    # not with every command the CLI module registers.
    from ..content.limits import ContentLimits

    outcome = ImageHunt(target)
    content = ContentLimits(
        max_file_bytes=options.max_file_bytes, max_depth=options.max_archive_depth
    )
    try:
        with open_image(target, options.open_options()) as image:
            outcome.image = image
            timeline, log = Timeline(), WalkLog()
            for entry in walk(image, timeline, log, options.walk_limits):
                if entry.kind is not EntryKind.FILE or entry.version is None:
                    continue
                if entry.size > content.max_file_bytes:
                    outcome.skipped.append(f"layer {entry.layer_index} {entry.display_path}")
                    continue
                data = entry.read(content.max_file_bytes)
                in_file = False
                for unit, raw in _units(entry.display_path, data, content):
                    found = None if raw and in_file else needle.search(unit.text)
                    if found is not None:
                        in_file = True
                        outcome.places.append(
                            Place("file", found.form, found.found, entry.version, unit.nested_path)
                        )
            outcome.problems += [
                f"layer {p.layer_index}" + (f" {p.path}" if p.path else "") + f": {p.message}"
                for p in log.problems
                if p.lost_content
            ]
            outcome.places += _metadata_places(image, needle)
    except LayerscanError as exc:
        outcome.error = str(exc)
    return outcome


def _units(path: str, data: bytes, content: ContentLimits) -> Iterator[tuple[Unit, bool]]:
    """The file's units, then its raw bytes (flagged) when no unit holds them whole (a
    binary, an archive stored uncompressed): searched only if no unit had the secret."""
    from ..content.dispatch import units_of
    from ..content.model import Unit

    whole = False
    for unit in units_of(path, data, content):
        if isinstance(unit, Unit):
            whole = whole or (unit.nested_path is None and unit.origin == "text")
            yield unit, False
    if not whole and data:
        yield Unit(data.decode("latin-1"), path), True


def _metadata_places(image: Image, needle: Needle) -> list[Place]:
    places = []
    for entry in image.history:
        for text in (entry.created_by, entry.comment or ""):
            found = needle.search(text) if text else None
            if found is not None:
                places.append(Place("history", found.form, found.found, history_index=entry.index))
                break
    for key, text in _config_texts(image.config.get("config")):
        found = needle.search(text)
        if found is not None:
            places.append(Place("config", found.form, found.found, key=key))
    return places


def _config_texts(config: object, key: str = "") -> Iterator[tuple[str, str]]:
    """Every string of the container config, with where it is (`Env[2]`, `Labels.a`)."""
    if isinstance(config, str):
        yield key, config
    elif isinstance(config, Mapping):
        for name, value in config.items():
            child = f"{key}.{name}" if key else str(name)
            if key in ("Labels", "ExposedPorts", "Volumes"):
                yield from _config_texts(str(name), child)  # a key can hold it too
            yield from _config_texts(value, child)
    elif isinstance(config, list):
        for position, value in enumerate(config):
            yield from _config_texts(value, f"{key}[{position}]")


# --- the document -----------------------------------------------------------------------------


def hunt_document(needle: Needle, results: list[ImageHunt]) -> dict[str, Any]:
    """The hunt as plain data (docs/formats.md#hunt): what matched is never in it, only
    where; instructions quoting it are redacted."""
    found = [place.found for result in results for place in result.places]

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        for secret in sorted(set(found), key=len, reverse=True):
            text = text.replace(secret, redact(secret))
        return text

    images, hits = [], []
    for result in results:
        image = result.image
        images.append(
            {
                "target": result.target,
                "reference": image.reference if image else None,
                "digest": image.digest if image else None,
                "config_digest": image.config_digest if image else None,
                "hits": len(result.places),
                "complete": result.complete,
                "error": result.error,
                "problems": result.problems,
                "skipped_over_size": result.skipped,
            }
        )
        for place in result.places:
            hits.append({"target": result.target, **_place(place, image, clean)})
    document: dict[str, Any] = printable(
        {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "tool": {"name": "layerscan", "version": __version__},
            "needle": {
                "sha256": needle.sha256,
                "given": needle.given,
                "forms": sorted({form for form, _ in needle.forms} or {"exact", "base64", "url"}),
            },
            "images": images,
            "hits": hits,
            "summary": {
                "images": len(results),
                "hits": len(hits),
                "found_in": sum(1 for result in results if result.places),
                "unreadable": sum(1 for result in results if not result.complete),
            },
        }
    )
    return document


def _place(
    place: Place, image: Image | None, clean: Callable[[str | None], str | None]
) -> dict[str, Any]:
    version = place.version
    layer_index = version.layer_index if version else None
    if place.history_index is not None and image is not None:
        layer_index = image.history[place.history_index].layer_index
    layer = image.layers[layer_index] if image is not None and layer_index is not None else None
    step = image.history[place.history_index] if image and place.history_index is not None else None
    instruction = step.instruction if step else layer.instruction if layer else None
    return {
        "source": place.source,
        "form": place.form,
        "layer": layer_index,
        "diff_id": layer.diff_id if layer else None,
        "history_index": place.history_index
        if place.history_index is not None
        else (layer.history.index if layer and layer.history else None),
        "instruction": clean(instruction),
        "path": version.display_path if version else None,
        "nested_path": place.nested_path,
        "key": place.key,
        "status": str(version.status) if version else str(Status.PRESENT),
        "removed_by": version.removed_by if version else None,
    }
