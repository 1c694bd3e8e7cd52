"""A server holding some of everything, made through the real API, and the means to compare
two servers table by table: for the backup, restore and check tests."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from field_server.adapters import tables
from field_server.adapters.database import make_engine
from field_server.adapters.schema_migration import upgrade_database
from field_server.cli import main
from field_server.domain.find_status import FindStatus
from tests.conftest import PG_ADMIN, PG_HOST, fresh_database_url
from tests.integration import tus_client as tus
from tests.integration.conftest import World, build_world, sample_batch
from tests.integration.museum_status import set_status
from tests.media_factory import noise_jpeg_bytes
from tests.samples import camp_batch, fresh_find

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Museum:
    world: World
    photos: list[bytes]
    find_uuids: list[str]


def edited(record: dict[str, Any], base_rev: int, rev: int, **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(record)
    copied["base_rev"], copied["rev"] = base_rev, rev
    copied["data"].update(changes)
    return copied


def fill_museum(world: World) -> Museum:
    """Records and revisions, a conflict, duplicate candidates and a merge (an alias), review
    decisions (audit lines), an act with entries and an amendment, a number block, photos."""
    batch = sample_batch()
    world.pushed("recorder", batch)
    world.pushed("leader", camp_batch(), device_id="camp-laptop")
    finds = [r for r in batch if r["type"] == "find"]
    # a revision by one device and a conflicting one by another
    world.pushed("recorder", [edited(finds[0], 1, 2, material="bone")], device_id="laptop-a")
    answer = world.pushed("leader", [edited(finds[0], 1, 2, material="stone")], device_id="b")
    assert answer["results"][0]["status"] == "conflict"
    # a merge of the first duplicate candidate
    queue = world.client.get(
        "/api/v1/expeditions/ULY-2026/duplicates", headers=world.headers("reviewer")
    ).get_json()
    candidate = queue[0] if isinstance(queue, list) else queue["candidates"][0]
    keep = candidate["find_uuids"][0]
    merged = world.client.post(
        f"/api/v1/duplicates/{candidate['id']}/merge",
        json={"keep": keep},
        headers=world.headers("reviewer"),
    )
    assert merged.status_code == 200, merged.get_data(as_text=True)
    # approved finds into an act of the main fund, one entry amended
    approved = [f["uuid"] for f in finds[1:] if f["uuid"] not in candidate["find_uuids"]][:5]
    set_status(world, approved, FindStatus.APPROVED)
    act = world.client.post(
        "/api/v1/register/acts",
        json={"expedition_code": "ULY-2026", "fund": "KP", "find_uuids": approved[:3]},
        headers=world.headers("registrar"),
    )
    assert act.status_code == 201, act.get_data(as_text=True)
    amended = world.client.post(
        "/api/v1/register/entries/KP/1/2/amendments",
        json={"field": "storage_location", "new": "Қор 3, сөре 1", "reason": "moved"},
        headers=world.headers("registrar"),
    )
    assert amended.status_code == 201, amended.get_data(as_text=True)
    reserve_numbers(world)
    photos = [noise_jpeg_bytes(160, 120, seed=seed) for seed in (1, 2)]
    for data in photos:
        tus.stored_photo(world, "recorder", data)
    return Museum(world, photos, [f["uuid"] for f in finds])


def reserve_numbers(world: World, count: int = 10) -> dict[str, Any]:
    response = world.client.post(
        "/api/v1/expeditions/ULY-2026/number-blocks",
        json={"device_id": world.device_id, "count": count},
        headers=world.headers("recorder"),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def push_fresh_finds(world: World, count: int) -> list[str]:
    survey, template = sample_batch()[:2]
    finds = [fresh_find(template) for _ in range(count)]
    world.pushed("recorder", [survey, *finds], batch_id=str(uuid.uuid4()))
    return [f["uuid"] for f in finds]


def table_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in key order, times as UTC instants, for comparing two servers."""
    found = {}
    with engine.connect() as connection:
        for table in tables.metadata.sorted_tables:
            query = select(table).order_by(*(table.primary_key.columns or table.columns))
            found[table.name] = [
                tuple(_instant(value) for value in row) for row in connection.execute(query)
            ]
    return found


def _instant(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value


def run_cli(args: list[str], database_url: str, data_dir: Path) -> Result:
    env = {
        "FIELD_SERVER_DATABASE_URL": database_url,
        "FIELD_SERVER_DATA_DIR": str(data_dir),
        "FIELD_SERVER_SECRET_KEY": "",
    }
    return CliRunner().invoke(main, args, env=env)


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def databases_for(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str, str], str]]:
    """make(kind, how) → a database URL: ``migrated`` (empty, at the head revision), or
    ``bare`` (no tables: for SQLite a file not yet made); all dropped after the test."""
    made: list[Iterator[str]] = []
    bare: list[str] = []
    numbers = itertools.count()

    def make(kind: str, how: str) -> str:
        folder = tmp_path / f"db-{next(numbers)}"
        folder.mkdir()
        if how == "migrated":
            generator = fresh_database_url(kind, request, folder)
            made.append(generator)
            return next(generator)
        if kind == "sqlite":
            return f"sqlite:///{folder}/qazba.sqlite3"
        request.getfixturevalue("postgres_template")  # skips when PostgreSQL does not answer
        name = f"qazba_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        bare.append(name)
        return f"postgresql://postgres@{PG_HOST}:5432/{name}"

    yield make
    for generator in made:
        next(generator, None)
    if bare:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            for name in bare:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def engine_of(url: str) -> Engine:
    return make_engine(url)


def backed_up_museum(folder: Path) -> Path:
    """A small museum on SQLite under ``folder``, filled by fill_museum and backed up by the
    CLI; the archive's path. For tests that only read the archive."""
    url = f"sqlite:///{folder}/qazba.sqlite3"
    engine = engine_of(url)
    upgrade_database(engine)
    engine.dispose()
    world = build_world(url, folder / "data")
    fill_museum(world)
    world.runtime.uow.engine.dispose()
    out = folder / "museum.tar"
    result = run_cli(["backup", "--out", str(out), "--quiet"], url, folder / "data")
    assert result.exit_code == 0, result.output
    assert out.is_file() and not Path(f"{out}.part").exists()
    return out
