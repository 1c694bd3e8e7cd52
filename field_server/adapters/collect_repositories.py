"""Repositories of the phones' keys and submissions (DESIGN §9), over one connection."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from field_server.adapters import tables as t

FILED = "filed"
NEEDS_REVIEW = "needs_review"
STATUSES = (FILED, NEEDS_REVIEW)


@dataclass(frozen=True)
class CollectKeyRow:
    id: int
    expedition_id: int
    user_id: int
    username: str
    device_name: str
    survey_uuid: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class SubmissionRow:
    id: int
    expedition_id: int
    key_id: int | None  # None for one the camp laptop relayed
    relayed_by_device: str | None  # the laptop's device id, for one it relayed
    recorded_by_user_id: int | None
    survey_uuid: str
    instance_id: str
    deprecated_id: str | None
    form_version: str | None
    xml: str
    xml_sha256: str
    received_at: datetime
    updated_at: datetime
    find_uuid: str | None
    find_rev: int | None
    problems: list[dict[str, str]]
    attachments_named: list[str]
    attachments_received: dict[str, str]
    status: str
    recorded_by: str | None  # the member's user name
    device_name: str | None  # the key's phone; None for one the camp laptop relayed


_KEY_COLUMNS = (
    t.collect_keys.c.id,
    t.collect_keys.c.expedition_id,
    t.collect_keys.c.user_id,
    t.users.c.username,
    t.collect_keys.c.device_name,
    t.collect_keys.c.survey_uuid,
    t.collect_keys.c.created_at,
    t.collect_keys.c.revoked_at,
    t.collect_keys.c.last_used_at,
)


class CollectKeys:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        key_hash: str,
        expedition_id: int,
        user_id: int,
        device_name: str,
        survey_uuid: str,
        created_by: int | None,
        now: datetime,
    ) -> int:
        key_id: int = self._c.execute(
            insert(t.collect_keys)
            .values(
                key_hash=key_hash,
                expedition_id=expedition_id,
                user_id=user_id,
                device_name=device_name,
                survey_uuid=survey_uuid,
                created_by=created_by,
                created_at=now,
            )
            .returning(t.collect_keys.c.id)
        ).scalar_one()
        return key_id

    def _select(self) -> Any:
        return select(*_KEY_COLUMNS).join(t.users, t.users.c.id == t.collect_keys.c.user_id)

    def by_hash(self, key_hash: str) -> CollectKeyRow | None:
        row = self._c.execute(self._select().where(t.collect_keys.c.key_hash == key_hash)).first()
        return None if row is None else CollectKeyRow(*row)

    def get(self, key_id: int) -> CollectKeyRow | None:
        row = self._c.execute(self._select().where(t.collect_keys.c.id == key_id)).first()
        return None if row is None else CollectKeyRow(*row)

    def of_expedition(self, expedition_id: int) -> list[CollectKeyRow]:
        rows = self._c.execute(
            self._select()
            .where(t.collect_keys.c.expedition_id == expedition_id)
            .order_by(t.collect_keys.c.id)
        )
        return [CollectKeyRow(*row) for row in rows]

    def revoke(self, key_id: int, now: datetime) -> None:
        self._c.execute(
            update(t.collect_keys)
            .where(t.collect_keys.c.id == key_id, t.collect_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def used(self, key_id: int, now: datetime) -> None:
        self._c.execute(
            update(t.collect_keys).where(t.collect_keys.c.id == key_id).values(last_used_at=now)
        )


def _select_submissions() -> Any:
    """The rows with their member's user name and their key's phone, for whoever reads them."""
    return select(
        *t.collect_submissions.c,
        t.users.c.username.label("recorded_by"),
        t.collect_keys.c.device_name,
    ).select_from(
        t.collect_submissions.outerjoin(
            t.users, t.users.c.id == t.collect_submissions.c.recorded_by_user_id
        ).outerjoin(t.collect_keys, t.collect_keys.c.id == t.collect_submissions.c.key_id)
    )


def _submission(row: Any) -> SubmissionRow:
    values = dict(row._mapping)
    for name in ("problems", "attachments_named", "attachments_received"):
        values[name] = json.loads(values[name])
    return SubmissionRow(**values)


class CollectSubmissions:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def by_instance(self, expedition_id: int, instance_id: str) -> SubmissionRow | None:
        row = self._c.execute(
            _select_submissions().where(
                t.collect_submissions.c.expedition_id == expedition_id,
                t.collect_submissions.c.instance_id == instance_id,
            )
        ).first()
        return None if row is None else _submission(row)

    def get(self, submission_id: int) -> SubmissionRow | None:
        row = self._c.execute(
            _select_submissions().where(t.collect_submissions.c.id == submission_id)
        ).first()
        return None if row is None else _submission(row)

    def page(
        self, expedition_id: int, status: str | None, after: int, limit: int
    ) -> list[SubmissionRow]:
        query = _select_submissions().where(
            t.collect_submissions.c.expedition_id == expedition_id,
            t.collect_submissions.c.id > after,
        )
        if status is not None:
            query = query.where(t.collect_submissions.c.status == status)
        rows = self._c.execute(query.order_by(t.collect_submissions.c.id).limit(limit))
        return [_submission(row) for row in rows]

    def add(self, values: dict[str, Any]) -> int:
        submission_id: int = self._c.execute(
            insert(t.collect_submissions)
            .values(**_encoded(values))
            .returning(t.collect_submissions.c.id)
        ).scalar_one()
        return submission_id

    def change(self, submission_id: int, values: dict[str, Any]) -> None:
        self._c.execute(
            update(t.collect_submissions)
            .where(t.collect_submissions.c.id == submission_id)
            .values(**_encoded(values))
        )


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(values)
    for name in ("problems", "attachments_named", "attachments_received"):
        if name in encoded:
            encoded[name] = json.dumps(encoded[name], ensure_ascii=False, sort_keys=True)
    return encoded
