"""Creates or upgrades the server database with the packaged Alembic migrations."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


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
