"""The restore sets secondary indexes aside during its load and makes them again
(``adapters/table_indexes.py``): the schema ends as it began, a unique index the archive's rows
break refuses the whole restore, and an index a foreign key needs is never set aside."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from field_server.adapters import table_dump
from field_server.adapters.table_indexes import secondary_indexes
from tests.integration.museum_world import (
    BACKENDS,
    backed_up_museum,
    databases_for,
    engine_of,
    files_under,
    run_cli,
)

MakeDatabase = Callable[[str, str], str]

_SQLITE_SCHEMA = (
    "SELECT type, name, tbl_name, sql FROM sqlite_master "
    "WHERE type IN ('index', 'table', 'trigger') ORDER BY type, name"
)
_POSTGRES_SCHEMA = (
    "SELECT 'index', indexname, tablename, indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema() "
    "UNION ALL SELECT 'constraint', conname, conrelid::regclass::text, "
    "pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2"
)


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeDatabase]:
    yield from databases_for(request, tmp_path)


def schema_of(url: str) -> list[tuple[object, ...]]:
    """Every index (with its definition), table and trigger, or constraint, by name."""
    engine = engine_of(url)
    try:
        with engine.connect() as connection:
            sql = _SQLITE_SCHEMA if connection.dialect.name == "sqlite" else _POSTGRES_SCHEMA
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def museum_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return backed_up_museum(tmp_path_factory.mktemp("museum"))


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_indexes_end_as_they_were_before_the_restore(
    museum_archive: Path, databases: MakeDatabase, tmp_path: Path, kind: str
) -> None:
    url = databases(kind, "migrated")
    before = schema_of(url)
    assert any(row[0] == "index" for row in before)
    result = run_cli(["restore", str(museum_archive), "--quiet"], url, tmp_path / "data")
    assert result.exit_code == 0, result.output
    assert schema_of(url) == before


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_unique_index_the_rows_break_refuses_the_whole_restore(
    museum_archive: Path, databases: MakeDatabase, tmp_path: Path, kind: str
) -> None:
    """The index is made again only after the load; the rows breaking it take everything back,
    the index's drop too."""
    url = databases(kind, "migrated")
    engine = engine_of(url)
    with engine.begin() as connection:
        # every find of the museum is of one expedition
        connection.execute(
            text("CREATE UNIQUE INDEX ix_one_per_expedition ON records (type, expedition_id)")
        )
    engine.dispose()
    before = schema_of(url)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    result = run_cli(["restore", str(museum_archive), "--quiet"], url, data_dir)
    assert result.exit_code != 0
    line = result.output.strip()
    assert "\n" not in line and line.startswith("Error: "), result.output
    assert "table records break its unique index ix_one_per_expedition" in line, line
    assert schema_of(url) == before
    assert files_under(data_dir) == []
    engine = engine_of(url)
    with engine.connect() as connection:
        assert table_dump.table_with_data(connection) is None
    engine.dispose()


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_index_a_foreign_key_needs_is_not_set_aside(databases: MakeDatabase, kind: str) -> None:
    url = databases(kind, "migrated")
    engine = engine_of(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE scratch_parent (id INTEGER PRIMARY KEY, code TEXT)")
            )
            connection.execute(text("CREATE UNIQUE INDEX ix_parent_code ON scratch_parent (code)"))
            connection.execute(
                text("CREATE UNIQUE INDEX ix_parent_spare ON scratch_parent (id, code)")
            )
            connection.execute(
                text(
                    "CREATE TABLE scratch_child (id INTEGER PRIMARY KEY, "
                    "code TEXT REFERENCES scratch_parent (code))"
                )
            )
            names = {index.name for index in secondary_indexes(connection)}
            assert "ix_parent_code" not in names
            assert {"ix_parent_spare", "ix_records_expedition_id_seq"} <= names
            assert not any(name.startswith("sqlite_autoindex") for name in names)
            connection.rollback()
    finally:
        engine.dispose()
