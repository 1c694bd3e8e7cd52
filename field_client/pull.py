"""Applying the server's changes to the local store; a local edit not yet sent is never lost."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from field_core.contract import RECORD_TYPES

from field_client import conflicts, outbox, records
from field_client.errors import ClientError
from field_client.merge import three_way
from field_core.content_hash import canonical_json
from field_core.envelope import canonical_uuid


def check_page(page: Any) -> tuple[list[dict[str, Any]], int, bool]:
    """The changes, the next cursor and whether more follow; a malformed page stops the pull."""
    if not isinstance(page, dict):
        raise ClientError("the server's pull answer is not a JSON object")
    changes, cursor, more = page.get("changes"), page.get("cursor"), page.get("more")
    if not isinstance(changes, list) or not _is_int(cursor) or not isinstance(more, bool):
        raise ClientError("the server's pull answer is not in the expected shape")
    for change in changes:
        if not (
            isinstance(change, dict)
            and change.get("type") in RECORD_TYPES
            and canonical_uuid(change.get("uuid")) is not None
            and _is_int(change.get("server_rev"))
            and change["server_rev"] >= 1
            and isinstance(change.get("data"), dict)
            and isinstance(change.get("state"), dict | None)
        ):
            raise ClientError("the server's pull answer holds a malformed change")
    return changes, cursor, more


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def apply_change(connection: sqlite3.Connection, change: dict[str, Any]) -> str:
    """Apply one change (inside the page's transaction); returns what happened to the record:

    ``new`` first seen here; ``updated`` the local copy now equals the server's; ``kept`` the
    server holds the revision the local edit starts from; ``merged`` a local edit not yet sent
    was merged with the server's newer revision (and waits to be sent); ``conflict`` both
    changed a field differently, or an open conflict got the server's side.
    """
    uuid, kind, server_rev = change["uuid"], change["type"], change["server_rev"]
    theirs: dict[str, Any] = change["data"]
    text = canonical_json(theirs)
    state = change.get("state")
    record = records.get(connection, uuid)
    if record is None:
        records.insert_from_server(connection, kind, uuid, server_rev, text, state)
        return "new"
    if record.type != kind:
        # The server keeps a uuid's type for good; a mismatch means a corrupt change.
        raise ClientError(f"the server says {uuid} is a {kind}, this laptop holds a {record.type}")
    records.update(connection, uuid, state=state)
    conflict = conflicts.open_conflict(connection, uuid)
    if conflict is not None:
        conflicts.server_side_moved(connection, conflict, text, server_rev)
        return "conflict"
    if server_rev < record.base_rev:
        return "kept"
    if not outbox.is_pending(connection, uuid):
        records.update(
            connection,
            uuid,
            data=theirs,
            base_rev=server_rev,
            server_data=theirs,
            awaiting_pull=False,
            rejected_rev=None,
            problems=None,
        )
        return "updated"
    if server_rev == record.base_rev and not record.awaiting_pull:
        records.update(connection, uuid, server_data=theirs)
        return "kept"
    # A local edit waits to be sent while the server moved on: merge the two.
    outcome = three_way(record.server_data, record.data, theirs)
    if outcome.clashes:
        conflicts.record_conflict(connection, record, "pull", theirs, server_rev)
        records.update(connection, uuid, awaiting_pull=False)
        return "conflict"
    records.update(connection, uuid, base_rev=server_rev, server_data=theirs, awaiting_pull=False)
    if outcome.merged == theirs:
        records.update(connection, uuid, data=theirs, rejected_rev=None, problems=None)
        outbox.settle(connection, uuid, record.rev)
        return "updated"
    refreshed = records.get(connection, uuid)
    assert refreshed is not None
    records.revise(connection, refreshed, outcome.merged)
    return "merged"


def apply_page(connection: sqlite3.Connection, changes: list[dict[str, Any]]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for change in changes:
        outcomes[apply_change(connection, change)] += 1
    return outcomes
