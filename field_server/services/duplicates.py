"""Finding duplicate candidates and keeping the review queue (DESIGN §5).

Detection runs in two ways. After each push, only the pushed finds are compared, against their
neighbourhood: the finds filed in nearby cells of the accuracy-banded grid, plus those sharing
a find number or a photo with them (all through indexes). On demand, a whole expedition is
compared at once. Either way, the queue keeps one row per pair: an open pair is updated, a pair
a reviewer dismissed or merged is never suggested again, and an open pair that no longer
matches after its finds changed is withdrawn (and reopened should it match again).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from field_server.adapters.duplicate_repositories import (
    DISMISSED,
    MERGED,
    OPEN,
    WITHDRAWN,
    CandidateRow,
)
from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.duplicates import (
    Candidate,
    FindTraits,
    assess_pairs,
    canonical_pair,
    detect,
    grid_place,
    near_pairs,
    nearest_partners,
)
from field_server.domain.find_grid import neighbourhood_keys
from field_server.services.auth import now_utc
from field_server.services.errors import Forbidden, InvalidInput, NotAllowed, NotFound
from field_server.services.expeditions import expedition_by_code

STATES = (OPEN, MERGED, DISMISSED, WITHDRAWN)


@dataclass
class Examination:
    """Candidates found for some finds, before they are stored."""

    expedition_id: int
    examined: Collection[str] | None  # None: the whole expedition
    candidates: list[Candidate]
    stored: dict[tuple[str, str], CandidateRow]
    numbers: dict[str, str] = field(default_factory=dict)  # uuid -> find number, for words
    # Finds written after the comparison read them: their pairs stay as the push or museum
    # revision that wrote them left them (each of those compares its own finds).
    moved_on: frozenset[str] = frozenset()
    open_pairs: dict[tuple[str, str], Candidate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for candidate in self.candidates:
            if not self.moved_on.isdisjoint(candidate.find_uuids):
                continue
            row = self.stored.get(candidate.find_uuids)
            if row is None or row.state in (OPEN, WITHDRAWN):
                self.open_pairs[candidate.find_uuids] = candidate

    def open_for(self, uuid: str) -> list[Candidate]:
        return [c for pair, c in self.open_pairs.items() if uuid in pair]

    def save(self, uow: UnitOfWork, now: datetime) -> dict[str, int]:
        """Write the queue's changes; returns how many pairs were added, updated, withdrawn."""
        inserts, updates = [], []
        for pair, candidate in self.open_pairs.items():
            values = {
                "score": candidate.score,
                "rules": json.dumps(list(candidate.rules)),
                "distance_m": round(candidate.distance_m, 3),
                "state": OPEN,
                "updated_at": now,
            }
            row = self.stored.get(pair)
            if row is None:
                inserts.append(
                    {
                        "expedition_id": self.expedition_id,
                        "find_a": pair[0],
                        "find_b": pair[1],
                        "created_at": now,
                        **values,
                    }
                )
            elif (row.score, row.rules, row.distance_m, row.state) != (
                values["score"],
                candidate.rules,
                values["distance_m"],
                OPEN,
            ):
                updates.append({"candidate_id": row.id, **values})
        if self.examined is None:
            still_open = uow.candidates.of_expedition(self.expedition_id, OPEN)
        else:
            still_open = uow.candidates.involving(sorted(self.examined))
        withdrawn = [
            {"candidate_id": row.id, "state": WITHDRAWN, "updated_at": now}
            for row in still_open
            if row.pair not in self.open_pairs and self.moved_on.isdisjoint(row.pair)
        ]
        uow.candidates.insert(inserts)
        uow.candidates.update_many(updates)
        uow.candidates.update_many(withdrawn)
        return {"added": len(inserts), "updated": len(updates), "withdrawn": len(withdrawn)}


def examine_finds(uow: UnitOfWork, expedition_id: int, finds: list[FindTraits]) -> Examination:
    """Compare ``finds`` (their new state, maybe not yet stored) with their neighbourhood."""
    used = uow.traits.shelves(expedition_id)
    area: set[int] = set()
    by_context: set[int] = set()
    for find in finds:
        more_area, more_context = neighbourhood_keys(grid_place(find), used)
        area |= more_area
        by_context |= more_context
    around = {f.uuid: f for f in uow.traits.in_cells(expedition_id, area, by_context)}
    for find in uow.traits.with_numbers_or_photos(
        expedition_id,
        (f.find_number for f in finds),
        (sha for f in finds for sha in f.photos),
    ):
        around[find.uuid] = find
    around.update({f.uuid: f for f in finds})
    focus = {f.uuid for f in finds}
    candidates = detect(list(around.values()), focus=focus)
    stored = uow.candidates.of_pairs(c.find_uuids for c in candidates)
    numbers = {f.uuid: f.find_number for f in around.values()}
    return Examination(expedition_id, focus, candidates, stored, numbers)


def candidate_flags(examination: Examination, uuid: str) -> list[dict[str, Any]]:
    """The push answer's ``duplicate_candidate`` flags of one pushed find."""
    flags = []
    for candidate in examination.open_for(uuid):
        other = (
            candidate.find_uuids[1] if candidate.find_uuids[0] == uuid else candidate.find_uuids[0]
        )
        label = examination.numbers.get(other, other)
        flags.append(
            {
                "code": "duplicate_candidate",
                "detail": f"may be the same find as {label} (score {candidate.score:.2f}: "
                f"{', '.join(candidate.rules)})",
                "other_uuid": other,
                "distance_m": round(candidate.distance_m, 3),
                "score": candidate.score,
            }
        )
    return flags


@dataclass(frozen=True)
class DetectionReport:
    expedition_code: str
    finds: int
    open: int
    added: int
    updated: int
    withdrawn: int


def detect_expedition(
    uow_factory: UnitOfWorkFactory, actor: Actor | None, code: str
) -> DetectionReport:
    """Compare every live find of an expedition. ``actor`` None is the server's own CLI."""
    # Read and compared outside the writers' lock, which pushes wait for: on a large
    # expedition that takes a second or more. The queue is then written in a short write
    # transaction, leaving alone the pairs of finds written in between (see Examination).
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
        if actor is not None and not actor.may_review():
            raise Forbidden("only a reviewer or an admin runs duplicate detection")
        read_at = uow.changes.committed_value()
        uuids, columns = uow.traits.near_columns(expedition.id)
        near_i, near_j = nearest_partners(columns, *near_pairs(columns))
        del columns
        pairs = uow.traits.sharing_pairs(expedition.id)
        pairs.update(
            canonical_pair(uuids[i], uuids[j])
            for i, j in zip(near_i.tolist(), near_j.tolist(), strict=True)
        )
        finds = uow.traits.of_uuids(u for pair in pairs for u in pair)
    # a find merged between two of the reads above is no longer there to compare
    candidates = assess_pairs(finds, (p for p in pairs if p[0] in finds and p[1] in finds))
    with uow_factory(write=True) as uow:
        moved_on = uow.traits.changed_since(expedition.id, read_at)
        stored = uow.candidates.of_pairs(c.find_uuids for c in candidates)
        examination = Examination(expedition.id, None, candidates, stored, moved_on=moved_on)
        now = now_utc()
        counts = examination.save(uow, now)
        uow.audit.add(
            now,
            actor.user_id if actor else None,
            "duplicates.detect",
            f"expedition:{code}",
            {"finds": len(uuids), **counts},
        )
        uow.commit()
    return DetectionReport(code, len(uuids), len(examination.open_pairs), **counts)


def list_candidates(
    uow_factory: UnitOfWorkFactory, actor: Actor, code: str, state: str | None
) -> list[dict[str, Any]]:
    if state is not None and state not in (*STATES, "all"):
        raise InvalidInput(
            f"state is one of {', '.join(STATES)} or all",
            [{"field": "state", "message": f"one of {', '.join(STATES)}, all"}],
        )
    with uow_factory() as uow:
        _, rows = candidates_for_review(
            uow, actor, code, None if state == "all" else (state or OPEN)
        )
    return [candidate_json(row) for row in rows]


def candidates_for_review(
    uow: UnitOfWork, actor: Actor, code: str, state: str | None
) -> tuple[ExpeditionRow, list[CandidateRow]]:
    """The expedition ``code`` and its candidates in ``state`` (None: every state), strongest
    first; the queue is the reviewers' alone."""
    expedition = expedition_by_code(uow, code)
    if not actor.may_review():
        raise Forbidden("only a reviewer or an admin reads the duplicate queue")
    return expedition, uow.candidates.of_expedition(expedition.id, state)


def candidate_json(row: CandidateRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "find_uuids": [row.find_a, row.find_b],
        "score": row.score,
        "rules": list(row.rules),
        "distance_m": row.distance_m,
        "state": row.state,
        "kept_uuid": row.kept_uuid,
        "reason": row.reason,
    }


def dismiss_candidate(
    uow_factory: UnitOfWorkFactory, actor: Actor, candidate_id: int, reason: str | None
) -> dict[str, Any]:
    if not actor.may_review():
        raise Forbidden("only a reviewer or an admin dismisses duplicate candidates")
    with uow_factory(write=True) as uow:
        row = open_candidate(uow, candidate_id)
        now = now_utc()
        uow.candidates.update(
            row.id,
            {
                "state": DISMISSED,
                "reason": reason,
                "decided_by": actor.user_id,
                "decided_at": now,
                "updated_at": now,
            },
        )
        uow.audit.add(
            now,
            actor.user_id,
            "duplicates.dismiss",
            f"duplicate:{row.id}",
            {"find_uuids": list(row.pair), "score": row.score, "rules": list(row.rules)},
            reason,
        )
        stored = uow.candidates.get(row.id)
        uow.commit()
    assert stored is not None
    return candidate_json(stored)


def open_candidate(uow: UnitOfWork, candidate_id: int) -> CandidateRow:
    """The candidate, locked, when it still waits for a decision."""
    row = uow.candidates.get(candidate_id, lock=True)
    if row is None:
        raise NotFound(f"no duplicate candidate {candidate_id}")
    if row.state not in (OPEN, WITHDRAWN):
        raise NotAllowed(
            f"duplicate candidate {candidate_id} is {row.state} already", "already_decided"
        )
    return row
