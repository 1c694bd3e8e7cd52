"""Creates or upgrades the server database with the packaged Alembic migrations."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("field_server.migrations")))
    return config


def upgrade_database(engine: Engine) -> str:
    """Bring the database to the newest schema; returns the revision it is at."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head"
    return head


def known_revisions() -> list[str]:
    """Every revision of the packaged migrations, the first one first, the head last."""
    script = ScriptDirectory.from_config(_alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def migrate_connection(connection: Connection, revision: str) -> None:
    """Move the schema on ``connection`` to ``revision``, up or down, inside the transaction
    the caller holds (so a restore that fails later takes the migration back with it)."""
    config = _alembic_config()
    config.attributes["connection"] = connection
    known = known_revisions()
    current = revision_of(connection)
    if current is not None and known.index(current) > known.index(revision):
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)
