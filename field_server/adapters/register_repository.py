"""The accession register's queries: fund counters, acts, entries and amendments.

Acts, entries and amendments are only inserted and read here; the database refuses any
UPDATE or DELETE of them (migration 0004).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_, update

from field_server.adapters import tables as t
from field_server.adapters.repositories import _chunks


class Register:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def lock_fund(self, fund: str) -> int:
        """The fund's last receipt number, with its counter row locked until commit."""
        return self._c.execute(
            select(t.register_funds.c.last_receipt)
            .where(t.register_funds.c.fund == fund)
            .with_for_update()
        ).scalar_one()

    def set_last_receipt(self, fund: str, receipt: int) -> None:
        self._c.execute(
            update(t.register_funds)
            .where(t.register_funds.c.fund == fund)
            .values(last_receipt=receipt)
        )

    def last_receipts(self) -> dict[str, int]:
        rows = self._c.execute(select(t.register_funds))
        return {row.fund: row.last_receipt for row in rows}

    def add_act(self, values: dict[str, Any]) -> None:
        self._c.execute(insert(t.register_acts).values(**values))

    def add_entries(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._c.execute(insert(t.register_entries), rows)

    def act(self, fund: str, act_number: int) -> Any | None:
        return self._c.execute(
            select(t.register_acts, t.users.c.username.label("created_by_name"))
            .join(t.users, t.users.c.id == t.register_acts.c.created_by)
            .where(t.register_acts.c.fund == fund, t.register_acts.c.act_number == act_number)
        ).first()

    def entries(
        self,
        fund: str | None = None,
        act_number: int | None = None,
        item: int | None = None,
        *,
        after: tuple[str, int, int] | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Entries in register order (fund, receipt, item), narrowed by what is given: those
        after the (fund, receipt, item) ``after``, at most ``limit`` of them."""
        e = t.register_entries.c
        query = select(t.register_entries)
        if fund is not None:
            query = query.where(e.fund == fund)
        if act_number is not None:
            query = query.where(e.act_number == act_number)
        if item is not None:
            query = query.where(e.item == item)
        if after is not None:
            # a row-value comparison walks the (fund, act_number, item) unique index
            query = query.where(tuple_(e.fund, e.act_number, e.item) > tuple_(*after))
        query = query.order_by(e.fund, e.act_number, e.item)
        if limit is not None:
            query = query.limit(limit)
        return list(self._c.execute(query))

    def amendments_of(self, entry_ids: Sequence[int]) -> dict[int, list[Any]]:
        found: dict[int, list[Any]] = {}
        for chunk in _chunks(sorted(set(entry_ids))):
            rows = self._c.execute(
                select(t.register_amendments, t.users.c.username)
                .join(t.users, t.users.c.id == t.register_amendments.c.user_id)
                .where(t.register_amendments.c.entry_id.in_(chunk))
                .order_by(t.register_amendments.c.id)
            )
            for row in rows:
                found.setdefault(row.entry_id, []).append(row)
        return found

    def add_amendment(self, values: dict[str, Any]) -> int:
        return self._c.execute(
            insert(t.register_amendments).values(**values).returning(t.register_amendments.c.id)
        ).scalar_one()

    def approved_finds(self, expedition_id: int) -> list[tuple[str, str | None]]:
        """(uuid, find number) of the expedition's approved finds, in no particular order."""
        rows = self._c.execute(
            select(t.records.c.uuid, t.records.c.find_number).where(
                t.records.c.expedition_id == expedition_id,
                t.records.c.type == "find",
                t.records.c.status == "approved",
            )
        )
        return [(row.uuid, row.find_number) for row in rows]
