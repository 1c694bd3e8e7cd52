"""Reading surveys, finds and their history for the museum's review: the queries behind the
dashboard, the survey view and the find page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from field_server.adapters import tables as t
from field_server.adapters.repositories import as_utc


@dataclass(frozen=True)
class RecordText:
    """A record as it now stands: its wire data still as stored text."""

    uuid: str
    type: str
    expedition_id: int
    survey_uuid: str | None
    server_rev: int
    data: str
    status: str | None
    register_number: str | None
    merged_into: str | None
    flags: str
    open_conflicts: int
    updated_at: datetime


@dataclass(frozen=True)
class DeviceSync:
    device_id: str
    last_record_at: datetime
    records: int
    last_seen_at: datetime | None
    username: str | None


_RECORD_COLUMNS = (
    t.records.c.uuid,
    t.records.c.type,
    t.records.c.expedition_id,
    t.records.c.survey_uuid,
    t.records.c.server_rev,
    t.records.c.data,
    t.records.c.status,
    t.records.c.register_number,
    t.records.c.merged_into,
    t.records.c.flags,
    t.records.c.open_conflicts,
    t.records.c.updated_at,
)


def _record(row: Any) -> RecordText:
    return RecordText(*row[:-1], as_utc(row.updated_at))


class Finds:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def record(self, uuid: str) -> RecordText | None:
        row = self._c.execute(select(*_RECORD_COLUMNS).where(t.records.c.uuid == uuid)).first()
        return None if row is None else _record(row)

    def of_type(
        self, record_type: str, expedition_id: int, survey_uuid: str | None = None
    ) -> list[RecordText]:
        query = select(*_RECORD_COLUMNS).where(
            t.records.c.type == record_type, t.records.c.expedition_id == expedition_id
        )
        if survey_uuid is not None:
            query = query.where(t.records.c.survey_uuid == survey_uuid)
        return [_record(row) for row in self._c.execute(query.order_by(t.records.c.seq))]

    def device_syncs(self, expedition_id: int) -> list[DeviceSync]:
        """Each device that sent records of the expedition: when its last one arrived."""
        sent = (
            select(
                t.revisions.c.device_id,
                func.max(t.revisions.c.created_at).label("last_record_at"),
                func.count().label("records"),
            )
            .select_from(t.revisions.join(t.records, t.records.c.uuid == t.revisions.c.uuid))
            .where(t.records.c.expedition_id == expedition_id, t.revisions.c.device_id.is_not(None))
            .group_by(t.revisions.c.device_id)
            .subquery()
        )
        rows = self._c.execute(
            select(
                sent.c.device_id,
                sent.c.last_record_at,
                sent.c.records,
                t.devices.c.last_seen_at,
                t.users.c.username,
            )
            .select_from(
                sent.outerjoin(t.devices, t.devices.c.device_id == sent.c.device_id).outerjoin(
                    t.users, t.users.c.id == t.devices.c.last_user_id
                )
            )
            .order_by(sent.c.last_record_at.desc())
        )
        return [
            DeviceSync(
                row.device_id,
                as_utc(row.last_record_at),
                row.records,
                None if row.last_seen_at is None else as_utc(row.last_seen_at),
                row.username,
            )
            for row in rows
        ]
