"""The numbers the server hands out next, and the data each must stay ahead of.

A counter that falls behind its data hands out a number that is already taken: a change the
pull cursor skips, a receipt number twice in the book, a find-number block overlapping one
already in the field, a conflict or audit line whose id collides. A restore loads rows with
their numbers, so it moves each counter up to its data (``catch_up``); ``field-server check``
reports any that is behind (``lags``). Both read the list below, so they agree on what a
counter is.

| counter | must be at least |
| --- | --- |
| ``change_counter.last_seq`` | the largest ``records.seq`` |
| ``records.server_rev`` of a record | the largest ``revisions.server_rev`` of that record |
| ``register_funds.last_receipt`` of a fund | the largest act number of that fund |
| ``register_acts.item_count`` of an act | the largest item of its entries |
| ``expeditions.next_find_number`` | one past the last number of the expedition's blocks |
| each PostgreSQL sequence of an integer key | the largest key of its table |
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, inspect, text

from field_server.adapters.table_dump import quoted, stored_tables

SHOWN_PER_COUNTER = 20  # lags listed per counter; a check of a broken database stays readable


@dataclass(frozen=True)
class CounterLag:
    counter: str
    subject: str
    value: int  # what the counter says
    needed: int  # what the data needs it to be at least

    def words(self) -> str:
        return (
            f"{self.subject}: {self.counter} is {self.value}, behind its data "
            f"(needs at least {self.needed})"
        )


@dataclass(frozen=True)
class Counter:
    name: str
    tables: tuple[str, ...]  # the counter is only looked at when all of them exist
    lag_sql: str  # rows (subject, value, needed) where the counter is behind
    catch_up_sql: str | None  # None: nothing a restore could move

    def lags(self, connection: Connection) -> list[CounterLag]:
        rows = connection.execute(text(self.lag_sql)).all()
        return [CounterLag(self.name, str(subject), int(v), int(n)) for subject, v, n in rows]

    def catch_up(self, connection: Connection) -> None:
        if self.catch_up_sql is not None:
            connection.execute(text(self.catch_up_sql))


# Written in SQL both databases speak; each lag query names its subject for a person.
COUNTERS: tuple[Counter, ...] = (
    Counter(
        "change_counter.last_seq",
        ("change_counter", "records"),
        "SELECT 'the change cursor', c.last_seq, m.top FROM change_counter c, "
        "(SELECT max(seq) AS top FROM records) m WHERE m.top IS NOT NULL AND c.last_seq < m.top",
        "UPDATE change_counter SET last_seq = (SELECT max(seq) FROM records) "
        "WHERE last_seq < (SELECT coalesce(max(seq), 0) FROM records)",
    ),
    Counter(
        "records.server_rev",
        ("records", "revisions"),
        "SELECT 'record ' || r.uuid, r.server_rev, m.top FROM records r JOIN "
        "(SELECT uuid, max(server_rev) AS top FROM revisions GROUP BY uuid) m "
        "ON m.uuid = r.uuid WHERE r.server_rev < m.top ORDER BY r.uuid",
        "UPDATE records SET server_rev = (SELECT max(v.server_rev) FROM revisions v "
        "WHERE v.uuid = records.uuid) WHERE server_rev < (SELECT coalesce(max(v.server_rev), 0) "
        "FROM revisions v WHERE v.uuid = records.uuid)",
    ),
    Counter(
        "register_funds.last_receipt",
        ("register_funds", "register_acts"),
        "SELECT 'fund ' || f.fund, f.last_receipt, m.top FROM register_funds f JOIN "
        "(SELECT fund, max(act_number) AS top FROM register_acts GROUP BY fund) m "
        "ON m.fund = f.fund WHERE f.last_receipt < m.top ORDER BY f.fund",
        "UPDATE register_funds SET last_receipt = (SELECT max(a.act_number) FROM "
        "register_acts a WHERE a.fund = register_funds.fund) WHERE last_receipt < "
        "(SELECT coalesce(max(a.act_number), 0) FROM register_acts a "
        "WHERE a.fund = register_funds.fund)",
    ),
    Counter(
        # an act's items are numbered when it is made and never after, so a lag here is
        # damage to report, not a counter a restore could move
        "register_acts.item_count",
        ("register_acts", "register_entries"),
        "SELECT 'act ' || a.fund || ' ' || a.act_number, a.item_count, m.top "
        "FROM register_acts a JOIN (SELECT fund, act_number, max(item) AS top "
        "FROM register_entries GROUP BY fund, act_number) m "
        "ON m.fund = a.fund AND m.act_number = a.act_number WHERE a.item_count < m.top "
        "ORDER BY a.fund, a.act_number",
        None,
    ),
    Counter(
        "expeditions.next_find_number",
        ("expeditions", "number_blocks"),
        "SELECT 'expedition ' || e.code, e.next_find_number, m.top + 1 FROM expeditions e JOIN "
        "(SELECT expedition_id, max(last_number) AS top FROM number_blocks "
        "GROUP BY expedition_id) m ON m.expedition_id = e.id "
        "WHERE e.next_find_number <= m.top ORDER BY e.code",
        "UPDATE expeditions SET next_find_number = (SELECT max(b.last_number) + 1 FROM "
        "number_blocks b WHERE b.expedition_id = expeditions.id) WHERE next_find_number <= "
        "(SELECT coalesce(max(b.last_number), 0) FROM number_blocks b "
        "WHERE b.expedition_id = expeditions.id)",
    ),
)


def counter_lags(connection: Connection) -> list[CounterLag]:
    """Every counter behind its data, the table counters first, then the key sequences."""
    present = set(inspect(connection).get_table_names())
    lags: list[CounterLag] = []
    for counter in COUNTERS:
        if set(counter.tables) <= present:
            lags.extend(counter.lags(connection)[:SHOWN_PER_COUNTER])
    for sequence in key_sequences(connection):
        lag = sequence.lag(connection)
        if lag is not None:
            lags.append(lag)
    return lags


def catch_up_counters(connection: Connection) -> None:
    """Move every counter up to its data, never down."""
    present = set(inspect(connection).get_table_names())
    for counter in COUNTERS:
        if set(counter.tables) <= present:
            counter.catch_up(connection)
    for sequence in key_sequences(connection):
        sequence.catch_up(connection)


@dataclass(frozen=True)
class KeySequence:
    """A PostgreSQL sequence that numbers an integer key (SERIAL or IDENTITY). SQLite needs
    none: its integer keys take one past the largest stored key."""

    table: str
    column: str
    sequence: str

    def _top(self, connection: Connection) -> int | None:
        sql = f"SELECT max({quoted(connection, self.column)}) FROM {quoted(connection, self.table)}"
        return connection.exec_driver_sql(sql).scalar()

    def lag(self, connection: Connection) -> CounterLag | None:
        top = self._top(connection)
        if top is None:
            return None
        last, called = connection.exec_driver_sql(
            f"SELECT last_value, is_called FROM {self.sequence}"
        ).one()
        following = last + 1 if called else last
        if following > top:
            return None
        return CounterLag(
            f"sequence {self.sequence}", f"{self.table}.{self.column}", following - 1, top
        )

    def catch_up(self, connection: Connection) -> None:
        top = self._top(connection)
        if top is None:
            return
        # setval to the larger of the two, so a sequence already ahead is left ahead
        connection.exec_driver_sql(
            f"SELECT setval('{self.sequence}', greatest({top}, "
            f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
            f"FROM {self.sequence})), true)"
        )


# The change counter's one row is written by the first migration with its id; nothing ever
# takes a number from its sequence, so that sequence is no counter.
_NOT_COUNTERS = {"change_counter"}


def key_sequences(connection: Connection) -> list[KeySequence]:
    if connection.dialect.name != "postgresql":
        return []
    found = []
    for table in stored_tables(connection):
        if table.name in _NOT_COUNTERS:
            continue
        integers = [name for name, kind in table.columns if kind == "integer"]
        for column in integers:
            sequence = connection.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%(table)s, %(column)s)",
                {"table": quoted(connection, table.name), "column": column},
            ).scalar()
            if sequence:
                found.append(KeySequence(table.name, column, sequence))
    return found
