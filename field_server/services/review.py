"""The history department's review of one find (DESIGN §6): approve or reject, correct fields,
settle conflicting revisions, and read everything about the find.

Every change is a museum revision (field_server.services.museum_revisions), so devices pull it
and the audit log says who, when, what and why. A form that was filled in on an older revision
gets 409 ``stale`` (``expected_rev``, or ``If-Match`` at the API) instead of overwriting a
change its author never saw.
"""

from __future__ import annotations

import json
from typing import Any

from field_core.validation import validate_record_data
from field_server.adapters.repositories import as_utc
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.conflict_resolution import Resolution, ResolutionRefused, settle
from field_server.domain.find_status import (
    FindStatus,
    TransitionRefused,
    can_be_corrected,
    check_transition,
)
from field_server.services.auth import now_utc
from field_server.services.duplicates import candidate_json
from field_server.services.errors import Forbidden, InvalidInput, NotAllowed, NotFound
from field_server.services.museum_revisions import StoredFind, load_find, record_museum_revision

DECISIONS = {"approve": FindStatus.APPROVED, "reject": FindStatus.REJECTED}
# a correction never moves a find to another expedition or survey
FIXED_FIELDS = frozenset({"expedition_code", "survey_uuid"})


def _check_fresh(find: StoredFind, expected_rev: int | None) -> None:
    if expected_rev is not None and expected_rev != find.server_rev:
        raise NotAllowed(
            f"the find is at revision {find.server_rev}, not {expected_rev}: reload it and "
            "decide again",
            "stale",
        )


def review_find(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    uuid: str,
    decision: str,
    reason: str | None,
    expected_rev: int | None = None,
) -> dict[str, Any]:
    return review_finds(uow_factory, actor, [(uuid, expected_rev)], decision, reason)[0]


def review_finds(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    finds: list[tuple[str, int | None]],
    decision: str,
    reason: str | None,
) -> list[dict[str, Any]]:
    """One decision on several finds (uuid, expected_rev), all in one transaction: a stale or
    refused find refuses the whole decision, so a half-applied selection never happens."""
    if not actor.may_review():
        raise Forbidden("only a reviewer or an admin reviews finds")
    target = DECISIONS[decision]
    if target is FindStatus.REJECTED and not (reason and reason.strip()):
        raise InvalidInput(
            "a rejection needs a reason", [{"field": "reason", "message": "required to reject"}]
        )
    if not finds:
        raise InvalidInput("choose at least one find", [{"field": "finds", "message": "empty"}])
    results = []
    with uow_factory(write=True) as uow:
        now = now_utc()
        # rows locked in one order, so two reviewers' selections never wait on each other
        for uuid, expected_rev in sorted(set(finds)):
            find = load_find(uow, uuid)
            _check_fresh(find, expected_rev)
            try:
                check_transition(find.status, target)
            except TransitionRefused as refused:
                raise NotAllowed(
                    f"{find.find_number or uuid}: {refused}", "transition_refused"
                ) from None
            rev = record_museum_revision(
                uow,
                find,
                user_id=actor.user_id,
                now=now,
                action="find.review",
                reason=reason,
                status=target,
                detail={"decision": decision},
            )
            results.append({"uuid": uuid, "status": target.value, "server_rev": rev})
        uow.commit()
    order = {uuid: index for index, (uuid, _) in enumerate(finds)}
    return sorted(results, key=lambda r: order[r["uuid"]])


def correct_find(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    uuid: str,
    fields: dict[str, Any],
    reason: str,
    expected_rev: int | None = None,
) -> dict[str, Any]:
    """Replace some of a find's data fields (``None`` clears an optional one)."""
    if not actor.may_review():
        raise Forbidden("only a reviewer or an admin corrects finds")
    if not fields:
        raise InvalidInput(
            "name at least one field to correct", [{"field": "", "message": "no fields"}]
        )
    with uow_factory(write=True) as uow:
        find = load_find(uow, uuid)
        _check_fresh(find, expected_rev)
        if not can_be_corrected(find.status):
            raise NotAllowed(
                f"a {find.status.value} find is not corrected here"
                + ("; amend its register entry" if find.status is FindStatus.ACCESSIONED else ""),
                "transition_refused",
            )
        errors = [
            {"field": name, "message": "not a field of a find"}
            for name in sorted(fields)
            if name not in find.data
        ]
        errors += [
            {"field": name, "message": "fixed by the field record; not corrected"}
            for name in sorted(set(fields) & FIXED_FIELDS)
        ]
        if errors:
            raise InvalidInput("the correction names fields a find cannot change", errors)
        data, problems = validate_record_data("find", {**find.data, **fields})
        if data is None:
            raise InvalidInput("the corrected find is not valid", _field_problems(problems))
        if data == find.data:
            return {"uuid": uuid, "server_rev": find.server_rev, "changed": []}
        changed = sorted(k for k in data if data[k] != find.data.get(k))
        rev = record_museum_revision(
            uow,
            find,
            user_id=actor.user_id,
            now=now_utc(),
            action="find.correct",
            reason=reason,
            data=data,
        )
        uow.commit()
    return {"uuid": uuid, "server_rev": rev, "changed": changed}


def _field_problems(problems: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**p, "field": p["field"].removeprefix("data.")} for p in problems]


def resolve_conflict(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    uuid: str,
    conflict_id: int,
    resolution: str,
    chosen: dict[str, Any] | None,
    reason: str | None,
    expected_rev: int | None = None,
) -> dict[str, Any]:
    with uow_factory(write=True) as uow:
        find = load_find(uow, uuid)
        if not actor.may_read(find.expedition_id):
            raise NotFound(f"no find {uuid}")  # another expedition's find is none of theirs
        if not actor.may_resolve_conflicts(find.expedition_id):
            raise Forbidden("a reviewer, an admin or the expedition's leader resolves conflicts")
        _check_fresh(find, expected_rev)
        conflict = uow.history.conflict(conflict_id, lock=True)
        if conflict is None or conflict.uuid != uuid:
            raise NotFound(f"find {uuid} has no conflict {conflict_id}")
        if conflict.resolved_at is not None:
            raise NotAllowed(f"conflict {conflict_id} is resolved already", "already_decided")
        base: dict[str, Any] = {}
        if conflict.base_rev:
            texts = uow.records.revision_data([(uuid, conflict.base_rev)])
            base = json.loads(texts.get((uuid, conflict.base_rev), "{}"))
        try:
            settled = settle(
                base,
                json.loads(conflict.data),
                find.data,
                tuple(json.loads(conflict.fields)),
                Resolution(resolution),
                chosen,
            )
        except ResolutionRefused as refused:
            raise InvalidInput(
                str(refused), [{"field": "fields", "message": str(refused)}]
            ) from None
        data, problems = validate_record_data("find", settled)
        if data is None:
            raise InvalidInput("the settled find is not valid", _field_problems(problems))
        now = now_utc()
        detail = {"conflict": conflict_id, "resolution": resolution}
        if data != find.data:
            if not can_be_corrected(find.status):
                raise NotAllowed(
                    f"a {find.status.value} find keeps its data; resolve with keep_server",
                    "transition_refused",
                )
            rev = record_museum_revision(
                uow,
                find,
                user_id=actor.user_id,
                now=now,
                action="find.resolve_conflict",
                reason=reason,
                data=data,
                detail=detail,
            )
        else:
            rev = find.server_rev
            uow.audit.add(
                now, actor.user_id, "find.resolve_conflict", f"find:{uuid}", detail, reason
            )
        # a new change number either way: devices pull the shorter list of open conflicts
        uow.records.set_columns(
            uuid,
            {
                "open_conflicts": max(find.open_conflicts - 1, 0),
                "seq": uow.changes.take(),
                "updated_at": now,
            },
        )
        uow.history.resolve(
            conflict_id,
            {"resolved_at": now, "resolved_by": actor.user_id, "resolution": resolution},
        )
        uow.commit()
    return {"uuid": uuid, "conflict": conflict_id, "resolution": resolution, "server_rev": rev}


def find_details(uow_factory: UnitOfWorkFactory, actor: Actor, uuid: str) -> dict[str, Any]:
    """Everything about one find: data, state, revisions, conflicts, aliases, duplicates,
    audit trail. A find of an expedition the caller may not read does not exist for them."""
    with uow_factory() as uow:
        find = load_find(uow, uuid, lock=False)
        if not actor.may_read(find.expedition_id):
            raise NotFound(f"no find {uuid}")
        return _details(uow, find)


def _details(uow: UnitOfWork, find: StoredFind) -> dict[str, Any]:
    revisions = uow.records.revisions_of(find.uuid)
    conflicts = uow.history.conflicts_of(find.uuid)
    audit = uow.audit.for_subject(f"find:{find.uuid}")
    aliases = uow.aliases.of_kept(find.uuid)
    candidates = uow.candidates.involving([find.uuid], None)
    names = uow.history.usernames(
        [r.user_id for r in revisions]
        + [c.user_id for c in conflicts]
        + [c.resolved_by for c in conflicts]
        + [a.user_id for a in audit]
        + [a.created_by for a in aliases]
    )

    def when(value: Any) -> str | None:
        return None if value is None else as_utc(value).isoformat()

    def conflict_json(c: Any) -> dict[str, Any]:
        return {
            "id": c.id,
            "server_rev": c.server_rev,
            "base_rev": c.base_rev,
            "fields": json.loads(c.fields),
            "data": json.loads(c.data),
            "device_id": c.device_id,
            "device_rev": c.device_rev,
            "by": names.get(c.user_id),
            "received_at": when(c.received_at),
            "resolved_at": when(c.resolved_at),
            "resolved_by": names.get(c.resolved_by),
            "resolution": c.resolution,
        }

    return {
        "uuid": find.uuid,
        "expedition_code": uow.expeditions.by_ids([find.expedition_id])[find.expedition_id].code,
        "find_number": find.find_number,
        "server_rev": find.server_rev,
        "data": find.data,
        "state": {
            "status": find.status.value,
            "register_number": find.register_number,
            "merged_into": find.merged_into,
            "flags": find.flags,
            "open_conflicts": find.open_conflicts,
        },
        "revisions": [
            {
                "server_rev": r.server_rev,
                "origin": r.origin,
                "device_id": r.device_id,
                "device_rev": r.device_rev,
                "base_rev": r.base_rev,
                "by": names.get(r.user_id),
                "created_at": when(r.created_at),
                "data": json.loads(r.data),
            }
            for r in revisions
        ],
        "conflicts": {
            "open": [conflict_json(c) for c in conflicts if c.resolved_at is None],
            "resolved": [conflict_json(c) for c in conflicts if c.resolved_at is not None],
        },
        "aliases": [
            {"uuid": a.alias_uuid, "by": names.get(a.created_by), "at": when(a.created_at)}
            for a in aliases
        ],
        "duplicates": [candidate_json(c) for c in candidates],
        "audit": [
            {
                "at": when(a.at),
                "by": names.get(a.user_id),
                "action": a.action,
                "detail": json.loads(a.detail),
                "reason": a.reason,
            }
            for a in audit
        ],
    }
