"""A find's life in the museum (DESIGN §6): which status may follow which, and why not.

``synced → approved | rejected | merged → accessioned``. A reviewer may change their mind
about an approval or a rejection until the find is accessioned; a merged find lives on only
as an alias of the find it was merged into, and an accessioned one belongs to the register,
whose corrections are amendments, never a new status.
"""

from __future__ import annotations

from enum import StrEnum


class FindStatus(StrEnum):
    SYNCED = "synced"
    APPROVED = "approved"
    REJECTED = "rejected"
    MERGED = "merged"
    ACCESSIONED = "accessioned"


ALLOWED: dict[FindStatus, frozenset[FindStatus]] = {
    FindStatus.SYNCED: frozenset({FindStatus.APPROVED, FindStatus.REJECTED, FindStatus.MERGED}),
    FindStatus.APPROVED: frozenset(
        {FindStatus.ACCESSIONED, FindStatus.REJECTED, FindStatus.MERGED}
    ),
    FindStatus.REJECTED: frozenset({FindStatus.APPROVED, FindStatus.MERGED}),
    FindStatus.MERGED: frozenset(),
    FindStatus.ACCESSIONED: frozenset(),
}

# Why a move is refused, in words a reviewer or registrar can act on.
_REFUSALS: dict[tuple[FindStatus, FindStatus], str] = {
    (FindStatus.SYNCED, FindStatus.ACCESSIONED): "only an approved find can be accessioned",
    (FindStatus.REJECTED, FindStatus.ACCESSIONED): "a rejected find cannot be accessioned",
    (FindStatus.MERGED, FindStatus.ACCESSIONED): (
        "a merged find cannot be accessioned; accession the find it was merged into"
    ),
    (FindStatus.ACCESSIONED, FindStatus.ACCESSIONED): "the find is accessioned already",
    (FindStatus.ACCESSIONED, FindStatus.REJECTED): (
        "an accessioned find cannot be rejected; correct its register entry by an amendment"
    ),
    (FindStatus.APPROVED, FindStatus.APPROVED): "the find is approved already",
    (FindStatus.REJECTED, FindStatus.REJECTED): "the find is rejected already",
}


class TransitionRefused(Exception):
    """A status change the museum's rules do not allow."""

    def __init__(self, current: FindStatus, target: FindStatus) -> None:
        self.current = current
        self.target = target
        reason = _REFUSALS.get((current, target))
        if reason is None:
            if current in (FindStatus.MERGED, FindStatus.ACCESSIONED):
                reason = f"a {current.value} find cannot become {target.value}"
            else:
                reason = f"a find cannot go from {current.value} to {target.value}"
        super().__init__(reason)


def parse_status(value: str | None) -> FindStatus:
    """A stored status; finds stored before statuses existed count as synced."""
    return FindStatus(value) if value else FindStatus.SYNCED


def check_transition(current: FindStatus, target: FindStatus) -> None:
    """Raise :class:`TransitionRefused` unless ``current → target`` is allowed."""
    if target not in ALLOWED[current]:
        raise TransitionRefused(current, target)


def can_be_corrected(status: FindStatus) -> bool:
    """Field corrections go through review until accessioning; after that, amendments."""
    return status not in (FindStatus.MERGED, FindStatus.ACCESSIONED)
