"""A change the museum makes to a find: a new server revision that devices pull, and an
audit-log line saying who, when, what and why (DESIGN §6).

Review, merges and the register all change finds through :func:`record_museum_revision` (one
find) or :func:`record_museum_revisions` (many at once, as an acceptance act does), so every
museum change is numbered in the same change sequence as the devices' pushes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from field_core.content_hash import canonical_json, text_hash
from field_server.adapters.repositories import AuditLine
from field_server.adapters.unit_of_work import UnitOfWork
from field_server.domain.duplicates import traits_of
from field_server.domain.find_status import FindStatus, parse_status
from field_server.services.errors import NotFound
from field_server.services.find_filing import FiledFind, file_finds

# Passed for a state column the change leaves alone (None would clear it).
KEEP: Any = object()


@dataclass(frozen=True)
class StoredFind:
    """A find as the museum's actions see it, read inside their unit of work."""

    uuid: str
    expedition_id: int
    survey_uuid: str | None
    find_number: str | None
    server_rev: int
    data: dict[str, Any]
    status: FindStatus
    register_number: str | None
    merged_into: str | None
    flags: list[dict[str, Any]]
    open_conflicts: int


def load_finds(
    uow: UnitOfWork, uuids: Sequence[str], *, lock: bool = True
) -> dict[str, StoredFind]:
    """The finds among ``uuids`` by uuid, read a chunk per query and row-locked (``FOR
    UPDATE``) when ``lock``; a uuid that is unknown or not a find is left out."""
    rows = uow.records.finds_for_museum(uuids, lock=lock)
    return {
        row.uuid: StoredFind(
            uuid=row.uuid,
            expedition_id=row.expedition_id,
            survey_uuid=row.survey_uuid,
            find_number=row.find_number,
            server_rev=row.server_rev,
            data=json.loads(row.data),
            status=parse_status(row.status),
            register_number=row.register_number,
            merged_into=row.merged_into,
            flags=json.loads(row.flags),
            open_conflicts=row.open_conflicts,
        )
        for row in rows.values()
        if row.type == "find"
    }


def load_find(uow: UnitOfWork, uuid: str, *, lock: bool = True) -> StoredFind:
    """The find ``uuid``; :class:`NotFound` when there is none (or the uuid is not a find)."""
    find = load_finds(uow, [uuid], lock=lock).get(uuid)
    if find is None:
        raise NotFound(f"no find {uuid}")
    return find


@dataclass(frozen=True)
class FindChange:
    """What one museum revision does to one find.

    ``data`` replaces the find's fields (already validated by the caller); a state column
    given as :data:`KEEP` is left alone. ``detail`` is added to the audit line.
    """

    find: StoredFind
    data: dict[str, Any] | None = None
    status: FindStatus | Any = KEEP
    register_number: str | Any | None = KEEP
    merged_into: str | Any | None = KEEP
    detail: dict[str, Any] | None = None


def record_museum_revision(
    uow: UnitOfWork,
    find: StoredFind,
    *,
    user_id: int | None,
    now: datetime,
    action: str,
    reason: str | None,
    data: dict[str, Any] | None = None,
    status: FindStatus | Any = KEEP,
    register_number: str | Any | None = KEEP,
    merged_into: str | Any | None = KEEP,
    detail: dict[str, Any] | None = None,
) -> int:
    """Write the next server revision of ``find`` and its audit line; return the new rev.

    One find's form of :func:`record_museum_revisions`.
    """
    change = FindChange(find, data, status, register_number, merged_into, detail)
    (server_rev,) = record_museum_revisions(
        uow, [change], user_id=user_id, now=now, action=action, reason=reason
    )
    return server_rev


def record_museum_revisions(
    uow: UnitOfWork,
    changes: Sequence[FindChange],
    *,
    user_id: int | None,
    now: datetime,
    action: str,
    reason: str | None,
) -> list[int]:
    """Write the next server revision of every changed find and an audit line each, by one
    person for one reason; return the new revs in the order of ``changes``.

    The records, their revisions, their duplicate-detection traits and the audit lines are
    written a table at a time (the driver's executemany), not a find at a time: an act of
    1,000 finds would otherwise be some 5,000 statements. The unit of work must be a
    sequenced writing one: each revision takes the next change number, in the order given,
    so devices pull it after everything before it.
    """
    uuids = [change.find.uuid for change in changes]
    if len(set(uuids)) != len(uuids):
        raise ValueError("a find can change only once in one call")
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    filed: list[FiledFind] = []
    revisions: list[dict[str, Any]] = []
    audit_lines: list[AuditLine] = []
    server_revs: list[int] = []
    for change in changes:
        find = change.find
        new_data = find.data if change.data is None else change.data
        text = canonical_json(new_data)
        digest = text_hash(text)
        server_rev = find.server_rev + 1
        values: dict[str, Any] = {
            "server_rev": server_rev,
            "data": text,
            "content_hash": digest,
            "find_number": new_data.get("find_number"),
            "seq": uow.changes.take(),
            "updated_at": now,
        }
        audit: dict[str, Any] = {"server_rev": server_rev}
        if change.data is not None:
            changed = sorted(
                k for k in set(find.data) | set(new_data) if find.data.get(k) != new_data.get(k)
            )
            audit["fields"] = {
                k: {"old": find.data.get(k), "new": new_data.get(k)} for k in changed
            }
        for column, value, old in (
            ("status", change.status, find.status),
            ("register_number", change.register_number, find.register_number),
            ("merged_into", change.merged_into, find.merged_into),
        ):
            if value is not KEEP:
                stored = value.value if isinstance(value, FindStatus) else value
                values[column] = stored
                previous = old.value if isinstance(old, FindStatus) else old
                if stored != previous:
                    audit[column] = {"old": previous, "new": stored}
        # rows naming the same columns go to the database in one executemany
        updates.setdefault(tuple(values), []).append({"key": find.uuid, **values})
        # duplicate detection reads its own copy of what it compares (a merged find drops out)
        new_status = values.get("status", find.status.value)
        filed.append(
            FiledFind(traits_of(find.uuid, new_data), find.expedition_id, new_status, new_data)
        )
        revisions.append(
            {
                "uuid": find.uuid,
                "server_rev": server_rev,
                "data": text,
                "content_hash": digest,
                "origin": "museum",
                "device_id": None,
                "device_rev": None,
                "base_rev": find.server_rev,
                "user_id": user_id,
                "created_at": now,
            }
        )
        if change.detail:
            audit.update(change.detail)
        audit_lines.append(AuditLine(now, user_id, action, f"find:{find.uuid}", audit, reason))
        server_revs.append(server_rev)
    for rows in updates.values():
        uow.records.update_records(rows)
    file_finds(uow, filed)
    uow.records.insert_revisions(revisions)
    uow.audit.add_many(audit_lines)
    return server_revs
