"""Handing out changes since a cursor, each record as it now stands (DESIGN §4)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from field_core.content_hash import canonical_json
from field_server.adapters.repositories import as_utc
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000


@dataclass(frozen=True)
class PullPage:
    body: str  # the whole answer as JSON text
    cursor: int
    count: int
    more: bool


def pull_changes(uow_factory: UnitOfWorkFactory, actor: Actor, since: int, limit: int) -> PullPage:
    with uow_factory() as uow:
        # Read before the page: every change numbered up to here is committed (numbers are
        # handed out under the write lock in commit order), so once the page is not full the
        # cursor may move up to it without skipping anything.
        committed = uow.changes.committed_value()
        expedition_ids = None
        if not actor.reads_every_expedition():
            expedition_ids = sorted(actor.member_of)
        rows = (
            uow.records.changes_since(since, limit + 1, expedition_ids)
            if expedition_ids != []
            else []
        )
        more = len(rows) > limit
        rows = rows[:limit]
        conflicted = [row.uuid for row in rows if row.open_conflicts]
        conflicts = uow.records.open_conflicts(conflicted) if conflicted else {}
    cursor = rows[-1].seq if more else max(since, committed, rows[-1].seq if rows else 0)
    parts = [_change_json(row, conflicts.get(row.uuid, [])) for row in rows]
    more_text = "true" if more else "false"
    body = f'{{"changes":[{",".join(parts)}],"cursor":{cursor},"more":{more_text}}}'
    return PullPage(body, cursor, len(rows), more)


def _change_json(row: Any, conflicts: list[Any]) -> str:
    # Stored data and flags are canonical JSON text already: splice them in rather than parse
    # and dump again, which is what keeps a pull of a season's finds fast.
    conflicts_text = (
        canonical_json(
            [
                {
                    "id": c.id,
                    "server_rev": c.server_rev,
                    "fields": json.loads(c.fields),
                    "data": json.loads(c.data),
                    "device_id": c.device_id,
                    "received_at": _rfc3339(c.received_at),
                }
                for c in conflicts
            ]
        )
        if conflicts
        else "[]"
    )
    seq, kind, uuid, server_rev, data, status, register_number, merged_into, flags, _ = row
    return (
        f'{{"seq":{seq},"type":"{kind}","uuid":"{uuid}","server_rev":{server_rev},'
        f'"data":{data},"state":{{"conflicts":{conflicts_text},"flags":{flags},'
        f'"merged_into":{_text(merged_into)},"register_number":{_text(register_number)},'
        f'"status":{_text(status)}}}}}'
    )


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _rfc3339(value: datetime) -> str:
    return as_utc(value).isoformat()
