"""The walk: every entry of every layer, base to top, applied to the timeline as it goes.

`reader.iter_layer` reads one layer; the walk strings the layers together under the image's
budgets and replays each entry on the `Timeline`, so that by the time an entry is seen its
version knows what it replaced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from ..image.model import Image
from ..model.walk_log import LayerCheck, LayerProblem, WalkLog
from .entries import Entry
from .reader import WalkLimits, iter_layer, layer_within_image_limits
from .timeline import Timeline


def walk(
    image: Image, timeline: Timeline, log: WalkLog, limits: WalkLimits | None = None
) -> Iterator[Entry]:
    """Every entry of every layer, base to top, each applied to the timeline before it is seen.

    A layer whose blob an earlier layer already read (the same archive member or layout blob)
    is not read again: the earlier layer's entries are replayed as its own (their contents
    cannot be read then), so a manifest that lists one layer thousands of times costs one read.
    """
    limits = limits or WalkLimits()
    keys = Counter(layer.blob_key for layer in image.layers if layer.blob_key)
    recorded: dict[str, tuple[list[Entry], list[LayerProblem], LayerCheck | None]] = {}
    for layer in image.layers:
        timeline.begin_layer(layer.index)
        if not layer_within_image_limits(layer.index, log, limits):
            continue
        key = layer.blob_key
        if key is not None and key in recorded:
            yield from _replayed(layer.index, recorded[key], timeline, log)
            continue
        keep = key is not None and keys[key] > 1
        entries: list[Entry] = []
        problems_before = len(log.problems)
        for entry in iter_layer(layer, log, limits):
            timeline.apply(entry, log)
            if keep:  # without its reader: a kept entry must not hold the layer's stream
                entries.append(
                    replace(entry, version=None, stored_at=None, _reader=None, _chunks=None)
                )
            yield entry
        if keep and key is not None:
            problems = log.problems[problems_before:]
            recorded[key] = (entries, problems, log.checks.get(layer.index))


def _replayed(
    index: int,
    first: tuple[list[Entry], list[LayerProblem], LayerCheck | None],
    timeline: Timeline,
    log: WalkLog,
) -> Iterator[Entry]:
    entries, problems, check = first
    log.problems.extend(replace(problem, layer_index=index) for problem in problems)
    if check is not None:
        log.checks[index] = check
    for original in entries:
        log.entries += 1
        entry = replace(original, layer_index=index)
        timeline.apply(entry, log)
        yield entry


def replay(image: Image, limits: WalkLimits | None = None) -> tuple[Timeline, WalkLog]:
    """Walk every layer without reading file contents: the timeline alone."""
    timeline = Timeline()
    log = WalkLog()
    for _entry in walk(image, timeline, log, limits):
        continue  # walking applies each entry to the timeline; contents are not read
    return timeline, log
