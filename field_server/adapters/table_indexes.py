"""A table's secondary indexes set aside while a restore loads its rows, and made again after.

Inserting rows one at a time into a table with indexes updates every index per row, each in
its own B-tree page order; building an index once over rows already there sorts them and
writes each page once. So a restore drops the indexes no constraint needs, loads, and makes
them again from the definitions the database itself gave, inside its one transaction: the
schema ends as it began, and a failure takes the drop back with everything else.

Kept in place: primary keys and the indexes backing a constraint (SQLite's ``sqlite_autoindex``
ones, PostgreSQL's constraint indexes), and any unique index that a foreign key refers to,
since the database checks each child row against it during the load. A unique index set aside
guards the data when it is made again: rows breaking it make the creation fail, and the whole
restore is rolled back with the index named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from field_server.adapters.database import error_line
from field_server.adapters.table_dump import quoted

# PostgreSQL builds each index by sorting in this much memory before it spills to disk; the
# session's default (64 MB) spills for a table of 100,000 rows with a text key
POSTGRES_INDEX_MEMORY = "256MB"


class IndexBroken(ValueError):
    """Rows just loaded break a unique index; the message names it, in one line."""


@dataclass(frozen=True)
class SecondaryIndex:
    name: str
    table: str
    definition: str  # the statement that makes it, as the database keeps it
    unique: bool


def secondary_indexes(connection: Connection) -> list[SecondaryIndex]:
    """The indexes of the current schema that a load can go without, by name."""
    if connection.dialect.name == "sqlite":
        return _sqlite_indexes(connection)
    if connection.dialect.name == "postgresql":
        return _postgres_indexes(connection)
    return []


def drop_indexes(connection: Connection, indexes: Sequence[SecondaryIndex]) -> None:
    for index in indexes:
        connection.exec_driver_sql(f"DROP INDEX {_qualified(connection, index.name)}")


def create_indexes(connection: Connection, indexes: Sequence[SecondaryIndex]) -> None:
    """Make each index again from its saved definition; ``IndexBroken`` when the rows break
    a unique one (the caller's transaction is then only fit to be rolled back)."""
    if not indexes:
        return
    if connection.dialect.name == "postgresql":
        # for this transaction only; it ends with the restore
        connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{POSTGRES_INDEX_MEMORY}'")
    for index in indexes:
        try:
            connection.exec_driver_sql(index.definition)
        except IntegrityError as error:
            raise IndexBroken(
                f"the archive's rows of table {index.table} break its unique index "
                f"{index.name}: {error_line(error)}"
            ) from None


def _sqlite_indexes(connection: Connection) -> list[SecondaryIndex]:
    # indexes with no SQL text are the ones SQLite made for a PRIMARY KEY or UNIQUE constraint
    rows = connection.exec_driver_sql(
        "SELECT name, tbl_name, sql FROM sqlite_master "
        "WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
    ).all()
    referred = _sqlite_referred_keys(connection)
    found = []
    for name, table, sql in rows:
        unique = bool(
            connection.exec_driver_sql(
                'SELECT "unique" FROM pragma_index_list(?) WHERE name = ?', (table, name)
            ).scalar()
        )
        if unique:
            columns = frozenset(
                row[0]
                for row in connection.exec_driver_sql(
                    "SELECT name FROM pragma_index_info(?)", (name,)
                )
            )
            if (table, columns) in referred:
                continue  # a foreign key's parent key: SQLite checks child rows against it
        found.append(SecondaryIndex(name, table, sql, unique))
    return found


def _sqlite_referred_keys(connection: Connection) -> set[tuple[str, frozenset[str]]]:
    """(table, columns) of every parent key a foreign key names explicitly (one naming none
    refers to the primary key, which stays)."""
    tables = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    ).scalars()
    keys: dict[tuple[str, int], tuple[str, set[str]]] = {}
    for child in list(tables):
        for row in connection.exec_driver_sql(
            'SELECT id, "table", "to" FROM pragma_foreign_key_list(?)', (child,)
        ):
            key_id, parent, column = row
            if column is None:
                continue
            keys.setdefault((child, key_id), (parent, set()))[1].add(column)
    return {(parent, frozenset(columns)) for parent, columns in keys.values()}


def _postgres_indexes(connection: Connection) -> list[SecondaryIndex]:
    # an index backing any constraint (primary key, unique, exclusion) or that a foreign key
    # relies on has its oid in pg_constraint.conindid
    rows = connection.exec_driver_sql(
        "SELECT index_class.relname, table_class.relname, pg_get_indexdef(i.indexrelid), "
        "i.indisunique "
        "FROM pg_index i "
        "JOIN pg_class index_class ON index_class.oid = i.indexrelid "
        "JOIN pg_class table_class ON table_class.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = table_class.relnamespace "
        "WHERE n.nspname = current_schema() AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY index_class.relname"
    ).all()
    return [SecondaryIndex(name, table, sql, unique) for name, table, sql, unique in rows]


def _qualified(connection: Connection, name: str) -> str:
    if connection.dialect.name == "postgresql":
        # the definitions name the schema; the drop names it too, whatever the search path
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
        return f"{quoted(connection, schema)}.{quoted(connection, name)}"
    return quoted(connection, name)
