"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import json

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from field_server.adapters.database import make_engine
from field_server.adapters.schema_migration import (
    _alembic_config,
    current_revision,
    head_revision,
    upgrade_database,
)
from field_server.adapters.tables import find_sheets, metadata, records
from field_server.domain.export_layers import sheet_row
from tests.integration.conftest import World, sample_batch


def test_migrated_database_matches_the_declared_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_upgrading_an_up_to_date_database_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert upgrade_database(engine) == head_revision()
        with engine.connect() as connection:
            counter = connection.exec_driver_sql("SELECT last_seq FROM change_counter").all()
        assert counter == [(0,)]
    finally:
        engine.dispose()


def test_the_find_sheets_are_filled_from_the_finds_stored_before_them(world: World) -> None:
    """Revision 0006 adds the find sheets to a database that already holds finds: each stored
    find gets the sheet its data gives."""
    world.pushed("recorder", sample_batch())
    engine = world.runtime.uow.engine
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert "find_sheets" not in inspect(engine).get_table_names()
    assert upgrade_database(engine) == head_revision()
    with engine.connect() as connection:
        finds = connection.execute(
            select(records.c.uuid, records.c.data).where(records.c.type == "find")
        ).all()
        sheets = {row.uuid: row._asdict() for row in connection.execute(select(find_sheets))}
    assert finds and len(sheets) == len(finds)
    for uuid, data in finds:
        assert sheets[uuid] == sheet_row(uuid, json.loads(data))
