"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from field_server.adapters.database import make_engine
from field_server.adapters.schema_migration import current_revision, head_revision, upgrade_database
from field_server.adapters.tables import metadata


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
