"""Recording finds on the laptop: a find number is checked by one index probe, never a scan."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from field_client import finds, records
from field_client.errors import ClientError
from field_client.home import STORE_NAME
from field_client.store import Store
from tests.unit.field_client.conftest import find_data, run

SURVEY = "6f1c1a43-5b0e-4b57-9a55-3d1d3c2f0b11"


def add_numbered(connection: sqlite3.Connection, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        records.create(connection, "find", find_data(SURVEY, f"ULY26-{i:05d}"), records.new_uuid())


def steps_of_lookup(connection: sqlite3.Connection, number: str) -> int:
    """SQLite virtual-machine steps (in thousands) one find-number lookup takes."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    connection.set_progress_handler(count, 1000)
    try:
        records.holder_of_number(connection, "ULY-2026", number)
    finally:
        connection.set_progress_handler(None, 0)
    return steps


def test_a_find_number_lookup_searches_the_index(store: Store) -> None:
    statements: list[str] = []
    with store.transaction() as connection:
        add_numbered(connection, 3)
        connection.set_trace_callback(statements.append)
        assert records.holder_of_number(connection, "ULY-2026", "ULY26-00001") is not None
        connection.set_trace_callback(None)
        (lookup,) = [s for s in statements if "find_number" in s]
        plan = " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {lookup}"))
    assert "USING INDEX record_find_number" in plan
    assert "SCAN" not in plan


def test_a_lookup_costs_the_same_among_fifty_finds_as_among_three_thousand(store: Store) -> None:
    with store.transaction() as connection:
        add_numbered(connection, 50)
        few = steps_of_lookup(connection, "ULY26-99999")
        add_numbered(connection, 2950, start=50)
        many = steps_of_lookup(connection, "ULY26-99999")
    # a scan would read sixty times the rows; an index probe reads a few more pages at most
    assert many <= few + 2


def test_a_number_another_find_holds_is_refused_and_a_finds_own_number_is_not(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "survey", "start", "--expedition", "ULY-2026", "--title", "T")
    assert code == 0, err
    given = {
        "material": "ceramic",
        "object_name": "Қыш",
        "find_number": "ULY26-0042",
        "recorded_by": "a.nurlankyzy",
        "lon": 67.8446,
        "lat": 48.1932,
    }
    store = Store.open(home / STORE_NAME)
    try:
        with store.transaction() as connection:
            first = finds.add(connection, None, dict(given)).record
            with pytest.raises(ClientError, match=f"already used by find {first.uuid}"):
                finds.add(connection, None, dict(given))
            again = finds.edit(connection, first.uuid, {"find_number": "ULY26-0042"}, [])
            assert not again.changed
            moved = finds.edit(connection, first.uuid, {"find_number": "ULY26-0043"}, [])
            assert moved.record.data["find_number"] == "ULY26-0043"
            assert finds.add(connection, None, dict(given)).record.uuid != first.uuid
    finally:
        store.close()
