"""Engines for the two supported databases, set up for safe concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

WRITE_OPTION = "qazba_write"

# SQLite lets one writer in at a time, and a writer that finds the lock taken polls for it,
# sleeping 1, 2, 5, 10, 15, 20, 25 … ms between tries: it may sleep on long after the lock is
# free. Writers of one process therefore queue on a lock of their own first, which hands over
# at once; SQLite's lock still orders them against other processes.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def normalise_database_url(url: str) -> str:
    """Route plain PostgreSQL URLs to psycopg 3, the driver this project installs.

    SQLAlchemy maps a bare ``postgresql://`` to psycopg2, which is not installed.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=8, max_overflow=8)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def writer_queue(engine: Engine) -> threading.RLock | None:
    """The lock this process's writers take before SQLite's; None for PostgreSQL, whose
    writers lock only the rows they touch."""
    return _SQLITE_WRITERS.get(engine)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": 60})
    _SQLITE_WRITERS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE can be issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        # Up to 64 MiB of pages per connection instead of SQLite's 2 MiB: a push updates
        # indexes all over a large table, and each miss decodes the page again.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the database lock at BEGIN, not at its first write: two writers
        # that both read first would otherwise deadlock on the lock upgrade.
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def error_line(error: BaseException) -> str:
    """The driver's first line of a database error, without SQLAlchemy's SQL and links."""
    inner = getattr(error, "orig", None) or error
    lines = str(inner).strip().splitlines()
    return lines[0] if lines else type(inner).__name__
