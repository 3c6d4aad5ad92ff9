"""The facade of `hunt`: every place one known secret appears, across many images.

Each image is walked once, every version of every file in every layer (deleted and
overwritten ones included), each read the way a scan reads it (text, nested archives, the
strings of binaries, SQLite rows) and searched for the secret's forms (detect/known_secret.py);
a file over --max-file-size is searched as raw bytes, in pieces. Then every name (paths and
link targets), its history and its config. An image that cannot be read is reported and the
hunt goes on with the next one. Nothing is extracted and no rule has to match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..detect.known_secret import Hit, Needle
from ..errors import LayerscanError
from ..image.model import Image
from ..image.open import open_image
from ..layers.entries import Entry, EntryKind, Version
from ..layers.timeline import Timeline
from ..layers.walk import walk
from ..model.findings import Status, redact_known
from ..model.safe_text import printable
from ..model.walk_log import WalkLog
from ..version import __version__
from .options import ScanOptions

if TYPE_CHECKING:
    from ..content.limits import ContentLimits

SCHEMA_VERSION = 1
KIND = "layerscan-hunt"
MAX_SKIPPED_LISTED = 200
"""Parts not searched that one image lists (all are counted): a jar of jars can have
thousands, and a responder needs the kinds, not every one."""
_CHUNK = 1 << 20
_RAW_ONLY = "over size limit: searched as raw bytes, not unpacked"
_NOT_LISTED = frozenset({EntryKind.WHITEOUT, EntryKind.OPAQUE})


@dataclass
class Place:
    """One place the secret was found in one image."""

    source: str
    """file, path (in a name), history or config."""
    form: str
    found: str
    """The text that matched (redacted before any output)."""
    version: Version | None = None
    nested_path: str | None = None
    history_index: int | None = None
    key: str | None = None
    """config: where in it (`Env[1]`); path: `name` or `link_target`."""


@dataclass(frozen=True)
class NotSearched:
    """A part of a file the hunt could not read the way its kind needs (content limits)."""

    layer: int
    path: str
    nested_path: str | None
    reason: str


@dataclass
class ImageHunt:
    target: str
    image: Image | None = None
    places: list[Place] = field(default_factory=list)
    error: str | None = None
    """Why the image could not be opened at all."""
    problems: list[str] = field(default_factory=list)
    """What could not be read in an image that opened (a damaged layer, a refused file)."""
    skipped: list[NotSearched] = field(default_factory=list)
    """Parts not searched as their kind needs (the first MAX_SKIPPED_LISTED): a nested
    archive past a limit, an encrypted member, a file searched as raw bytes only. As in a
    scan, they leave the hunt complete; the report says which."""
    skipped_total: int = 0
    failed: bool = False
    """layerscan itself failed on it (a bug): the CLI exits 4 unless the secret was found."""
    known_secrets: list[str] = field(default_factory=list)
    """Other secrets the history holds, so that no instruction shown quotes them."""

    @property
    def complete(self) -> bool:
        return self.error is None and not self.problems

    def skip(self, entry: Entry, nested_path: str | None, reason: str) -> None:
        self.skipped_total += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(
                NotSearched(entry.layer_index, entry.display_path, nested_path, reason)
            )


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
            named: set[tuple[str, str]] = set()
            for entry in walk(image, timeline, log, options.walk_limits):
                _search_names(entry, needle, outcome, named)
                if entry.kind is not EntryKind.FILE or entry.version is None:
                    continue
                if entry.size > content.max_file_bytes:
                    outcome.skip(entry, None, _RAW_ONLY)
                    found = _search_pieces(entry.chunks(_CHUNK), needle)
                    if found is not None:
                        outcome.places.append(_file_place(found, entry.version, None))
                    continue
                _search_file(entry, entry.read(content.max_file_bytes), needle, content, outcome)
            outcome.problems += [
                f"layer {p.layer_index}" + (f" {p.path}" if p.path else "") + f": {p.message}"
                for p in log.problems
                if p.lost_content
            ]
            outcome.places += _metadata_places(image, needle)
            if outcome.places:  # only then is an instruction shown, and worth redacting
                from .inspect import history_secrets

                outcome.known_secrets = history_secrets(image)
    except LayerscanError as exc:
        outcome.error = str(exc)
    except Exception as exc:  # a bug on one image must not hide the secret in the others
        outcome.error = f"layerscan failed on this image ({type(exc).__name__}): a bug"
        outcome.failed = True
    return outcome


def _file_place(found: Hit, version: Version, nested_path: str | None) -> Place:
    return Place("file", found.form, found.found, version, nested_path)


def _search_file(
    entry: Entry, data: bytes, needle: Needle, content: ContentLimits, outcome: ImageHunt
) -> None:
    """One hit per unit that holds the secret; the raw bytes only when none did (a stored
    zip holding it is one place, not two)."""
    from ..content.dispatch import units_of
    from ..content.model import Reason, Skipped

    assert entry.version is not None
    in_file, whole = False, False
    for unit in units_of(entry.display_path, data, content):
        if isinstance(unit, Skipped):
            # A top-level binary or media file is searched below, as its raw bytes.
            if unit.nested_path is not None or unit.reason not in (Reason.BINARY, Reason.MEDIA):
                outcome.skip(entry, unit.nested_path, unit.reason)
            continue
        whole = whole or (unit.nested_path is None and unit.origin == "text")
        found = needle.search(unit.text)
        if found is not None:
            in_file = True
            outcome.places.append(_file_place(found, entry.version, unit.nested_path))
    if not whole and not in_file and data:
        # The raw bytes (a binary, an archive stored uncompressed, a zip comment).
        found = needle.search(data.decode("latin-1"))
        if found is not None:
            outcome.places.append(_file_place(found, entry.version, None))


def _search_pieces(chunks: Iterable[bytes], needle: Needle) -> Hit | None:
    """A file too large to hold, searched piece by piece: each piece with the end of the one
    before it (as long as a form can be, or the unfinished line when only the hash is known)."""
    carry = ""
    keep = needle.longest_form
    for chunk in chunks:
        text = carry + chunk.decode("latin-1")
        found = needle.search(text)
        if found is not None:
            return found
        if needle.secret is not None:
            carry = text[-(keep - 1) :] if keep > 1 else ""
        else:
            carry = text[text.rfind("\n") + 1 :][-keep:]
    return None


def _search_names(
    entry: Entry, needle: Needle, outcome: ImageHunt, named: set[tuple[str, str]]
) -> None:
    """A secret can be a name (a cache file named by its token, a link to it): each path
    and link target once per image, at the first version that had it."""
    if entry.kind in _NOT_LISTED or entry.version is None:
        return
    for key, text in (("name", entry.display_path), ("link_target", entry.link_target)):
        if not text or (key, text) in named:
            continue
        named.add((key, text))
        found = needle.search(text)
        if found is not None:
            outcome.places.append(Place("path", found.form, found.found, entry.version, key=key))


def _metadata_places(image: Image, needle: Needle) -> list[Place]:
    places = []
    for entry in image.history:
        for text in (entry.created_by, entry.comment or ""):
            found = needle.search(text) if text else None
            if found is not None:
                places.append(Place("history", found.form, found.found, history_index=entry.index))
                break
    for key, text in _config_strings(image):
        found = needle.search(text)
        if found is not None:
            places.append(Place("config", found.form, found.found, key=key))
    return places


def _config_strings(image: Image) -> Iterator[tuple[str, str]]:
    """Every string of the image config but its history (searched step by step) and its
    diff_ids: the container config by its own keys (`Env[1]`), the rest by theirs
    (`author`, `container_config.Env[1]`). The classic builder's `container_config` repeats
    the last step's config and command: a string of it already in the container config or
    in a history step says nothing new, and is left out."""
    config = image.config
    own = dict(_config_texts(config.get("config")))
    yield from own.items()
    known = set(own.values())
    steps = [entry.created_by for entry in image.history if entry.created_by]
    for name, value in config.items():
        if name in ("config", "history", "rootfs"):
            continue
        for key, text in _config_texts(value, str(name)):
            if text not in known and not any(text in step for step in steps):
                yield key, text


def _config_texts(config: object, key: str = "") -> Iterator[tuple[str, str]]:
    """Every string under one part of the config, with where it is (`Env[2]`, `Labels.a`)."""
    if isinstance(config, str):
        yield key, config
    elif isinstance(config, Mapping):
        for name, value in config.items():
            child = f"{key}.{name}" if key else str(name)
            if key.rsplit(".", 1)[-1] in ("Labels", "ExposedPorts", "Volumes"):
                yield from _config_texts(str(name), child)  # a key can hold it too
            yield from _config_texts(value, child)
    elif isinstance(config, list):
        for position, value in enumerate(config):
            yield from _config_texts(value, f"{key}[{position}]")


# --- the document -----------------------------------------------------------------------------


def hunt_document(needle: Needle, results: list[ImageHunt]) -> dict[str, Any]:
    """The hunt as plain data (docs/formats.md#hunt): what matched is never in it, only
    where; instructions quoting it (or another secret the history holds) are redacted."""
    hunted = [place.found for result in results for place in result.places]
    hunted += [encoded for _, encoded in needle.forms]

    images, hits = [], []
    for result in results:
        image = result.image
        secrets = hunted + result.known_secrets

        def clean(text: str | None, secrets: list[str] = secrets) -> str | None:
            return None if text is None else redact_known(text, secrets)

        images.append(
            {
                "target": result.target,
                "reference": image.reference if image else None,
                "digest": image.digest if image else None,
                "config_digest": image.config_digest if image else None,
                "hits": len(result.places),
                "complete": result.complete,
                "error": result.error,
                "failed": result.failed,
                "problems": result.problems,
                "skipped": [
                    {
                        "layer": part.layer,
                        "path": part.path,
                        "nested_path": part.nested_path,
                        "reason": part.reason,
                    }
                    for part in result.skipped
                ],
                "skipped_total": result.skipped_total,
            }
        )
        for place in result.places:
            hits.append(
                {
                    "target": result.target,
                    "reference": image.reference if image else None,
                    **_place(place, image, clean),
                }
            )
    document: dict[str, Any] = printable(
        {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "tool": {"name": "layerscan", "version": __version__},
            "needle": {
                "sha256": needle.sha256,
                "given": needle.given,
                "forms": sorted(
                    {form for form, _ in needle.forms} or {"exact", "base64", "base64url", "url"}
                ),
            },
            "images": images,
            "hits": hits,
            "summary": {
                "images": len(results),
                "hits": len(hits),
                "found_in": sum(1 for result in results if result.places),
                "unreadable": sum(1 for result in results if not result.complete),
                "failed": sum(1 for result in results if result.failed),
                "skipped": sum(result.skipped_total for result in results),
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
