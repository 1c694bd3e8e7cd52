"""The outbox: every local change of a record waits here until the server has answered it."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from field_client.store import now_utc

# Surveys go first: the server accepts a find only once it holds the find's survey.
_TYPE_ORDER = "CASE r.type WHEN 'survey' THEN 0 WHEN 'track' THEN 1 WHEN 'find' THEN 2 ELSE 3 END"


def enqueue(connection: sqlite3.Connection, uuid: str, rev: int) -> None:
    connection.execute(
        "INSERT INTO outbox (uuid, rev, queued_at) VALUES (?, ?, ?)", (uuid, rev, now_utc())
    )


def settle(connection: sqlite3.Connection, uuid: str, rev: int) -> None:
    """The server answered revision ``rev``: it and every earlier change leave the outbox."""
    connection.execute("DELETE FROM outbox WHERE uuid = ? AND rev <= ?", (uuid, rev))


def is_pending(connection: sqlite3.Connection, uuid: str) -> bool:
    row = connection.execute("SELECT 1 FROM outbox WHERE uuid = ? LIMIT 1", (uuid,)).fetchone()
    return row is not None


def pending_uuids(connection: sqlite3.Connection) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            f"SELECT r.uuid FROM record r JOIN outbox o ON o.uuid = r.uuid "
            f"GROUP BY r.uuid ORDER BY {_TYPE_ORDER}, min(o.id)"
        )
    ]


def pending_counts(connection: sqlite3.Connection) -> dict[str, int]:
    return {
        kind: count
        for kind, count in connection.execute(
            "SELECT r.type, count(DISTINCT r.uuid) FROM record r JOIN outbox o ON o.uuid = r.uuid "
            "GROUP BY r.type"
        )
    }


def ready_to_send(
    connection: sqlite3.Connection,
    limit: int,
    exclude: Collection[tuple[str, int]] = (),
    retry_rejected: bool = False,
) -> list[tuple[str, int]]:
    """The pending records to push next as (uuid, rev), surveys first, then in the order they
    were changed; ``exclude`` holds versions already sent in this sync.

    Left out: records with an open conflict (they wait for a person), records waiting for a
    pull, records in a batch still waiting for its answer, and records whose current version
    the server already rejected (unless ``retry_rejected``: resending an unchanged record only
    makes sense once something it depends on, such as its survey, has reached the server).
    """
    rejected = "" if retry_rejected else "AND (r.rejected_rev IS NULL OR r.rejected_rev != r.rev)"
    rows = connection.execute(
        f"""SELECT r.uuid, r.rev FROM record r JOIN outbox o ON o.uuid = r.uuid
            WHERE r.awaiting_pull = 0
              AND NOT EXISTS (SELECT 1 FROM conflict c
                              WHERE c.uuid = r.uuid AND c.resolved_at IS NULL)
              AND NOT EXISTS (SELECT 1 FROM batch_item b WHERE b.uuid = r.uuid)
              {rejected}
            GROUP BY r.uuid ORDER BY {_TYPE_ORDER}, min(o.id)"""
    )
    chosen: list[tuple[str, int]] = []
    excluded = set(exclude)
    for uuid, rev in rows:
        if (uuid, rev) not in excluded:
            chosen.append((uuid, rev))
            if len(chosen) == limit:
                break
    return chosen
