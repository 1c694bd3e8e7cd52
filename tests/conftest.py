"""Fixtures every tier shares: the databases the server runs on."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from field_server.adapters.database import make_engine
from field_server.adapters.schema_migration import upgrade_database

PG_HOST = os.environ.get("QAZBA_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres connect_timeout=3"


def postgres_answers() -> bool:
    try:
        with psycopg.connect(PG_ADMIN):
            return True
    except psycopg.Error:
        return False


def _admin_execute(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(sql)


def need_postgres() -> None:
    if postgres_answers():
        return
    if os.environ.get("CI"):
        pytest.fail(
            "PostgreSQL does not answer on 127.0.0.1:5432; CI must run the PostgreSQL suite"
        )
    pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    need_postgres()
    name = f"qazba_template_{uuid.uuid4().hex[:10]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql://postgres@{PG_HOST}:5432/{name}")
    upgrade_database(engine)
    engine.dispose()
    yield name
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of ``kind``, dropped after the test."""
    if kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "qazba.sqlite3"
        path.write_bytes(template.read_bytes())
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"qazba_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:5432/{name}"
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database_url(request.param, request, tmp_path)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database_url("postgresql", request, tmp_path)
