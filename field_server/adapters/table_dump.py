"""Rows of any table in a form neither database owns, and back.

A row travels as a JSON array of its values in column order: integers, floats, text and
booleans as JSON has them, datetimes as ISO 8601 text with the UTC offset, dates as ISO dates,
bytes as base64. Each backend's driver gives and takes its own forms (SQLite keeps a datetime
as ``YYYY-MM-DD HH:MM:SS.ffffff`` text in UTC, PostgreSQL as ``timestamptz``), so the
converters are made per backend and per column once, and rows go to and from the driver
straight, without SQLAlchemy's per-value processing: a backup of 100,000 finds moves well over
a million values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    inspect,
)

MIGRATIONS_TABLE = "alembic_version"  # the schema revision, which the manifest carries
READ_BATCH = 2000
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite

Converter = Callable[[Any], Any]


class UnknownColumnType(ValueError):
    pass


class RowProblem(ValueError):
    """A row of an archive that cannot be loaded; the message says which table, in one line."""


@dataclass(frozen=True)
class StoredTable:
    """A table as the database holds it now: its columns with their kinds, its key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]


def stored_tables(connection: Connection) -> list[StoredTable]:
    """Every table of the schema but the migrations' own, parents before the tables that
    refer to them (the order rows can be loaded in with foreign keys checked)."""
    metadata = MetaData()
    metadata.reflect(bind=connection)
    found = []
    for table in metadata.sorted_tables:
        if table.name == MIGRATIONS_TABLE:
            continue
        found.append(
            StoredTable(
                table.name,
                tuple((column.name, column_kind(table, column.name)) for column in table.columns),
                tuple(column.name for column in table.primary_key.columns),
            )
        )
    return found


def column_kind(table: Table, name: str) -> str:
    kind = table.c[name].type
    # Boolean before Integer, DateTime before String: some dialect types are both
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, DateTime):
        return "datetime"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Float | Numeric):
        return "float"
    if isinstance(kind, LargeBinary):
        return "bytes"
    if isinstance(kind, String):
        return "text"
    raise UnknownColumnType(f"column {table.name}.{name} has a type backups do not know: {kind}")


def quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def read_rows(connection: Connection, table: StoredTable) -> Iterator[list[list[Any]]]:
    """The table's rows in key order, in batches, each row as its JSON values."""
    names = ", ".join(quoted(connection, name) for name, _ in table.columns)
    order = ", ".join(quoted(connection, name) for name in table.primary_key)
    sql = f"SELECT {names} FROM {quoted(connection, table.name)}"
    if order:
        sql += f" ORDER BY {order}"
    encoders = [encoder(connection.dialect.name, kind) for _, kind in table.columns]
    # yield_per: a server-side cursor on PostgreSQL, batches of fetchmany on SQLite, so a
    # table is never held whole
    result = connection.execution_options(yield_per=READ_BATCH).exec_driver_sql(sql)
    for batch in result.partitions(READ_BATCH):
        yield [
            [
                None if value is None else encode(value)
                for encode, value in zip(encoders, row, strict=True)
            ]
            for row in batch
        ]


def row_decoder(backend: str, kinds: Sequence[str]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """Turns a row's JSON values into the values the driver of ``backend`` takes."""
    decoders = [_decoder(backend, kind) for kind in kinds]
    width = len(decoders)

    def decode(values: list[Any]) -> tuple[Any, ...]:
        if not isinstance(values, list) or len(values) != width:
            raise ValueError(f"a row of {width} values was expected, not {str(values)[:80]}")
        return tuple(
            None if value is None else convert(value)
            for convert, value in zip(decoders, values, strict=True)
        )

    return decode


def insert_rows(
    connection: Connection, table: StoredTable, rows: Sequence[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    names = [quoted(connection, name) for name, _ in table.columns]
    target = f"{quoted(connection, table.name)} ({', '.join(names)})"
    if connection.dialect.name == "postgresql":
        # COPY takes rows about ten times faster than INSERT does, and psycopg adapts each
        # value by its Python type as it does for parameters
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    marks = ", ".join("?" * len(names))
    connection.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks})", list(rows))


def encoder(backend: str, kind: str) -> Converter:
    """How a value of ``kind`` as the driver of ``backend`` gives it becomes a JSON value."""
    if kind == "datetime":
        return _datetime_text
    if kind == "date":
        return lambda value: value if isinstance(value, str) else value.isoformat()
    if kind == "boolean":
        return bool
    if kind == "integer":
        return int
    if kind == "float":
        return float
    if kind == "bytes":
        return lambda value: base64.b64encode(bytes(value)).decode("ascii")
    return _same


def _decoder(backend: str, kind: str) -> Converter:
    sqlite = backend == "sqlite"
    if kind == "datetime":
        return _sqlite_datetime if sqlite else _utc_datetime
    if kind == "date":
        return _iso_date_text if sqlite else date.fromisoformat
    if kind == "boolean":
        return _boolean
    if kind == "integer":
        return _integer
    if kind == "float":
        return _float
    if kind == "bytes":
        return lambda value: base64.b64decode(_text(value), validate=True)
    return _text


def _same(value: Any) -> Any:
    return value


def _datetime_text(value: Any) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    # the server writes UTC; SQLite keeps no offset, so a time without one is UTC
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _utc_datetime(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError(f"a time without its UTC offset: {value[:40]!r}")
    return moment.astimezone(UTC)


def _sqlite_datetime(value: Any) -> str:
    return _utc_datetime(value).strftime(SQLITE_DATETIME)


def _iso_date_text(value: Any) -> str:
    return date.fromisoformat(_text(value)).isoformat()


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"not a boolean: {str(value)[:40]}")
    return value


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"not an integer: {str(value)[:40]}")
    return value


def _float(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"not a number: {str(value)[:40]}")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {str(value)[:40]}")
    return value


# Rows the migrations themselves write into an empty database: the change counter at 0 and
# both register funds at receipt 0. A database holding only these holds no museum data.
_SEED_ROWS = {
    "change_counter": "SELECT count(*) FROM change_counter WHERE NOT (id = 1 AND last_seq = 0)",
    "register_funds": "SELECT count(*) FROM register_funds WHERE last_receipt <> 0",
}


def table_with_data(connection: Connection) -> str | None:
    """The first table holding a row that is not a migration's seed, or None."""
    for name in sorted(inspect(connection).get_table_names()):
        if name == MIGRATIONS_TABLE:
            continue
        sql = _SEED_ROWS.get(name) or f"SELECT count(*) FROM {quoted(connection, name)}"
        if connection.exec_driver_sql(sql).scalar():
            return name
    return None


def clear_seed_rows(connection: Connection, tables: Sequence[StoredTable]) -> None:
    """Empty the tables (children first) of a database ``table_with_data`` found empty, so
    the archive's own counter and fund rows take the seeds' place."""
    for table in reversed(tables):
        if table.name in _SEED_ROWS:
            connection.exec_driver_sql(f"DELETE FROM {quoted(connection, table.name)}")


def load_lines(
    connection: Connection, table: StoredTable, kinds: Sequence[str], lines: bytes
) -> int:
    """Insert rows given as JSON lines (each ending with a newline), one value at a time in
    Python: the way for values the SQL of ``table_sql`` does not take as they stand, and the
    one that says which value of which table an archive gets wrong."""
    decode = row_decoder(connection.dialect.name, kinds)
    rows = []
    for line in lines.splitlines():
        try:
            rows.append(decode(json.loads(line)))
        except ValueError as error:
            raise RowProblem(f"a row of table {table.name} cannot be read: {error}") from None
    insert_rows(connection, table, rows)
    return len(rows)
