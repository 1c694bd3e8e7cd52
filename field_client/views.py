"""How records and the sync state look to a script (--json) and where a record stands."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from field_core.contract import load_schema

from field_client import batches, conflicts, number_blocks, outbox, photos, records
from field_client.conflicts import Conflict
from field_client.finds import POSITION_FIELDS
from field_client.records import LocalRecord
from field_client.store import get_setting
from field_client.sync import CURSOR, LAST_SYNC


@dataclass(frozen=True)
class Standing:
    """Which records wait to be sent, which have an open conflict and which photo files are
    not on the server yet, read once for a list."""

    pending: frozenset[str]
    in_conflict: frozenset[str]
    photos_waiting: frozenset[str] = frozenset()

    @classmethod
    def read(cls, connection: sqlite3.Connection) -> Standing:
        pending = frozenset(
            row[0] for row in connection.execute("SELECT DISTINCT uuid FROM outbox")
        )
        in_conflict = frozenset(
            row[0]
            for row in connection.execute("SELECT uuid FROM conflict WHERE resolved_at IS NULL")
        )
        return cls(pending, in_conflict, frozenset(photos.missing_on_server(connection)))

    def status(self, record: LocalRecord) -> str:
        """conflict | rejected | awaiting_pull | pending | photos_missing | synced

        A find whose record is on the server but one of whose photo files is not yet counts
        as photos_missing: a find is synced only with its photos.
        """
        if record.uuid in self.in_conflict:
            return "conflict"
        if record.uuid in self.pending:
            if record.rejected:
                return "rejected"
            return "awaiting_pull" if record.awaiting_pull else "pending"
        if record.type == "find" and self.photos_waiting.intersection(
            record.data.get("photos") or []
        ):
            return "photos_missing"
        return "synced"


def _in_contract_order(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    # The store keeps canonical (sorted) JSON; people read fields in the contract's order.
    order = list(load_schema(kind)["properties"])
    ordered = {name: data[name] for name in order if name in data}
    ordered.update((name, value) for name, value in data.items() if name not in ordered)
    position = ordered.get("position")
    if isinstance(position, dict):
        members = [name for name in POSITION_FIELDS if name in position]
        ordered["position"] = {name: position[name] for name in members} | position
    return ordered


def record_view(record: LocalRecord, standing: Standing) -> dict[str, Any]:
    """``uuid`` plus the wire fields, and a ``sync`` object with where the record stands."""
    state = record.state or {}
    return {
        "uuid": record.uuid,
        **_in_contract_order(record.type, record.data),
        "sync": {
            "status": standing.status(record),
            "rev": record.rev,
            "base_rev": record.base_rev,
            "problems": record.problems if record.rejected else [],
            "flags": record.flags,
            "server_status": state.get("status"),
            "register_number": state.get("register_number"),
            "merged_into": state.get("merged_into"),
        },
    }


def conflict_view(conflict: Conflict, record: LocalRecord | None) -> dict[str, Any]:
    fields = conflict.fields
    return {
        "uuid": conflict.uuid,
        "type": record.type if record else None,
        "label": records.label(record) if record else conflict.uuid,
        "origin": conflict.origin,
        "detected_at": conflict.detected_at,
        "server_rev": conflict.theirs_rev,
        "server_side_known": conflict.theirs is not None,
        "fields": list(fields),
        "mine": {name: conflict.mine.get(name) for name in fields} if fields else conflict.mine,
        "theirs": (
            {name: conflict.theirs.get(name) for name in fields}
            if fields and conflict.theirs is not None
            else conflict.theirs
        ),
    }


def status_view(connection: sqlite3.Connection) -> dict[str, Any]:
    standing = Standing.read(connection)
    pending_records = records.get_many(connection, outbox.pending_uuids(connection))
    batch_count, in_flight = batches.unanswered_count(connection)
    rejected = [r for r in pending_records.values() if r.rejected]
    open_conflicts = conflicts.open_conflicts(connection)
    by_uuid = records.get_many(connection, [c.uuid for c in open_conflicts])
    return {
        "server": get_setting(connection, "server_url"),
        "username": get_setting(connection, "username"),
        "device_id": get_setting(connection, "device_id"),
        "cursor": int(get_setting(connection, CURSOR) or 0),
        "last_sync_at": get_setting(connection, LAST_SYNC),
        "pending": outbox.pending_counts(connection),
        "pending_records": [
            {
                "uuid": r.uuid,
                "type": r.type,
                "label": records.label(r),
                "rev": r.rev,
                "status": standing.status(r),
            }
            for r in pending_records.values()
        ],
        "rejected": [
            {
                "uuid": r.uuid,
                "type": r.type,
                "label": records.label(r),
                "problems": r.problems,
                "flags": r.flags,
            }
            for r in rejected
        ],
        "conflicts": [conflict_view(c, by_uuid.get(c.uuid)) for c in open_conflicts],
        "unanswered_batches": {"batches": batch_count, "records": in_flight},
        "find_numbers_left": number_blocks.remaining_by_expedition(connection),
        **photo_status(connection),
    }


def photo_status(connection: sqlite3.Connection) -> dict[str, Any]:
    """Photo files not yet on the server, and the finds that are not synced because of them."""
    waiting = photos.missing_on_server(connection)
    waiting_set = set(waiting)
    finds = [] if not waiting else records.list_of(connection, "find")
    return {
        "photos_not_on_server": waiting,
        "finds_missing_photos": [
            {
                "uuid": find.uuid,
                "label": records.label(find),
                "photos": [sha for sha in find.data.get("photos") or [] if sha in waiting_set],
            }
            for find in finds
            if waiting_set.intersection(find.data.get("photos") or [])
        ],
    }
