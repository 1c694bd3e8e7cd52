"""Local conflicts: a local edit and a server revision that changed the same field differently."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from field_client import outbox, records
from field_client.errors import ClientError
from field_client.merge import ResolutionError, Side, resolve, three_way
from field_client.store import now_utc
from field_core.content_hash import canonical_json
from field_core.validation import validate_record_data


@dataclass(frozen=True)
class Conflict:
    id: int
    uuid: str
    origin: str  # "push": the server answered conflict; "pull": found when applying a pull
    base: dict[str, Any] | None
    mine: dict[str, Any]
    theirs: dict[str, Any] | None  # None until a pull brings the server's side
    theirs_rev: int
    detected_at: str

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields both sides changed differently (empty while the server's side is unknown)."""
        if self.theirs is None:
            return ()
        return three_way(self.base, self.mine, self.theirs).clashes


_COLUMNS = "id, uuid, origin, base, mine, theirs, theirs_rev, detected_at"


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _from_row(row: tuple[Any, ...]) -> Conflict:
    return Conflict(
        row[0], row[1], row[2], _loads(row[3]), json.loads(row[4]), _loads(row[5]), row[6], row[7]
    )


def open_conflict(connection: sqlite3.Connection, uuid: str) -> Conflict | None:
    row = connection.execute(
        f"SELECT {_COLUMNS} FROM conflict WHERE uuid = ? AND resolved_at IS NULL", (uuid,)
    ).fetchone()
    return None if row is None else _from_row(row)


def open_conflicts(connection: sqlite3.Connection) -> list[Conflict]:
    return [
        _from_row(row)
        for row in connection.execute(
            f"SELECT {_COLUMNS} FROM conflict WHERE resolved_at IS NULL ORDER BY id"
        )
    ]


def record_conflict(
    connection: sqlite3.Connection,
    record: records.LocalRecord,
    origin: str,
    theirs: dict[str, Any] | None,
    theirs_rev: int,
) -> None:
    """Park the local version beside the server's: nothing is sent for it until a person
    resolves it, and neither side is lost. The local edits leave the outbox; the resolution
    enters it as a new edit."""
    connection.execute(
        "INSERT INTO conflict (uuid, origin, base, mine, theirs, theirs_rev, detected_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record.uuid,
            origin,
            None if record.server_data is None else canonical_json(record.server_data),
            canonical_json(record.data),
            None if theirs is None else canonical_json(theirs),
            theirs_rev,
            now_utc(),
        ),
    )
    outbox.settle(connection, record.uuid, record.rev)


def server_side_moved(
    connection: sqlite3.Connection, conflict: Conflict, theirs_text: str, server_rev: int
) -> None:
    """A pull brought the server's side (or a newer one) of an open conflict.

    When the server now holds exactly the local version (someone at the museum took it), the
    conflict is over without a person.
    """
    if server_rev < conflict.theirs_rev and conflict.theirs is not None:
        return
    theirs = json.loads(theirs_text)
    if theirs == conflict.mine:
        _close(connection, conflict.id, "the server holds the local version")
        records.update(
            connection,
            conflict.uuid,
            data=theirs,
            base_rev=server_rev,
            server_data=theirs,
            rejected_rev=None,
            problems=None,
        )
        return
    connection.execute(
        "UPDATE conflict SET theirs = ?, theirs_rev = ? WHERE id = ?",
        (theirs_text, server_rev, conflict.id),
    )


def _close(connection: sqlite3.Connection, conflict_id: int, resolution: str) -> None:
    connection.execute(
        "UPDATE conflict SET resolved_at = ?, resolution = ? WHERE id = ?",
        (now_utc(), resolution, conflict_id),
    )


def resolve_conflict(
    connection: sqlite3.Connection,
    uuid: str,
    keep: Side | None,
    fields: Mapping[str, Side],
) -> tuple[records.LocalRecord, bool]:
    """Resolve the open conflict of a record: a new local edit based on the server's revision.

    Returns the record and whether anything goes back to the server (keeping theirs entirely
    leaves nothing to send).
    """
    conflict = open_conflict(connection, uuid)
    if conflict is None:
        raise ClientError(f"record {uuid} has no open conflict")
    if conflict.theirs is None:
        raise ClientError(
            "the server's side of this conflict has not been pulled yet: run field-client pull"
        )
    record = records.get(connection, uuid)
    assert record is not None
    try:
        resolved = resolve(conflict.base, conflict.mine, conflict.theirs, keep, fields)
    except ResolutionError as error:
        raise ClientError(str(error)) from None
    normalised, problems = validate_record_data(record.type, resolved)
    if normalised is None:
        detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ClientError(f"the resolved version is not valid: {detail}")
    summary = "kept " + (keep or "field by field")
    _close(connection, conflict.id, summary)
    # The resolution starts from the server's revision, so the server takes it as an update.
    records.update(
        connection,
        uuid,
        data=conflict.theirs,
        base_rev=conflict.theirs_rev,
        server_data=conflict.theirs,
        rejected_rev=None,
        problems=None,
        awaiting_pull=False,
    )
    if normalised == conflict.theirs:
        outbox.settle(connection, uuid, record.rev)
        refreshed = records.get(connection, uuid)
        assert refreshed is not None
        return refreshed, False
    current = records.get(connection, uuid)
    assert current is not None
    records.revise(connection, current, normalised)
    refreshed = records.get(connection, uuid)
    assert refreshed is not None
    return refreshed, True
