"""The local store: durable settings checked at start, and migrations by PRAGMA user_version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from field_client.errors import ClientError
from field_client.schema import LATEST_VERSION, migrate, schema_version
from field_client.store import Store, get_setting, set_setting


def test_a_new_store_runs_in_wal_mode_with_full_sync_and_foreign_keys(store: Store) -> None:
    connection = store.connection
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert schema_version(connection) == LATEST_VERSION


def test_a_store_that_cannot_use_wal_is_refused() -> None:
    # an in-memory database reports journal mode "memory", as a network share may report "delete"
    with pytest.raises(ClientError, match="write-ahead logging"):
        Store.open(Path(":memory:"))


def test_opening_a_store_again_migrates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    Store.open(path).close()
    again = Store.open(path)
    assert schema_version(again.connection) == LATEST_VERSION
    again.close()


def test_migrations_run_in_order_and_stop_at_the_last(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    steps = (("CREATE TABLE a (x INTEGER)",), ("ALTER TABLE a ADD COLUMN y TEXT",))
    assert migrate(connection, steps[:1]) == 1
    assert migrate(connection, steps) == 2
    columns = [row[1] for row in connection.execute("PRAGMA table_info(a)")]
    assert columns == ["x", "y"]
    connection.close()


def test_a_failing_migration_leaves_the_store_at_the_version_before(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    steps = (("CREATE TABLE a (x INTEGER)",), ("CREATE TABLE b (x INTEGER)", "NOT SQL"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(connection, steps)
    assert schema_version(connection) == 1
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert tables == {"a"}
    connection.close()


def test_a_store_from_a_newer_client_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    Store.open(path).close()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    connection.close()
    with pytest.raises(ClientError, match="newer field-client"):
        Store.open(path)


def test_a_file_that_is_not_a_store_gives_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ClientError, match="cannot use the store"):
        Store.open(path)


def test_a_failed_transaction_changes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as connection:
        set_setting(connection, "cursor", "7")
        raise RuntimeError("power cut")
    with store.reading() as connection:
        assert get_setting(connection, "cursor") is None
