"""Bytes of one file -> the units to scan: sniff, then read it the way its kind needs.

Archives recurse through here, one level per archive, so the depth limit, the shared budget
and the nested path ("lib/inner.jar!config/x.properties") are kept in this one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from . import archives, strings, text
from .limits import DEFAULT_LIMITS, Budget, ContentLimits
from .model import Reason, Skipped, Unit
from .shard import Shard
from .sniff import ARCHIVES, Kind, sniff
from .sqlite import read_tables

StringsWanted = Callable[[bytes | memoryview], bool]
"""Says whether a binary's printable strings could hold a match (see Engine
.may_find_in_strings): pulling them out of a .pyc or an ELF costs more than that check."""


def units_of(
    path: str,
    data: bytes,
    limits: ContentLimits | None = None,
    shard: Shard | None = None,
    strings_wanted: StringsWanted | None = None,
) -> Iterator[Unit | Skipped]:
    """The units to scan in one file version (and what was skipped in it, with the reason).

    With a shard, only that share of a top-level zip's members is read (and its share of
    the byte budget); a file that is not a zip belongs wholly to shard 0.
    """
    limits = limits or DEFAULT_LIMITS
    wanted = strings_wanted or _always
    if not data:
        return
    if shard is not None and shard[0] != 0 and sniff(data) is not Kind.ZIP:
        return
    if len(data) > limits.max_file_bytes:
        yield Skipped(Reason.OVER_SIZE)
        return
    budget = Budget.start(limits)
    if shard is not None and sniff(data) is Kind.ZIP:
        budget.bytes_left //= shard[1]
        for member in archives.zip_members(data, limits, budget, shard):
            if isinstance(member, Skipped):
                yield member
            else:
                yield from _units(
                    member.data, _basename(member.name), (member.name,), limits, budget, wanted
                )
        return
    yield from _units(data, _basename(path), (), limits, budget, wanted)


def _always(_: bytes | memoryview) -> bool:
    return True


def _units(
    data: bytes,
    filename: str,
    parents: tuple[str, ...],
    limits: ContentLimits,
    budget: Budget,
    wanted: StringsWanted,
) -> Iterator[Unit | Skipped]:
    nested = "!".join(parents) or None
    kind = sniff(data)
    if kind is Kind.TEXT:
        decoded, utf8 = text.decode_keeping_utf8(data)
        yield Unit(decoded, filename, nested, utf8=utf8)
    elif kind in ARCHIVES:
        yield from _archive(kind, data, filename, parents, limits, budget, wanted)
    elif kind in _STRINGS_KINDS and not any(map(wanted, strings.strings_regions(data))):
        return  # checked whole: no provider format can match in its strings
    elif kind is Kind.ELF:
        yield from _strings(strings.elf_strings(data, limits.min_string_length), filename, nested)
    elif kind is Kind.CLASS:
        yield from _strings(strings.class_strings(data, limits.min_string_length), filename, nested)
    elif kind is Kind.PYC:
        yield from _strings(strings.pyc_strings(data, limits.min_string_length), filename, nested)
    elif kind is Kind.SQLITE:
        for table in read_tables(data, limits):
            if isinstance(table, Skipped):
                yield Skipped(table.reason, _join(parents, table.nested_path))
            else:
                yield Unit(table.text, filename, _join(parents, table.name), "rows")
    elif kind is Kind.MEDIA:
        yield Skipped(Reason.MEDIA, nested)
    elif kind is Kind.BINARY:
        yield Skipped(Reason.BINARY, nested)


def _archive(
    kind: Kind,
    data: bytes,
    filename: str,
    parents: tuple[str, ...],
    limits: ContentLimits,
    budget: Budget,
    wanted: StringsWanted,
) -> Iterator[Unit | Skipped]:
    if len(parents) >= limits.max_depth:
        yield Skipped(Reason.DEPTH, "!".join(parents) or None)
        return
    for member in archives.members(kind, data, filename, limits, budget):
        if isinstance(member, Skipped):
            yield Skipped(member.reason, _join(parents, member.nested_path))
        else:
            yield from _units(
                member.data,
                _basename(member.name),
                (*parents, member.name),
                limits,
                budget,
                wanted,
            )


_STRINGS_KINDS = frozenset({Kind.ELF, Kind.CLASS, Kind.PYC})


def _strings(found: str, filename: str, nested: str | None) -> Iterator[Unit]:
    if found:
        yield Unit(found, filename, nested, "strings")


def _join(parents: tuple[str, ...], name: str | None) -> str | None:
    if name is None:
        return "!".join(parents) or None
    return "!".join((*parents, name))


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
