"""Local records: what the laptop holds of each survey and find, and its revisions."""

from __future__ import annotations

import json
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

from field_client import outbox
from field_client.errors import ClientError
from field_client.store import now_utc
from field_core.content_hash import canonical_json

_COLUMNS = (
    "uuid, type, survey_uuid, data, rev, base_rev, server_data, awaiting_pull, state, flags, "
    "rejected_rev, problems, created_at, updated_at"
)


@dataclass(frozen=True)
class LocalRecord:
    uuid: str
    type: str
    survey_uuid: str | None
    data: dict[str, Any]
    rev: int
    base_rev: int
    server_data: dict[str, Any] | None
    awaiting_pull: bool
    state: dict[str, Any] | None
    flags: list[dict[str, Any]]
    rejected_rev: int | None
    problems: list[dict[str, str]]
    created_at: str
    updated_at: str

    @property
    def rejected(self) -> bool:
        """The server refused the current local version; it waits for a correction."""
        return self.rejected_rev is not None and self.rejected_rev == self.rev


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _from_row(row: tuple[Any, ...]) -> LocalRecord:
    return LocalRecord(
        uuid=row[0],
        type=row[1],
        survey_uuid=row[2],
        data=json.loads(row[3]),
        rev=row[4],
        base_rev=row[5],
        server_data=_loads(row[6]),
        awaiting_pull=bool(row[7]),
        state=_loads(row[8]),
        flags=_loads(row[9]) or [],
        rejected_rev=row[10],
        problems=_loads(row[11]) or [],
        created_at=row[12],
        updated_at=row[13],
    )


def survey_of(kind: str, data: dict[str, Any], uuid: str) -> str | None:
    """The survey a record belongs to: a survey is its own, the others name theirs."""
    if kind == "survey":
        return uuid
    value = data.get("survey_uuid")
    return value if isinstance(value, str) else None


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def get(connection: sqlite3.Connection, uuid: str) -> LocalRecord | None:
    row = connection.execute(f"SELECT {_COLUMNS} FROM record WHERE uuid = ?", (uuid,)).fetchone()
    return None if row is None else _from_row(row)


def get_many(connection: sqlite3.Connection, uuids: list[str]) -> dict[str, LocalRecord]:
    found: dict[str, LocalRecord] = {}
    for start in range(0, len(uuids), 500):
        chunk = uuids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in connection.execute(
            f"SELECT {_COLUMNS} FROM record WHERE uuid IN ({marks})", chunk
        ):
            record = _from_row(row)
            found[record.uuid] = record
    return found


def holder_of_number(
    connection: sqlite3.Connection, expedition_code: str, number: str, other_than: str = ""
) -> str | None:
    """The uuid of a find (other than ``other_than``) with this number in the expedition.

    The expressions match the index record_find_number, so this is one index probe."""
    row = connection.execute(
        "SELECT uuid FROM record WHERE type = 'find' "
        "AND json_extract(data, '$.expedition_code') = ? "
        "AND json_extract(data, '$.find_number') = ? AND uuid != ? LIMIT 1",
        (expedition_code, number, other_than),
    ).fetchone()
    return None if row is None else str(row[0])


def find_one(connection: sqlite3.Connection, kind: str, key: str) -> LocalRecord:
    """The record of ``kind`` with this uuid, or with this unambiguous uuid prefix."""
    key = key.strip().lower()
    if len(key) < 4:
        raise ClientError(f"give the {kind}'s uuid (at least its first 4 characters)")
    pattern = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM record WHERE type = ? AND uuid LIKE ? ESCAPE '\\' LIMIT 2",
        (kind, pattern),
    ).fetchall()
    if not rows:
        raise ClientError(f"no {kind} {key} on this laptop")
    if len(rows) > 1:
        raise ClientError(f"{key} names more than one {kind}; give more of the uuid")
    return _from_row(rows[0])


def list_of(
    connection: sqlite3.Connection, kind: str, survey_uuid: str | None = None
) -> list[LocalRecord]:
    sql = f"SELECT {_COLUMNS} FROM record WHERE type = ?"
    params: list[Any] = [kind]
    if survey_uuid is not None:
        sql += " AND survey_uuid = ?"
        params.append(survey_uuid)
    sql += " ORDER BY created_at, uuid"
    return [_from_row(row) for row in connection.execute(sql, params)]


def create(
    connection: sqlite3.Connection, kind: str, data: dict[str, Any], uuid: str | None = None
) -> LocalRecord:
    """A record made on this laptop: local revision 1 of a record the server has not seen."""
    uuid = uuid or new_uuid()
    now = now_utc()
    connection.execute(
        "INSERT INTO record (uuid, type, survey_uuid, data, rev, base_rev, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 1, 0, ?, ?)",
        (uuid, kind, survey_of(kind, data, uuid), canonical_json(data), now, now),
    )
    outbox.enqueue(connection, uuid, 1)
    record = get(connection, uuid)
    assert record is not None
    return record


def revise(connection: sqlite3.Connection, record: LocalRecord, data: dict[str, Any]) -> int:
    """A local edit: the next local revision, waiting in the outbox. Returns the new rev.

    A record with an open conflict takes no edit: the conflict's resolution is the next one.
    """
    if connection.execute(
        "SELECT 1 FROM conflict WHERE uuid = ? AND resolved_at IS NULL", (record.uuid,)
    ).fetchone():
        raise ClientError(
            f"{label(record)} ({record.uuid}) has an open conflict: resolve it first "
            "(field-client conflicts)"
        )
    rev = record.rev + 1
    connection.execute(
        "UPDATE record SET data = ?, rev = ?, survey_uuid = ?, updated_at = ? WHERE uuid = ?",
        (
            canonical_json(data),
            rev,
            survey_of(record.type, data, record.uuid),
            now_utc(),
            record.uuid,
        ),
    )
    outbox.enqueue(connection, record.uuid, rev)
    return rev


def insert_from_server(
    connection: sqlite3.Connection,
    kind: str,
    uuid: str,
    server_rev: int,
    data_text: str,
    state: dict[str, Any] | None,
) -> None:
    """A record first seen in a pull (another device's, or the museum's): nothing to send."""
    now = now_utc()
    connection.execute(
        "INSERT INTO record (uuid, type, survey_uuid, data, rev, base_rev, server_data, state, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
        (
            uuid,
            kind,
            survey_of(kind, json.loads(data_text), uuid),
            data_text,
            server_rev,
            data_text,
            _dumps(state),
            now,
            now,
        ),
    )


def update(connection: sqlite3.Connection, uuid: str, **columns: Any) -> None:
    """Set columns of one record; dicts and lists are stored as canonical JSON."""
    allowed = {
        "data",
        "rev",
        "base_rev",
        "server_data",
        "awaiting_pull",
        "state",
        "flags",
        "rejected_rev",
        "problems",
    }
    unknown = set(columns) - allowed
    if unknown:
        raise ValueError(f"not record columns: {sorted(unknown)}")
    values = {name: _dumps(value) for name, value in columns.items()}
    if "data" in columns and isinstance(columns["data"], dict):
        kind = connection.execute("SELECT type FROM record WHERE uuid = ?", (uuid,)).fetchone()[0]
        values["survey_uuid"] = survey_of(kind, columns["data"], uuid)
    values["updated_at"] = now_utc()
    assignments = ", ".join(f"{name} = ?" for name in values)
    connection.execute(f"UPDATE record SET {assignments} WHERE uuid = ?", (*values.values(), uuid))


def _dumps(value: Any) -> Any:
    if isinstance(value, dict | list):
        return canonical_json(value)
    if isinstance(value, bool):
        return int(value)
    return value


def label(record: LocalRecord) -> str:
    """How a person recognises the record: a find by its number and name, a survey by title."""
    data = record.data
    if record.type == "find":
        return f"{data.get('find_number', '?')} {data.get('object_name', '')}".strip()
    if record.type == "survey":
        return f"{data.get('expedition_code', '?')}: {data.get('title', '')}"
    if record.type == "submission":
        return f"phone submission {data.get('instance_id', '?')}"
    return str(data.get("name") or data.get("source_file") or data.get("sha256") or record.uuid)
