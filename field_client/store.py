"""The local SQLite store: opened with WAL and synchronous=FULL checked, and its transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from field_client.errors import ClientError
from field_client.schema import migrate

BUSY_TIMEOUT_S = 30.0
SYNCHRONOUS_FULL = 2


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Store:
    """One connection to the store. Every change happens inside ``transaction()``.

    The connection runs in autocommit mode and transactions are opened explicitly with
    BEGIN IMMEDIATE: the write lock is taken at the start, so two commands running at once (a
    ``find add`` during a ``sync``) queue up instead of failing halfway with "database is locked".
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        try:
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise ClientError(f"cannot open the store {path}: {error}") from None
        try:
            _check_pragmas(connection, path)
            migrate(connection)
        except sqlite3.DatabaseError as error:
            connection.close()
            raise ClientError(f"cannot use the store {path}: {error}") from None
        except BaseException:
            connection.close()
            raise
        return cls(connection, path)

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed (and on disk, synchronous=FULL) when the block ends."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same snapshot."""
        self.connection.execute("BEGIN DEFERRED")
        try:
            yield self.connection
        finally:
            if self.connection.in_transaction:
                self.connection.execute("COMMIT")


def _check_pragmas(connection: sqlite3.Connection, path: Path) -> None:
    """WAL and synchronous=FULL are what make a reported save survive kill -9 and power loss."""
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise ClientError(
            f"the store {path} cannot use write-ahead logging (journal mode is {mode}); "
            "put FIELD_CLIENT_HOME on a local disk"
        )
    connection.execute("PRAGMA synchronous = FULL")
    if connection.execute("PRAGMA synchronous").fetchone()[0] != SYNCHRONOUS_FULL:
        raise ClientError(f"the store {path} refused synchronous=FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    if connection.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
        raise ClientError(f"the store {path} refused foreign keys")


def get_setting(connection: sqlite3.Connection, name: str) -> str | None:
    row = connection.execute("SELECT value FROM setting WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def set_setting(connection: sqlite3.Connection, name: str, value: str | None) -> None:
    if value is None:
        connection.execute("DELETE FROM setting WHERE name = ?", (name,))
    else:
        connection.execute(
            "INSERT INTO setting (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
