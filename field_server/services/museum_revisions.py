"""A change the museum makes to a find: a new server revision that devices pull, and an
audit-log line saying who, when, what and why (DESIGN §6).

Review, merges and the register all change finds through :func:`record_museum_revision`, so
every museum change is numbered in the same change sequence as the devices' pushes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from field_core.content_hash import canonical_json, text_hash
from field_server.adapters.duplicate_repositories import traits_row
from field_server.adapters.unit_of_work import UnitOfWork
from field_server.domain.duplicates import traits_of
from field_server.domain.find_status import FindStatus, parse_status
from field_server.services.errors import NotFound

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


def load_find(uow: UnitOfWork, uuid: str, *, lock: bool = True) -> StoredFind:
    """The find ``uuid``; :class:`NotFound` when there is none (or the uuid is not a find)."""
    row = uow.records.find_for_museum(uuid, lock=lock)
    if row is None or row.type != "find":
        raise NotFound(f"no find {uuid}")
    return StoredFind(
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

    ``data`` replaces the find's fields (already validated by the caller); the state columns
    change only where given. The unit of work must be a sequenced writing one: the revision
    takes the next change number so devices pull it after everything before it.
    """
    new_data = find.data if data is None else data
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
    if data is not None:
        changed = sorted(k for k in set(find.data) | set(data) if find.data.get(k) != data.get(k))
        audit["fields"] = {k: {"old": find.data.get(k), "new": data.get(k)} for k in changed}
    for column, value, old in (
        ("status", status, find.status),
        ("register_number", register_number, find.register_number),
        ("merged_into", merged_into, find.merged_into),
    ):
        if value is not KEEP:
            stored = value.value if isinstance(value, FindStatus) else value
            values[column] = stored
            previous = old.value if isinstance(old, FindStatus) else old
            if stored != previous:
                audit[column] = {"old": previous, "new": stored}
    uow.records.set_columns(find.uuid, values)
    # duplicate detection reads its own copy of what it compares (a merged find drops out)
    new_status = values.get("status", find.status.value)
    uow.traits.save(
        [traits_row(traits_of(find.uuid, new_data), find.expedition_id, new_status)],
        {find.uuid: tuple(new_data.get("photos") or ())},
    )
    uow.records.insert_revisions(
        [
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
        ]
    )
    if detail:
        audit.update(detail)
    uow.audit.add(now, user_id, action, f"find:{find.uuid}", audit, reason)
    return server_rev
