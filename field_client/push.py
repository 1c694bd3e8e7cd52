"""Applying the server's answer to a pushed batch: each record's fate, recorded in the store."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import Any

from field_client import batches, conflicts, outbox, records
from field_client.errors import ClientError

ACCEPTED = frozenset({"created", "updated", "merged", "unchanged"})
STATUSES = ACCEPTED | {"conflict", "rejected"}


def check_answer(batch: batches.Batch, answer: Any) -> list[dict[str, Any]]:
    """The results, one per record in request order, or a one-line reason why not."""
    if not isinstance(answer, dict) or answer.get("batch_id") != batch.batch_id:
        raise ClientError(f"the server's answer to batch {batch.batch_id} names another batch")
    results = answer.get("results")
    if not isinstance(results, list) or len(results) != len(batch.items):
        raise ClientError(
            f"the server's answer to batch {batch.batch_id} does not have one result per record"
        )
    for item, result in zip(batch.items, results, strict=True):
        if (
            not isinstance(result, dict)
            or result.get("uuid") != item.uuid
            or result.get("status") not in STATUSES
            or not isinstance(result.get("server_rev"), int)
            or isinstance(result.get("server_rev"), bool)
        ):
            raise ClientError(
                f"the server's answer to batch {batch.batch_id} holds a malformed result"
            )
    return results


def apply_answer(connection: sqlite3.Connection, batch: batches.Batch, answer: Any) -> Counter[str]:
    """Apply every result and close the batch, in the caller's one transaction.

    A record edited again while its batch was away keeps its newer edits in the outbox; only
    the revision the batch carried is settled.
    """
    results = check_answer(batch, answer)
    sent = {envelope["uuid"]: envelope for envelope in json.loads(batch.body)["records"]}
    found = records.get_many(connection, [item.uuid for item in batch.items])
    counts: Counter[str] = Counter()
    for item, result in zip(batch.items, results, strict=True):
        record = found.get(item.uuid)
        if record is None:
            raise ClientError(f"record {item.uuid} of batch {batch.batch_id} vanished")
        status = result["status"]
        counts[status] += 1
        flags = result.get("flags") if isinstance(result.get("flags"), list) else []
        if status in ACCEPTED:
            _accepted(connection, record, item.rev, status, result["server_rev"], sent, flags)
        elif status == "conflict":
            records.update(connection, record.uuid, flags=flags)
            conflicts.record_conflict(connection, record, "push", None, result["server_rev"])
        else:
            problems = result.get("problems") if isinstance(result.get("problems"), list) else []
            records.update(
                connection, record.uuid, rejected_rev=item.rev, problems=problems, flags=flags
            )
    batches.close(connection, batch.batch_id)
    return counts


def _accepted(
    connection: sqlite3.Connection,
    record: records.LocalRecord,
    sent_rev: int,
    status: str,
    server_rev: int,
    sent: dict[str, dict[str, Any]],
    flags: list[Any],
) -> None:
    sent_data = sent[record.uuid]["data"]
    edited_since = record.rev > sent_rev
    if status == "merged" and edited_since:
        # The server's revision holds the sent version merged with someone else's change, and
        # the later local edit lacks that change: sending it on top would undo it. Hold it back
        # until the pull brings the merged revision, then merge locally from what was sent.
        records.update(
            connection,
            record.uuid,
            server_data=sent_data,
            awaiting_pull=True,
            flags=flags,
            rejected_rev=None,
            problems=None,
        )
    else:
        records.update(
            connection,
            record.uuid,
            base_rev=server_rev,
            # a merged revision's content is known only once pulled
            server_data=None if status == "merged" else sent_data,
            flags=flags,
            rejected_rev=None,
            problems=None,
        )
    outbox.settle(connection, record.uuid, sent_rev)
