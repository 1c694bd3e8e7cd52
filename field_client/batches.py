"""Push batches, written to the store before they are sent so a retry resends the same batch."""

from __future__ import annotations

import json
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass

from field_client import records
from field_client.store import now_utc

MAX_BATCH = 500


@dataclass(frozen=True)
class BatchItem:
    uuid: str
    rev: int


@dataclass(frozen=True)
class Batch:
    batch_id: str
    body: str  # the request exactly as sent, so a resend is byte for byte the same
    items: tuple[BatchItem, ...]


def write_batch(connection: sqlite3.Connection, device_id: str, uuids: list[str]) -> Batch:
    """Freeze the current version of each record into a new batch (call inside a transaction).

    The batch is committed before the first byte goes out: if the answer is lost (a crash, a
    dropped link) the next sync sends this batch_id again with these contents, and the server
    answers with its stored first answer instead of applying anything twice.
    """
    if not 1 <= len(uuids) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} records")
    batch_id = str(uuidlib.uuid4())
    found = records.get_many(connection, uuids)
    envelopes = []
    items = []
    for uuid in uuids:
        record = found[uuid]
        envelopes.append(
            {
                "type": record.type,
                "uuid": record.uuid,
                "base_rev": record.base_rev,
                "rev": record.rev,
                "data": record.data,
            }
        )
        items.append(BatchItem(record.uuid, record.rev))
    body = json.dumps(
        {"device_id": device_id, "batch_id": batch_id, "records": envelopes},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    connection.execute(
        "INSERT INTO batch (batch_id, body, created_at) VALUES (?, ?, ?)",
        (batch_id, body, now_utc()),
    )
    connection.executemany(
        "INSERT INTO batch_item (batch_id, position, uuid, rev) VALUES (?, ?, ?, ?)",
        [(batch_id, position, item.uuid, item.rev) for position, item in enumerate(items)],
    )
    return Batch(batch_id, body, tuple(items))


def unanswered(connection: sqlite3.Connection) -> list[Batch]:
    """Batches sent (or about to be) whose answer has not been applied, oldest first."""
    found = []
    for batch_id, body in connection.execute(
        "SELECT batch_id, body FROM batch ORDER BY created_at, rowid"
    ).fetchall():
        items = tuple(
            BatchItem(uuid, rev)
            for uuid, rev in connection.execute(
                "SELECT uuid, rev FROM batch_item WHERE batch_id = ? ORDER BY position",
                (batch_id,),
            )
        )
        found.append(Batch(batch_id, body, items))
    return found


def unanswered_count(connection: sqlite3.Connection) -> tuple[int, int]:
    """How many batches and records are waiting for an answer."""
    batches = connection.execute("SELECT count(*) FROM batch").fetchone()[0]
    items = connection.execute("SELECT count(*) FROM batch_item").fetchone()[0]
    return batches, items


def close(connection: sqlite3.Connection, batch_id: str) -> None:
    """The answer is applied: the batch is done (in the same transaction as the answer)."""
    connection.execute("DELETE FROM batch WHERE batch_id = ?", (batch_id,))
