"""The walk: every entry of every layer, base to top, applied to the timeline as it goes.

`reader.iter_layer` reads one layer; the walk strings the layers together under the image's
budgets and replays each entry on the `Timeline`, so that by the time an entry is seen its
version knows what it replaced.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..image.model import Image
from ..model.walk_log import WalkLog
from .entries import Entry
from .reader import WalkLimits, iter_layer, layer_within_image_limits
from .timeline import Timeline


def walk(
    image: Image, timeline: Timeline, log: WalkLog, limits: WalkLimits | None = None
) -> Iterator[Entry]:
    """Every entry of every layer, base to top, each applied to the timeline before it is seen."""
    limits = limits or WalkLimits()
    for layer in image.layers:
        timeline.begin_layer(layer.index)
        if not layer_within_image_limits(layer.index, log, limits):
            continue
        for entry in iter_layer(layer, log, limits):
            timeline.apply(entry, log)
            yield entry


def replay(image: Image, limits: WalkLimits | None = None) -> tuple[Timeline, WalkLog]:
    """Walk every layer without reading file contents: the timeline alone."""
    timeline = Timeline()
    log = WalkLog()
    for _entry in walk(image, timeline, log, limits):
        continue  # walking applies each entry to the timeline; contents are not read
    return timeline, log
