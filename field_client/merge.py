"""Three-way merge of a local edit with the server's revision, and how a conflict is resolved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Side = Literal["mine", "theirs"]
SIDES: tuple[Side, ...] = ("mine", "theirs")


@dataclass(frozen=True)
class Merge:
    """``merged`` holds every field both sides agree on or only one side changed; ``clashes``
    are the fields both changed differently, where ``merged`` holds the server's value."""

    merged: dict[str, Any]
    clashes: tuple[str, ...]


def three_way(
    base: Mapping[str, Any] | None, mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> Merge:
    """Field by field, the same table the server applies (DESIGN §4):

    | mine vs base | theirs vs base | result        |
    |--------------|----------------|---------------|
    | same         | any            | theirs        |
    | changed      | same           | mine          |
    | changed      | changed, equal | that value    |
    | changed      | changed, other | clash         |

    A field is taken whole (a position is one measurement). ``base`` None means the revision
    both started from is unknown: every field that differs then clashes.
    """
    merged: dict[str, Any] = {}
    clashes: list[str] = []
    names = list(dict.fromkeys([*theirs, *mine, *(base or {})]))
    for name in names:
        m, t = mine.get(name), theirs.get(name)
        if m == t:
            merged[name] = t
            continue
        if base is not None:
            b = base.get(name)
            if m == b:
                merged[name] = t
                continue
            if t == b:
                merged[name] = m
                continue
        clashes.append(name)
        merged[name] = t
    return Merge(merged, tuple(clashes))


class ResolutionError(ValueError):
    """A resolution that leaves a clashing field undecided or names a field that does not clash."""


def resolve(
    base: Mapping[str, Any] | None,
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    keep: Side | None = None,
    fields: Mapping[str, Side] | None = None,
) -> dict[str, Any]:
    """The resolved version: the three-way merge, with each clashing field taken from the side
    chosen for it in ``fields``, or from ``keep`` for every clash not named there.

    Changes only one side made are kept either way: "keep mine" settles the clashes in my
    favour, it does not undo what the other side changed in fields I never touched.
    """
    choices = dict(fields or {})
    outcome = three_way(base, mine, theirs)
    strangers = sorted(set(choices) - set(outcome.clashes))
    if strangers:
        raise ResolutionError(
            f"not a conflicting field: {', '.join(strangers)} "
            f"(conflicting: {', '.join(outcome.clashes) or 'none'})"
        )
    undecided = [name for name in outcome.clashes if name not in choices and keep is None]
    if undecided:
        raise ResolutionError(f"choose mine or theirs for: {', '.join(undecided)}")
    resolved = dict(outcome.merged)
    for name in outcome.clashes:
        side = choices.get(name, keep)
        resolved[name] = mine.get(name) if side == "mine" else theirs.get(name)
    return resolved
