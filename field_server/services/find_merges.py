"""Merging two records of one find (DESIGN §5): one is kept, the other lives on as its alias.

Nothing is deleted. The kept find gains the other's photos by a museum revision; the other
becomes ``merged`` with ``merged_into`` by another; both keep every revision and audit line.
An alias row routes later pushes to the merged uuid onto the kept find (sync_push). Other open
candidates of the merged find move to the kept find, unless the kept find already has a row
for that pair; then they are withdrawn.
"""

from __future__ import annotations

from typing import Any

from field_server.adapters.duplicate_repositories import MERGED, WITHDRAWN
from field_server.adapters.unit_of_work import UnitOfWorkFactory
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
) -> dict[str, Any]:
    if not actor.may_review():
        raise Forbidden("only a reviewer or an admin merges finds")
    with uow_factory(write=True) as uow:
        candidate = open_candidate(uow, candidate_id)
        if keep not in candidate.pair:
            raise InvalidInput(
                "keep names one of the candidate's two finds",
                [{"field": "keep", "message": f"one of {', '.join(candidate.pair)}"}],
            )
        gone_uuid = candidate.find_b if keep == candidate.find_a else candidate.find_a
        if gone_uuid == keep:
            raise InvalidInput(
                "a find cannot be merged with itself",
                [{"field": "keep", "message": "the other find"}],
            )
        # lock both rows in one order, so two merges never wait on each other
        first, second = sorted((keep, gone_uuid))
        loaded = {first: load_find(uow, first), second: load_find(uow, second)}
        kept, gone = loaded[keep], loaded[gone_uuid]
        if kept.expedition_id != gone.expedition_id:
            raise NotAllowed("finds of different expeditions are never merged", "other_expedition")
        if kept.status in (FindStatus.MERGED, FindStatus.ACCESSIONED):
            raise NotAllowed(
                f"the find to keep is {kept.status.value}; a {kept.status.value} find takes "
                "no more merges",
                "transition_refused",
            )
        try:
            check_transition(gone.status, FindStatus.MERGED)
        except TransitionRefused as refused:
            raise NotAllowed(str(refused), "transition_refused") from None

        now = now_utc()
        gained = [
            sha
            for sha in gone.data.get("photos") or []
            if sha not in (kept.data.get("photos") or [])
        ]
        kept_rev = kept.server_rev
        detail = {"merged": gone.uuid, "candidate": candidate.id, "photos_added": gained}
        if gained:
            data = dict(kept.data, photos=[*(kept.data.get("photos") or []), *gained])
            kept_rev = record_museum_revision(
                uow,
                kept,
                user_id=actor.user_id,
                now=now,
                action="find.merge_keep",
                reason=reason,
                data=data,
                detail=detail,
            )
        else:
            uow.audit.add(
                now, actor.user_id, "find.merge_keep", f"find:{kept.uuid}", detail, reason
            )
        gone_rev = record_museum_revision(
            uow,
            gone,
            user_id=actor.user_id,
            now=now,
            action="find.merge",
            reason=reason,
            status=FindStatus.MERGED,
            merged_into=kept.uuid,
            detail={"kept": kept.uuid, "candidate": candidate.id},
        )
        uow.aliases.add(gone.uuid, kept.uuid, candidate.id, actor.user_id, now)
        uow.candidates.update(
            candidate.id,
            {
                "state": MERGED,
                "kept_uuid": kept.uuid,
                "reason": reason,
                "decided_by": actor.user_id,
                "decided_at": now,
                "updated_at": now,
            },
        )
        moved = _move_candidates(uow, candidate.id, gone.uuid, kept.uuid, now)
        uow.audit.add(
            now,
            actor.user_id,
            "duplicates.merge",
            f"duplicate:{candidate.id}",
            {"kept": kept.uuid, "merged": gone.uuid, **moved},
            reason,
        )
        decided = uow.candidates.get(candidate.id)
        uow.commit()
    assert decided is not None
    return {
        **candidate_json(decided),
        "kept": {"uuid": kept.uuid, "server_rev": kept_rev},
        "merged": {"uuid": gone.uuid, "server_rev": gone_rev},
        "photos_added": gained,
        **moved,
    }


def _move_candidates(
    uow: Any, decided_id: int, gone: str, kept: str, now: Any
) -> dict[str, list[int]]:
    """Other undecided candidates of the merged find: onto the kept find, or withdrawn."""
    others = [c for c in uow.candidates.involving([gone]) if c.id != decided_id]
    others += [c for c in uow.candidates.involving([gone], WITHDRAWN) if c.id != decided_id]
    moved, withdrawn = [], []
    for row in others:
        partner = row.find_b if row.find_a == gone else row.find_a
        pair = canonical_pair(kept, partner)
        if partner == kept or uow.candidates.of_pairs([pair]):
            uow.candidates.update(row.id, {"state": WITHDRAWN, "updated_at": now})
            withdrawn.append(row.id)
        else:
            uow.candidates.update(row.id, {"find_a": pair[0], "find_b": pair[1], "updated_at": now})
            moved.append(row.id)
    return {"candidates_moved": moved, "candidates_withdrawn": withdrawn}
