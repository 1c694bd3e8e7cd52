"""What the review of one find reads and settles: its conflicts and the names behind user ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select, update

from field_server.adapters import tables as t


class FindHistory:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def conflicts_of(self, uuid: str) -> list[Any]:
        return list(
            self._c.execute(
                select(t.conflicts).where(t.conflicts.c.uuid == uuid).order_by(t.conflicts.c.id)
            )
        )

    def conflict(self, conflict_id: int, *, lock: bool = False) -> Any | None:
        query = select(t.conflicts).where(t.conflicts.c.id == conflict_id)
        if lock:
            query = query.with_for_update()
        return self._c.execute(query).first()

    def resolve(self, conflict_id: int, values: dict[str, Any]) -> None:
        self._c.execute(update(t.conflicts).where(t.conflicts.c.id == conflict_id).values(**values))

    def usernames(self, ids: Iterable[int | None]) -> dict[int, str]:
        wanted = sorted({i for i in ids if i is not None})
        if not wanted:
            return {}
        rows = self._c.execute(
            select(t.users.c.id, t.users.c.username).where(t.users.c.id.in_(wanted))
        )
        return {row.id: row.username for row in rows}
