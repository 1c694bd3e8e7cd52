"""Repositories: the queries the services need, over one SQLAlchemy connection."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    func,
    insert,
    select,
    tuple_,
    update,
)

from field_server.adapters import tables as t

# Keeps IN lists well below SQLite's and PostgreSQL's parameter limits.
CHUNK = 900


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    password_hash: str
    active: bool
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ExpeditionRow:
    id: int
    code: str
    title: str
    year: int
    find_number_format: str
    accuracy_threshold_m: float | None


@dataclass(frozen=True)
class SiteRow:
    id: int
    expedition_id: int
    code: str
    name: str
    boundary: dict[str, Any]


@dataclass
class StoredRecord:
    uuid: str
    type: str
    expedition_id: int
    server_rev: int
    data: str
    content_hash: str
    status: str | None
    merged_into: str | None
    flags: str
    open_conflicts: int


@dataclass(frozen=True)
class FindFilter:
    """Which finds of an expedition an export or a check takes (None: any)."""

    expedition_id: int
    survey_uuid: str | None = None
    site_code: str | None = None
    status: str | None = None
    material: str | None = None
    found_from: str | None = None  # ISO dates: they order as text
    found_to: str | None = None


class Users:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, username: str, password_hash: str, roles: Iterable[str], now: datetime) -> int:
        user_id = self._c.execute(
            insert(t.users)
            .values(username=username, password_hash=password_hash, active=True, created_at=now)
            .returning(t.users.c.id)
        ).scalar_one()
        rows = [{"user_id": user_id, "role": role} for role in sorted(set(roles))]
        if rows:
            self._c.execute(insert(t.user_roles), rows)
        return user_id

    def set_password(self, user_id: int, password_hash: str) -> None:
        self._c.execute(
            update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash)
        )

    def set_roles(self, user_id: int, roles: Iterable[str]) -> None:
        self._c.execute(t.user_roles.delete().where(t.user_roles.c.user_id == user_id))
        rows = [{"user_id": user_id, "role": role} for role in sorted(set(roles))]
        if rows:
            self._c.execute(insert(t.user_roles), rows)

    def set_active(self, user_id: int, active: bool) -> None:
        self._c.execute(update(t.users).where(t.users.c.id == user_id).values(active=active))

    def all(self) -> list[UserRow]:
        roles: dict[int, list[str]] = {}
        for row in self._c.execute(select(t.user_roles.c.user_id, t.user_roles.c.role)):
            roles.setdefault(row.user_id, []).append(row.role)
        rows = self._c.execute(select(t.users).order_by(t.users.c.username))
        return [
            UserRow(r.id, r.username, r.password_hash, r.active, tuple(sorted(roles.get(r.id, []))))
            for r in rows
        ]

    def by_username(self, username: str) -> UserRow | None:
        row = self._c.execute(select(t.users).where(t.users.c.username == username)).first()
        return None if row is None else self._with_roles(row)

    def by_id(self, user_id: int) -> UserRow | None:
        row = self._c.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return None if row is None else self._with_roles(row)

    def _with_roles(self, row: Any) -> UserRow:
        roles = self._c.execute(
            select(t.user_roles.c.role).where(t.user_roles.c.user_id == row.id)
        ).scalars()
        return UserRow(row.id, row.username, row.password_hash, row.active, tuple(sorted(roles)))

    def memberships(self, user_id: int) -> list[tuple[int, bool]]:
        rows = self._c.execute(
            select(t.memberships.c.expedition_id, t.memberships.c.leader).where(
                t.memberships.c.user_id == user_id
            )
        )
        return [(row.expedition_id, bool(row.leader)) for row in rows]


class AccessTokens:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self, token_hash: str, user_id: int, device_name: str, now: datetime, expires: datetime
    ) -> None:
        self._c.execute(
            insert(t.access_tokens).values(
                token_hash=token_hash,
                user_id=user_id,
                device_name=device_name,
                created_at=now,
                expires_at=expires,
            )
        )

    def user_of(self, token_hash: str, now: datetime) -> int | None:
        row = self._c.execute(
            select(t.access_tokens.c.user_id, t.access_tokens.c.expires_at).where(
                t.access_tokens.c.token_hash == token_hash,
                t.access_tokens.c.revoked_at.is_(None),
            )
        ).first()
        if row is None or as_utc(row.expires_at) <= now:
            return None
        return row.user_id

    def revoke(self, token_hash: str, now: datetime) -> None:
        self._c.execute(
            update(t.access_tokens)
            .where(
                t.access_tokens.c.token_hash == token_hash, t.access_tokens.c.revoked_at.is_(None)
            )
            .values(revoked_at=now)
        )

    def revoke_all(self, user_id: int, now: datetime) -> int:
        result = self._c.execute(
            update(t.access_tokens)
            .where(t.access_tokens.c.user_id == user_id, t.access_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount


class Expeditions:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        code: str,
        title: str,
        year: int,
        find_number_format: str,
        accuracy_threshold_m: float | None,
        now: datetime,
    ) -> int:
        return self._c.execute(
            insert(t.expeditions)
            .values(
                code=code,
                title=title,
                year=year,
                find_number_format=find_number_format,
                next_find_number=1,
                accuracy_threshold_m=accuracy_threshold_m,
                created_at=now,
            )
            .returning(t.expeditions.c.id)
        ).scalar_one()

    def _row(self, row: Any) -> ExpeditionRow:
        return ExpeditionRow(
            row.id, row.code, row.title, row.year, row.find_number_format, row.accuracy_threshold_m
        )

    def by_code(self, code: str) -> ExpeditionRow | None:
        row = self._c.execute(select(t.expeditions).where(t.expeditions.c.code == code)).first()
        return None if row is None else self._row(row)

    def by_codes(self, codes: Iterable[str]) -> dict[str, ExpeditionRow]:
        wanted = sorted(set(codes))
        found: dict[str, ExpeditionRow] = {}
        for chunk in _chunks(wanted):
            for row in self._c.execute(
                select(t.expeditions).where(t.expeditions.c.code.in_(chunk))
            ):
                found[row.code] = self._row(row)
        return found

    def by_ids(self, ids: Iterable[int]) -> dict[int, ExpeditionRow]:
        wanted = sorted(set(ids))
        found: dict[int, ExpeditionRow] = {}
        for chunk in _chunks(wanted):
            for row in self._c.execute(select(t.expeditions).where(t.expeditions.c.id.in_(chunk))):
                found[row.id] = self._row(row)
        return found

    def all(self) -> list[ExpeditionRow]:
        rows = self._c.execute(select(t.expeditions).order_by(t.expeditions.c.code))
        return [self._row(row) for row in rows]

    def set_member(self, expedition_id: int, user_id: int, leader: bool) -> bool:
        """Add or update a membership; returns True when the user was not a member before."""
        existing = self._c.execute(
            select(t.memberships.c.leader).where(
                t.memberships.c.expedition_id == expedition_id, t.memberships.c.user_id == user_id
            )
        ).first()
        if existing is None:
            self._c.execute(
                insert(t.memberships).values(
                    expedition_id=expedition_id, user_id=user_id, leader=leader
                )
            )
            return True
        self._c.execute(
            update(t.memberships)
            .where(
                t.memberships.c.expedition_id == expedition_id, t.memberships.c.user_id == user_id
            )
            .values(leader=leader)
        )
        return False

    def members(self, expedition_id: int) -> list[tuple[str, bool]]:
        rows = self._c.execute(
            select(t.users.c.username, t.memberships.c.leader)
            .join(t.memberships, t.memberships.c.user_id == t.users.c.id)
            .where(t.memberships.c.expedition_id == expedition_id)
            .order_by(t.users.c.username)
        )
        return [(row.username, bool(row.leader)) for row in rows]

    def add_site(self, expedition_id: int, code: str, name: str, boundary: dict[str, Any]) -> int:
        return self._c.execute(
            insert(t.sites)
            .values(
                expedition_id=expedition_id, code=code, name=name, boundary=json.dumps(boundary)
            )
            .returning(t.sites.c.id)
        ).scalar_one()

    def replace_site(self, site_id: int, name: str, boundary: dict[str, Any]) -> None:
        self._c.execute(
            update(t.sites)
            .where(t.sites.c.id == site_id)
            .values(name=name, boundary=json.dumps(boundary))
        )

    def sites_of(self, expedition_ids: Iterable[int]) -> list[SiteRow]:
        wanted = sorted(set(expedition_ids))
        found: list[SiteRow] = []
        for chunk in _chunks(wanted):
            rows = self._c.execute(
                select(t.sites).where(t.sites.c.expedition_id.in_(chunk)).order_by(t.sites.c.code)
            )
            found.extend(
                SiteRow(r.id, r.expedition_id, r.code, r.name, json.loads(r.boundary)) for r in rows
            )
        return found

    def reserve_numbers(self, expedition_id: int, count: int) -> int:
        """Move the expedition's counter on by ``count``; returns the first reserved number.

        The UPDATE takes the row lock, so concurrent reservations never overlap.
        """
        return (
            self._c.execute(
                update(t.expeditions)
                .where(t.expeditions.c.id == expedition_id)
                .values(next_find_number=t.expeditions.c.next_find_number + count)
                .returning(t.expeditions.c.next_find_number)
            ).scalar_one()
            - count
        )

    def record_number_block(
        self, expedition_id: int, device_id: str, user_id: int, first: int, last: int, now: datetime
    ) -> int:
        return self._c.execute(
            insert(t.number_blocks)
            .values(
                expedition_id=expedition_id,
                device_id=device_id,
                user_id=user_id,
                first_number=first,
                last_number=last,
                reserved_at=now,
            )
            .returning(t.number_blocks.c.id)
        ).scalar_one()


class ChangeSequence:
    """The server-wide change counter. ``lock`` must come first in every writing transaction."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection
        self._next: int | None = None
        self._start: int | None = None

    def lock(self) -> None:
        current = self._c.execute(
            select(t.change_counter.c.last_seq).where(t.change_counter.c.id == 1).with_for_update()
        ).scalar_one()
        self._start = self._next = current

    def take(self) -> int:
        if self._next is None:
            raise RuntimeError("the change sequence was not locked by this transaction")
        self._next += 1
        return self._next

    def flush(self) -> None:
        if self._next is not None and self._next != self._start:
            self._c.execute(
                update(t.change_counter)
                .where(t.change_counter.c.id == 1)
                .values(last_seq=self._next)
            )
            self._start = self._next

    def committed_value(self) -> int:
        return self._c.execute(
            select(t.change_counter.c.last_seq).where(t.change_counter.c.id == 1)
        ).scalar_one()


RECORD_COLUMNS = (
    t.records.c.uuid,
    t.records.c.type,
    t.records.c.expedition_id,
    t.records.c.server_rev,
    t.records.c.data,
    t.records.c.content_hash,
    t.records.c.status,
    t.records.c.merged_into,
    t.records.c.flags,
    t.records.c.open_conflicts,
)


class Records:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get_many(self, uuids: Iterable[str]) -> dict[str, StoredRecord]:
        wanted = sorted(set(uuids))
        found: dict[str, StoredRecord] = {}
        for chunk in _chunks(wanted):
            for row in self._c.execute(select(*RECORD_COLUMNS).where(t.records.c.uuid.in_(chunk))):
                found[row.uuid] = StoredRecord(*row)
        return found

    def survey_expeditions(self, uuids: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(uuids))
        found: dict[str, int] = {}
        for chunk in _chunks(wanted):
            rows = self._c.execute(
                select(t.records.c.uuid, t.records.c.expedition_id).where(
                    t.records.c.uuid.in_(chunk), t.records.c.type == "survey"
                )
            )
            found.update({row.uuid: row.expedition_id for row in rows})
        return found

    def holders_of_find_numbers(
        self, pairs: Iterable[tuple[int, str]]
    ) -> dict[tuple[int, str], list[str]]:
        """Which finds (uuids) already carry each (expedition, find number)."""
        numbers_by_expedition: dict[int, set[str]] = {}
        for expedition_id, number in pairs:
            numbers_by_expedition.setdefault(expedition_id, set()).add(number)
        found: dict[tuple[int, str], list[str]] = {}
        # one expedition and a plain IN list: both databases probe the (expedition_id,
        # find_number) index; a row-value IN is a full scan on SQLite and a 500-way OR that
        # PostgreSQL spends 100 ms planning
        for expedition_id, numbers in sorted(numbers_by_expedition.items()):
            for chunk in _chunks(sorted(numbers)):
                rows = self._c.execute(
                    select(t.records.c.uuid, t.records.c.find_number).where(
                        t.records.c.expedition_id == expedition_id,
                        t.records.c.find_number.in_(chunk),
                        t.records.c.type == "find",
                        t.records.c.merged_into.is_(None),
                    )
                )
                for row in rows:
                    found.setdefault((expedition_id, row.find_number), []).append(row.uuid)
        return found

    def revision_data(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        wanted = sorted(set(keys))
        found: dict[tuple[str, int], str] = {}
        for chunk in _chunks(wanted):
            rows = self._c.execute(
                select(t.revisions.c.uuid, t.revisions.c.server_rev, t.revisions.c.data).where(
                    tuple_(t.revisions.c.uuid, t.revisions.c.server_rev).in_(chunk)
                )
            )
            found.update({(row.uuid, row.server_rev): row.data for row in rows})
        return found

    def device_revisions(self, device_id: str, uuids: Iterable[str]) -> set[tuple[str, int, str]]:
        """(uuid, device rev, content hash) of what this device already had accepted or parked."""
        wanted = sorted(set(uuids))
        found: set[tuple[str, int, str]] = set()
        for chunk in _chunks(wanted):
            for table in (t.revisions, t.conflicts):
                rows = self._c.execute(
                    select(table.c.uuid, table.c.device_rev, table.c.content_hash).where(
                        table.c.device_id == device_id, table.c.uuid.in_(chunk)
                    )
                )
                found.update((row.uuid, row.device_rev, row.content_hash) for row in rows)
        return found

    def conflict_of_device(self, device_id: str, uuid: str, device_rev: int, digest: str) -> bool:
        return (
            self._c.execute(
                select(t.conflicts.c.id).where(
                    t.conflicts.c.device_id == device_id,
                    t.conflicts.c.uuid == uuid,
                    t.conflicts.c.device_rev == device_rev,
                    t.conflicts.c.content_hash == digest,
                )
            ).first()
            is not None
        )

    def insert_records(self, rows: list[dict[str, Any]]) -> None:
        _bulk_insert(self._c, t.records, rows)

    def update_records(self, rows: list[dict[str, Any]]) -> None:
        """Each row: the uuid (as ``key``) and the new values of the changed columns; every
        row names the same columns."""
        if not rows:
            return
        columns = [name for name in rows[0] if name != "key"]
        mark = _marker(self._c)
        assignments = ", ".join(f"{name} = {mark}" for name in columns)
        sql = f"UPDATE {t.records.name} SET {assignments} WHERE uuid = {mark}"
        params = [
            (*(_driver_value(self._c, row[name]) for name in columns), row["key"]) for row in rows
        ]
        self._c.exec_driver_sql(sql, params)

    def insert_revisions(self, rows: list[dict[str, Any]]) -> None:
        _bulk_insert(self._c, t.revisions, rows)

    def insert_conflicts(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._c.execute(insert(t.conflicts), rows)

    def changes_since(
        self, since: int, limit: int, expedition_ids: Sequence[int] | None
    ) -> list[Any]:
        query = select(
            t.records.c.seq,
            t.records.c.type,
            t.records.c.uuid,
            t.records.c.server_rev,
            t.records.c.data,
            t.records.c.status,
            t.records.c.register_number,
            t.records.c.merged_into,
            t.records.c.flags,
            t.records.c.open_conflicts,
        ).where(t.records.c.seq > since)
        if expedition_ids is not None:
            query = query.where(t.records.c.expedition_id.in_(list(expedition_ids)))
        return self._c.execute(query.order_by(t.records.c.seq).limit(limit)).fetchall()

    def open_conflicts(self, uuids: Sequence[str]) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for chunk in _chunks(list(uuids)):
            rows = self._c.execute(
                select(t.conflicts)
                .where(t.conflicts.c.uuid.in_(chunk), t.conflicts.c.resolved_at.is_(None))
                .order_by(t.conflicts.c.id)
            )
            for row in rows:
                found.setdefault(row.uuid, []).append(row)
        return found

    def finds_for_museum(self, uuids: Sequence[str], *, lock: bool = False) -> dict[str, Any]:
        """Everything the museum's actions read of these records (columns and state), by uuid,
        a chunk per query; row-locked until commit when ``lock``. Unknown uuids are absent."""
        found: dict[str, Any] = {}
        for chunk in _chunks(sorted(set(uuids))):
            query = select(
                t.records.c.uuid,
                t.records.c.type,
                t.records.c.expedition_id,
                t.records.c.survey_uuid,
                t.records.c.find_number,
                t.records.c.server_rev,
                t.records.c.data,
                t.records.c.content_hash,
                t.records.c.status,
                t.records.c.register_number,
                t.records.c.merged_into,
                t.records.c.flags,
                t.records.c.open_conflicts,
            ).where(t.records.c.uuid.in_(chunk))
            if lock:
                query = query.with_for_update()
            found.update({row.uuid: row for row in self._c.execute(query)})
        return found

    def set_columns(self, uuid: str, values: dict[str, Any]) -> None:
        self._c.execute(update(t.records).where(t.records.c.uuid == uuid).values(**values))

    def revisions_of(self, uuid: str) -> list[Any]:
        return list(
            self._c.execute(
                select(t.revisions)
                .where(t.revisions.c.uuid == uuid)
                .order_by(t.revisions.c.server_rev)
            )
        )

    # -- reading an expedition's tracks for exports -----------------------------------------

    def stream_tracks(self, expedition_id: int, survey_uuid: str | None) -> Iterator[Any]:
        """The expedition's track records (uuid, data), one at a time."""
        query = select(t.records.c.uuid, t.records.c.data).where(
            t.records.c.expedition_id == expedition_id, t.records.c.type == "track"
        )
        if survey_uuid is not None:
            query = query.where(t.records.c.survey_uuid == survey_uuid)
        yield from self._c.execute(query.order_by(t.records.c.seq).execution_options(yield_per=50))

    def survey_exists(self, expedition_id: int, survey_uuid: str) -> bool:
        return (
            self._c.execute(
                select(t.records.c.uuid).where(
                    t.records.c.uuid == survey_uuid,
                    t.records.c.type == "survey",
                    t.records.c.expedition_id == expedition_id,
                )
            ).first()
            is not None
        )

    def count_by_type(self, expedition_id: int | None = None) -> dict[str, int]:
        query = select(t.records.c.type, func.count()).group_by(t.records.c.type)
        if expedition_id is not None:
            query = query.where(t.records.c.expedition_id == expedition_id)
        return {row[0]: row[1] for row in self._c.execute(query)}


class PushBatches:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, batch_id: str) -> Any | None:
        return self._c.execute(
            select(t.push_batches).where(t.push_batches.c.batch_id == batch_id)
        ).first()

    def add(
        self, batch_id: str, device_id: str, user_id: int, response: str, now: datetime
    ) -> None:
        self._c.execute(
            insert(t.push_batches).values(
                batch_id=batch_id,
                device_id=device_id,
                user_id=user_id,
                response=response,
                received_at=now,
            )
        )


class Devices:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def seen(self, device_id: str, user_id: int, now: datetime) -> None:
        changed = self._c.execute(
            update(t.devices)
            .where(t.devices.c.device_id == device_id)
            .values(last_seen_at=now, last_user_id=user_id)
        ).rowcount
        if not changed:
            self._c.execute(
                insert(t.devices).values(
                    device_id=device_id, first_seen_at=now, last_seen_at=now, last_user_id=user_id
                )
            )


@dataclass(frozen=True)
class AuditLine:
    """Who did what to which subject, when and why; ``detail`` is stored as JSON."""

    at: datetime
    user_id: int | None
    action: str
    subject: str
    detail: dict[str, Any]
    reason: str | None = None


class AuditLog:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        at: datetime,
        user_id: int | None,
        action: str,
        subject: str,
        detail: dict[str, Any],
        reason: str | None = None,
    ) -> None:
        self.add_many([AuditLine(at, user_id, action, subject, detail, reason)])

    def add_many(self, lines: Sequence[AuditLine]) -> None:
        """The lines in one executemany, in the order given (their ids follow it)."""
        _bulk_insert(
            self._c,
            t.audit_log,
            [
                {
                    "at": line.at,
                    "user_id": line.user_id,
                    "action": line.action,
                    "subject": line.subject,
                    "detail": json.dumps(line.detail, ensure_ascii=False, sort_keys=True),
                    "reason": line.reason,
                }
                for line in lines
            ],
        )

    def for_subject(self, subject: str) -> list[Any]:
        return list(
            self._c.execute(
                select(t.audit_log)
                .where(and_(t.audit_log.c.subject == subject))
                .order_by(t.audit_log.c.id)
            )
        )


def _marker(connection: Connection) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _driver_value(connection: Connection, value: Any) -> Any:
    # SQLAlchemy stores SQLite datetimes as this text (UTC here); PostgreSQL takes the object
    if isinstance(value, datetime) and connection.dialect.name == "sqlite":
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _bulk_insert(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """executemany straight to the driver, for the rows of a push batch.

    SQLAlchemy's per-value bind processing costs more than the insert itself on a 500-row
    batch; these columns hold plain text, numbers and UTC datetimes only.
    """
    if not rows:
        return
    columns = list(rows[0])
    mark = _marker(connection)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    times = {c for c in columns if isinstance(rows[0][c], datetime)}
    if times and connection.dialect.name == "sqlite":
        # a batch's rows share one timestamp: format each distinct one once
        texts: dict[datetime, str] = {}

        def text(value: datetime) -> str:
            if value not in texts:
                texts[value] = _driver_value(connection, value)
            return texts[value]

        params = [tuple(text(row[c]) if c in times else row[c] for c in columns) for row in rows]
    else:
        params = [tuple(row[c] for c in columns) for row in rows]
    connection.exec_driver_sql(sql, params)


def bulk_upsert(connection: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows, or replace those whose uuid the table already holds (the rows of a
    find's derived tables, rewritten whenever the find changes), in one executemany."""
    if not rows:
        return
    columns = list(rows[0])
    mark = _marker(connection)
    changes = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "uuid")
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT (uuid) DO UPDATE SET {changes}"
    )
    connection.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
