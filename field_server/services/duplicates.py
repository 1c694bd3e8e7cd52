"""Finding duplicate candidates and keeping the review queue (DESIGN §5).

Detection runs in two ways. After each push, only the pushed finds are compared, against their
neighbourhood: the finds filed in nearby cells of the accuracy-banded grid, plus the first few
finds naming one of their photos (all through indexes). On demand, a whole expedition is
compared at once. Either way, the queue keeps one row per pair: an open pair is updated, a pair
a reviewer dismissed or merged is never suggested again, and an open pair that no longer
matches after its finds changed is withdrawn (and reopened should it match again).

Finds that share a number are one row, their number's group (domain ``number_group_change``
says what becomes of it). A push reads of a number only its open group, or, when it has none,
the finds carrying the number (their uuids, once per group opened): a find joining a group of
a thousand costs what joining a group of two does, and nothing is compared pair by pair.
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
    NUMBER_GROUP_RULES,
    SAME_FIND_NUMBER,
    Candidate,
    FindTraits,
    GroupChange,
    assess_pairs,
    canonical_pair,
    detect,
    grid_place,
    near_pairs,
    nearest_partners,
    number_group_change,
)
from field_server.domain.find_grid import neighbourhood_keys
from field_server.services.auth import now_utc
from field_server.services.errors import Forbidden, InvalidInput, NotAllowed, NotFound
from field_server.services.expeditions import expedition_by_code

STATES = (OPEN, MERGED, DISMISSED, WITHDRAWN)
PAGE_DEFAULT = 50
PAGE_MOST = 500


@dataclass(frozen=True)
class NumberGroup:
    """One number's change in the queue: ``candidate_id`` is its open group (None: none)."""

    number: str
    candidate_id: int | None
    change: GroupChange


@dataclass(frozen=True)
class GroupFlag:
    """What a pushed find's flag says of its number's group."""

    number: str
    other_uuid: str
    others: int


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
    groups: list[NumberGroup] = field(default_factory=list)
    group_flags: dict[str, GroupFlag] = field(default_factory=dict)

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
        """Write the queue's changes; returns how many candidates were added, updated,
        withdrawn."""
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
            still_open = [
                row
                for row in uow.candidates.of_expedition(self.expedition_id, OPEN)
                if not row.is_group
            ]
        else:
            still_open = uow.candidates.involving(sorted(self.examined), groups=False)
        withdrawn = [
            {"candidate_id": row.id, "state": WITHDRAWN, "updated_at": now}
            for row in still_open
            if row.pair not in self.open_pairs and self.moved_on.isdisjoint(row.pair)
        ]
        uow.candidates.insert(inserts)
        uow.candidates.update_many(updates)
        uow.candidates.update_many(withdrawn)
        counts = {"added": len(inserts), "updated": len(updates), "withdrawn": len(withdrawn)}
        for group in self.groups:
            _save_group(uow, self.expedition_id, group, now, counts)
        return counts


def _save_group(
    uow: UnitOfWork, expedition_id: int, group: NumberGroup, now: datetime, counts: dict[str, int]
) -> None:
    change = group.change
    if change.opened:
        uow.candidates.open_group(
            expedition_id, group.number, change.opened, SAME_FIND_NUMBER, NUMBER_GROUP_RULES, now
        )
        counts["added"] += 1
        return
    if group.candidate_id is None or not (change.joined or change.left):
        return
    uow.candidates.join(group.candidate_id, change.joined, now)
    uow.candidates.leave(group.candidate_id, change.left, now)
    # a push knows only its own finds: whether two remain is counted, not assumed
    if change.withdrawn or (change.left and uow.candidates.standing_count(group.candidate_id) < 2):
        uow.candidates.update(group.candidate_id, {"state": WITHDRAWN, "updated_at": now})
        counts["withdrawn"] += 1
    else:
        uow.candidates.update(group.candidate_id, {"updated_at": now})
        counts["updated"] += 1


def examine_finds(uow: UnitOfWork, expedition_id: int, finds: list[FindTraits]) -> Examination:
    """Compare ``finds`` (their new state, maybe not yet stored) with their neighbourhood, and
    place them in their numbers' groups."""
    used = uow.traits.shelves(expedition_id)
    area: set[int] = set()
    by_context: set[int] = set()
    for find in finds:
        more_area, more_context = neighbourhood_keys(grid_place(find), used)
        area |= more_area
        by_context |= more_context
    around = {f.uuid: f for f in uow.traits.in_cells(expedition_id, area, by_context)}
    for find in uow.traits.sharing_photos(expedition_id, (sha for f in finds for sha in f.photos)):
        around[find.uuid] = find
    around.update({f.uuid: f for f in finds})
    focus = {f.uuid for f in finds}
    candidates = detect(list(around.values()), focus=focus)
    stored = uow.candidates.of_pairs(c.find_uuids for c in candidates)
    numbers = {f.uuid: f.find_number for f in around.values()}
    examination = Examination(expedition_id, focus, candidates, stored, numbers)
    _place_in_groups(uow, examination, finds)
    return examination


def _place_in_groups(uow: UnitOfWork, examination: Examination, finds: list[FindTraits]) -> None:
    """The number groups the pushed finds join, open or leave, reading no more of a group
    than it must (see the module's docstring)."""
    expedition_id = examination.expedition_id
    number_of = {f.uuid: f.find_number for f in finds}
    # saved after the joins: a find of the batch joining a group another one leaves keeps it open
    leaving = [
        NumberGroup(number, candidate_id, GroupChange(left=(uuid,)))
        for candidate_id, number, uuid in uow.candidates.open_memberships(number_of)
        if number_of[uuid] != number
    ]
    pushed: dict[str, list[str]] = {}
    for uuid, number in number_of.items():
        pushed.setdefault(number, []).append(uuid)
    groups = uow.candidates.groups_of_numbers(expedition_id, pushed)
    unsettled = []
    for number, uuids in sorted(pushed.items()):
        opened, settled = groups.get(number, (None, None))
        if opened is not None:
            members = uow.candidates.is_member(opened.id, uuids)
            newcomers = tuple(sorted(set(uuids) - members))
            total = uow.candidates.standing_count(opened.id) + len(newcomers)
            first = uow.candidates.first_standing(opened.id, other_than=uuids[0])
            examination.groups.append(NumberGroup(number, opened.id, GroupChange(joined=newcomers)))
            for uuid in uuids:
                other = first if first is not None and first != uuid else None
                other = other or next((u for u in uuids if u != uuid), None)
                if other is not None and total >= 2:
                    examination.group_flags[uuid] = GroupFlag(number, other, total - 1)
        elif settled is None or not set(uuids) <= uow.candidates.is_member(settled.id, uuids):
            unsettled.append(number)
    stored = uow.traits.number_holders(expedition_id, unsettled)
    for number in unsettled:
        # the records still hold the pushed finds' old numbers: theirs come from the push
        holders = {u for u in stored.get(number, ()) if u not in number_of}
        holders.update(pushed[number])
        _opened, settled = groups.get(number, (None, None))
        decided = None if settled is None else uow.candidates.is_member(settled.id, holders)
        change = number_group_change(holders, None, decided)
        if not change.opened:
            continue
        examination.groups.append(NumberGroup(number, None, change))
        for uuid in pushed[number]:
            other = next(u for u in change.opened if u != uuid)
            examination.group_flags[uuid] = GroupFlag(number, other, len(change.opened) - 1)
    examination.groups.extend(leaving)


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
    group = examination.group_flags.get(uuid)
    if group is not None:
        others = "1 other find" if group.others == 1 else f"{group.others} other finds"
        flags.append(
            {
                "code": "duplicate_candidate",
                "detail": f"find number {group.number} is carried by {others} too "
                f"(score {SAME_FIND_NUMBER:.2f}: same_find_number)",
                "other_uuid": group.other_uuid,
                "score": SAME_FIND_NUMBER,
                "find_number": group.number,
                "others": group.others,
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
        shared = uow.traits.shared_numbers(expedition.id)
    # a find merged between two of the reads above is no longer there to compare
    candidates = assess_pairs(finds, (p for p in pairs if p[0] in finds and p[1] in finds))
    with uow_factory(write=True) as uow:
        moved_on = uow.traits.changed_since(expedition.id, read_at)
        stored = uow.candidates.of_pairs(c.find_uuids for c in candidates)
        examination = Examination(expedition.id, None, candidates, stored, moved_on=moved_on)
        examination.groups = _number_groups(uow, expedition.id, shared, moved_on)
        now = now_utc()
        counts = examination.save(uow, now)
        open_now = uow.candidates.count(expedition.id, OPEN)
        uow.audit.add(
            now,
            actor.user_id if actor else None,
            "duplicates.detect",
            f"expedition:{code}",
            {"finds": len(uuids), **counts},
        )
        uow.commit()
    return DetectionReport(code, len(uuids), open_now, **counts)


def _number_groups(
    uow: UnitOfWork, expedition_id: int, shared: dict[str, list[str]], moved_on: frozenset[str]
) -> list[NumberGroup]:
    """Every number's group brought up to date with the finds carrying it (``shared``: the
    numbers two or more live finds carry, as read before the write began)."""
    opened = {
        row.find_number: row
        for row in uow.candidates.of_expedition(expedition_id, OPEN)
        if row.find_number is not None
    }
    numbers = sorted(set(shared) | set(opened))
    latest = uow.candidates.groups_of_numbers(expedition_id, numbers)
    groups = []
    for number in numbers:
        holders = shared.get(number, [])
        row = opened.get(number)
        settled = latest.get(number, (None, None))[1]
        decided = None
        if row is None and settled is not None:
            decided = uow.candidates.is_member(settled.id, holders)
        change = number_group_change(
            holders, None if row is None else row.standing, decided, moved_on
        )
        if change != GroupChange():
            groups.append(NumberGroup(number, None if row is None else row.id, change))
    return groups


def list_candidates(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    code: str,
    state: str | None,
    limit: str | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    """A page of the queue, strongest first: ``{candidates, next}``, ``next`` the ``after``
    of the following page or None on the last."""
    if state is not None and state not in (*STATES, "all"):
        raise InvalidInput(
            f"state is one of {', '.join(STATES)} or all",
            [{"field": "state", "message": f"one of {', '.join(STATES)}, all"}],
        )
    size = _page_size(limit)
    start = None if after is None else _page_start(after)
    with uow_factory() as uow:
        expedition = expedition_by_code(uow, code)
        if not actor.may_review():
            raise Forbidden("only a reviewer or an admin reads the duplicate queue")
        wanted = None if state == "all" else (state or OPEN)
        rows, following = uow.candidates.page(expedition.id, wanted, size, start)
    return {
        "candidates": [candidate_json(row) for row in rows],
        "next": None if following is None else page_token(following),
    }


def page_token(start: tuple[float, int]) -> str:
    """Where a page starts, as ``after`` carries it: the score and id the last page ended on."""
    return f"{start[0]!r}:{start[1]}"


def _page_start(after: str) -> tuple[float, int]:
    score, _, last = after.partition(":")
    try:
        start = (float(score), int(last))
    except ValueError:
        start = None
    if start is None or not (0.0 <= start[0] <= 1.0) or not (0 < start[1] < 2**53):
        raise InvalidInput(
            "after is the next of a previous page",
            [{"field": "after", "message": "the next of a previous page"}],
        )
    return start


def _page_size(limit: str | None) -> int:
    if limit is None or limit == "":
        return PAGE_DEFAULT
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= PAGE_MOST:
        raise InvalidInput(
            f"limit is a whole number from 1 to {PAGE_MOST}",
            [{"field": "limit", "message": f"1 to {PAGE_MOST}"}],
        )
    return int(limit)


def candidates_for_review(
    uow: UnitOfWork,
    actor: Actor,
    code: str,
    state: str | None,
    limit: int = PAGE_DEFAULT,
    after: str | None = None,
) -> tuple[ExpeditionRow, list[CandidateRow], str | None]:
    """The expedition ``code``, a page of its candidates in ``state`` (None: every state),
    strongest first, and the ``after`` of the next page; the queue is the reviewers' alone."""
    expedition = expedition_by_code(uow, code)
    if not actor.may_review():
        raise Forbidden("only a reviewer or an admin reads the duplicate queue")
    start = None if after is None else _page_start(after)
    rows, following = uow.candidates.page(expedition.id, state, limit, start)
    return expedition, rows, None if following is None else page_token(following)


def candidate_json(row: CandidateRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "find_uuids": list(row.find_uuids),
        "find_number": row.find_number,
        "score": row.score,
        "rules": list(row.rules),
        "distance_m": row.distance_m,
        "state": row.state,
        "kept_uuid": row.kept_uuid,
        "merged_uuids": list(row.merged_uuids),
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
            {"find_uuids": list(row.standing), "score": row.score, "rules": list(row.rules)},
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
