"""Merging records of one find (DESIGN §5): one is kept, the others live on as its aliases.

Nothing is deleted. The kept find gains the others' photos by a museum revision; each other
becomes ``merged`` with ``merged_into`` the kept one; all keep every revision and audit line.
An alias row routes later pushes to a merged uuid onto the kept find (sync_push).

A pair merges its other find; a number group merges ``others`` (by default every other find
still standing in it). When every find but the kept one is merged the candidate is ``merged``
and leaves the queue; when a reviewer merged only some, it stays open with the kept find and
the rest, for the reviewer to merge further or dismiss (the finds left out were not judged
copies of the kept one). Other open pairs of a merged find move to the kept find, unless the
kept find already has a row for that pair; then they are withdrawn. A merged find leaves the
other groups it stood in, which are withdrawn when fewer than two finds remain in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from field_server.adapters.duplicate_repositories import MERGED, OPEN, WITHDRAWN
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.duplicates import canonical_pair
from field_server.domain.find_status import FindStatus, TransitionRefused, check_transition
from field_server.services.auth import now_utc
from field_server.services.duplicates import candidate_json, open_candidate
from field_server.services.errors import Forbidden, InvalidInput, NotAllowed
from field_server.services.museum_revisions import load_find, record_museum_revision


def merge_candidate(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    candidate_id: int,
    keep: str,
    reason: str | None = None,
    others: Sequence[str] | None = None,
) -> dict[str, Any]:
    if not actor.may_review():
        raise Forbidden("only a reviewer or an admin merges finds")
    with uow_factory(write=True) as uow:
        candidate = open_candidate(uow, candidate_id)
        standing = candidate.standing
        if keep not in standing:
            raise InvalidInput(
                "keep names one of the candidate's finds",
                [{"field": "keep", "message": "one of the candidate's find_uuids"}],
            )
        gone_uuids = _others(standing, keep, others)
        # lock every row in one order, so two merges never wait on each other
        loaded = {uuid: load_find(uow, uuid) for uuid in sorted({keep, *gone_uuids})}
        kept = loaded[keep]
        gone = [loaded[uuid] for uuid in gone_uuids]
        if any(find.expedition_id != kept.expedition_id for find in gone):
            raise NotAllowed("finds of different expeditions are never merged", "other_expedition")
        if kept.status in (FindStatus.MERGED, FindStatus.ACCESSIONED):
            raise NotAllowed(
                f"the find to keep is {kept.status.value}; a {kept.status.value} find takes "
                "no more merges",
                "transition_refused",
            )
        for find in gone:
            try:
                check_transition(find.status, FindStatus.MERGED)
            except TransitionRefused as refused:
                raise NotAllowed(str(refused), "transition_refused") from None

        now = now_utc()
        photos = list(kept.data.get("photos") or [])
        gained: list[str] = []
        for find in gone:
            for sha in find.data.get("photos") or []:
                if sha not in photos:
                    photos.append(sha)
                    gained.append(sha)
        kept_rev = kept.server_rev
        merged_uuids = [find.uuid for find in gone]
        detail: dict[str, Any] = {"candidate": candidate.id, "photos_added": gained}
        # one merged find is named as before; several are listed
        detail.update({"merged": merged_uuids[0]} if len(gone) == 1 else {"merged": merged_uuids})
        if gained:
            kept_rev = record_museum_revision(
                uow,
                kept,
                user_id=actor.user_id,
                now=now,
                action="find.merge_keep",
                reason=reason,
                data=dict(kept.data, photos=photos),
                detail=detail,
            )
        else:
            uow.audit.add(
                now, actor.user_id, "find.merge_keep", f"find:{kept.uuid}", detail, reason
            )
        merged = []
        for find in gone:
            rev = record_museum_revision(
                uow,
                find,
                user_id=actor.user_id,
                now=now,
                action="find.merge",
                reason=reason,
                status=FindStatus.MERGED,
                merged_into=kept.uuid,
                detail={"kept": kept.uuid, "candidate": candidate.id},
            )
            uow.aliases.add(find.uuid, kept.uuid, candidate.id, actor.user_id, now)
            merged.append({"uuid": find.uuid, "server_rev": rev})
        settled = len(standing) - len(gone) <= 1
        uow.candidates.update(
            candidate.id,
            {
                "state": MERGED if settled else OPEN,
                "kept_uuid": kept.uuid,
                "reason": reason,
                "decided_by": actor.user_id,
                "decided_at": now,
                "updated_at": now,
            },
        )
        moved = _move_candidates(uow, candidate.id, merged_uuids, kept.uuid, now)
        audit_detail: dict[str, Any] = {"kept": kept.uuid, **moved}
        audit_detail.update(
            {"merged": merged_uuids[0]} if len(gone) == 1 else {"merged": merged_uuids}
        )
        uow.audit.add(
            now,
            actor.user_id,
            "duplicates.merge",
            f"duplicate:{candidate.id}",
            audit_detail,
            reason,
        )
        decided = uow.candidates.get(candidate.id)
        uow.commit()
    assert decided is not None
    return {
        **candidate_json(decided),
        "kept": {"uuid": kept.uuid, "server_rev": kept_rev},
        "merged": merged,
        "photos_added": gained,
        **moved,
    }


def _others(standing: Sequence[str], keep: str, others: Sequence[str] | None) -> list[str]:
    """The finds to merge into ``keep``: ``others`` checked, or every other standing find."""
    if others is None:
        chosen = [uuid for uuid in standing if uuid != keep]
    else:
        chosen = list(dict.fromkeys(others))
        strangers = [uuid for uuid in chosen if uuid not in standing or uuid == keep]
        if strangers:
            raise InvalidInput(
                "others names finds of the candidate other than the one kept",
                [
                    {"field": "others", "message": f"{uuid} is not another find of the candidate"}
                    for uuid in strangers[:20]
                ],
            )
    if not chosen:
        raise InvalidInput(
            "a find cannot be merged with itself",
            [{"field": "others", "message": "at least one other find"}],
        )
    return chosen


def _move_candidates(
    uow: UnitOfWork, decided_id: int, gone_uuids: Sequence[str], kept: str, now: datetime
) -> dict[str, list[int]]:
    """Other undecided pairs of the merged finds: onto the kept find, or withdrawn; other
    groups they stood in: left, and withdrawn when fewer than two finds remain."""
    moved, withdrawn = [], []
    for gone in gone_uuids:
        others = [c for c in uow.candidates.involving([gone], groups=False) if c.id != decided_id]
        others += [
            c
            for c in uow.candidates.involving([gone], WITHDRAWN, groups=False)
            if c.id != decided_id
        ]
        for row in others:
            partner = row.find_b if row.find_a == gone else row.find_a
            assert partner is not None
            pair = canonical_pair(kept, partner)
            if partner == kept or partner in gone_uuids or uow.candidates.of_pairs([pair]):
                uow.candidates.update(row.id, {"state": WITHDRAWN, "updated_at": now})
                withdrawn.append(row.id)
            else:
                uow.candidates.update(
                    row.id, {"find_a": pair[0], "find_b": pair[1], "updated_at": now}
                )
                moved.append(row.id)
    for group_id, _number, uuid in uow.candidates.open_memberships(gone_uuids):
        if group_id == decided_id:
            continue
        uow.candidates.leave(group_id, [uuid], now)
        if uow.candidates.standing_count(group_id) < 2:
            uow.candidates.update(group_id, {"state": WITHDRAWN, "updated_at": now})
            withdrawn.append(group_id)
    return {"candidates_moved": moved, "candidates_withdrawn": sorted(set(withdrawn))}
