"""Three-way, field-by-field merge of a device's edit against the server's current revision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Pick(Enum):
    """Whose value one field takes in a three-way merge."""

    THEIRS = "theirs"  # mine left the field as it was, or made the same change
    MINE = "mine"  # only mine changed it
    CLASH = "clash"  # both changed it, differently


def pick(base: Any, mine: Any, theirs: Any) -> Pick:
    """The rule of :func:`three_way_merge` for one field's three values."""
    if mine in (theirs, base):
        return Pick.THEIRS
    if theirs == base:
        return Pick.MINE
    return Pick.CLASH


@dataclass(frozen=True)
class MergeOutcome:
    """``merged`` is None when at least one field conflicts; the server then keeps its own."""

    merged: dict[str, Any] | None
    conflicting_fields: tuple[str, ...]
    taken_from_device: tuple[str, ...]


def three_way_merge(
    base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> MergeOutcome:
    """Merge ``mine`` (the device's edit) and ``theirs`` (the server now), both made from ``base``.

    A field is taken whole: a position or a photo list is one observation, and splicing half of
    one side's position into the other's would invent a point nobody measured.

    | device vs base | server vs base | result            |
    |----------------|----------------|-------------------|
    | same           | same           | base              |
    | changed        | same           | device's value    |
    | same           | changed        | server's value    |
    | changed        | changed, equal | that value        |
    | changed        | changed, other | conflict          |
    """
    merged: dict[str, Any] = {}
    conflicting: list[str] = []
    from_device: list[str] = []
    for name in sorted(set(base) | set(mine) | set(theirs)):
        m, t = mine.get(name), theirs.get(name)
        side = pick(base.get(name), m, t)
        if side is Pick.MINE:
            merged[name] = m
            from_device.append(name)
        else:
            if side is Pick.CLASH:
                conflicting.append(name)
            merged[name] = t
    if conflicting:
        return MergeOutcome(None, tuple(conflicting), tuple(from_device))
    return MergeOutcome(merged, (), tuple(from_device))
