"""``field-server check`` (DESIGN §10): a whole store passes; a lost or altered photo, an old
schema, a counter set back and a damaged SQLite file are each reported, in words and as JSON."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from field_server.adapters.database import make_engine
from field_server.adapters.photo_store import FilesystemPhotoStore, StoreBusy
from field_server.adapters.schema_migration import _alembic_config, head_revision
from field_server.services import self_check
from tests.integration.conftest import World, build_world
from tests.integration.museum_world import BACKENDS, databases_for, fill_museum, run_cli

Checked = tuple[int, list[str], dict[str, object]]


@pytest.fixture
def museum(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[World, str, list]]:
    make = databases_for(request, tmp_path)
    databases = next(make)
    url = databases(request.param, "migrated")
    world = build_world(url, tmp_path / "data")
    filled = fill_museum(world)
    world.runtime.uow.engine.dispose()
    yield world, url, filled.photos
    next(make, None)


def check(world: World, url: str) -> Checked:
    data_dir = world.runtime.config.data_dir
    words = run_cli(["check"], url, data_dir)
    as_json = run_cli(["check", "--json"], url, data_dir)
    assert words.exit_code == as_json.exit_code
    return words.exit_code, words.output.strip().splitlines(), json.loads(as_json.output)


def execute(world: World, sql: str) -> None:
    with world.runtime.uow.engine.begin() as connection:
        connection.execute(text(sql))
    world.runtime.uow.engine.dispose()


@pytest.mark.parametrize("museum", BACKENDS, indirect=True)
def test_a_whole_store_passes(museum: tuple[World, str, list]) -> None:
    world, url, _ = museum
    code, lines, report = check(world, url)
    assert code == 0, lines
    assert lines == [f"all well: schema revision {head_revision()}, 2 photos checked"]
    assert report["ok"] is True and report["problems"] == []


@pytest.mark.parametrize("museum", BACKENDS, indirect=True)
def test_a_lost_and_an_altered_photo_are_named_by_their_digest(
    museum: tuple[World, str, list],
) -> None:
    world, url, photos = museum
    store = FilesystemPhotoStore(world.runtime.config.photos_dir)
    lost, altered = (hashlib.sha256(data).hexdigest() for data in photos)
    store.path(lost).unlink()
    path = store.path(altered)
    os.chmod(path, 0o644)
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 0xFF
    path.write_bytes(bytes(damaged))
    code, lines, report = check(world, url)
    assert code == 1
    problems = {p["kind"]: p for p in report["problems"]}  # type: ignore[union-attr]
    assert set(problems) == {"photo_missing", "photo_damaged"}
    assert problems["photo_missing"]["sha256"] == lost
    assert problems["photo_damaged"]["sha256"] == altered
    assert any(lost in line and "missing" in line for line in lines)
    assert any(altered in line and "no longer hashes" in line for line in lines)


@pytest.mark.parametrize("museum", BACKENDS, indirect=True)
def test_a_database_one_revision_behind_is_reported(museum: tuple[World, str, list]) -> None:
    world, url, _ = museum
    engine = world.runtime.uow.engine
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    engine.dispose()
    code, lines, report = check(world, url)
    assert code == 1
    assert [p["kind"] for p in report["problems"]] == ["schema_not_at_head"]  # type: ignore[union-attr]
    assert "not the newest" in lines[0] and "init-db" in lines[0]


@pytest.mark.parametrize("museum", BACKENDS, indirect=True)
def test_counters_set_back_are_reported(museum: tuple[World, str, list]) -> None:
    world, url, _ = museum
    execute(world, "UPDATE change_counter SET last_seq = 3")
    execute(world, "UPDATE register_funds SET last_receipt = 0 WHERE fund = 'KP'")
    execute(world, "UPDATE expeditions SET next_find_number = 1")
    code, lines, report = check(world, url)
    assert code == 1
    counters = [p["counter"] for p in report["problems"]]  # type: ignore[union-attr]
    assert counters == [
        "change_counter.last_seq",
        "register_funds.last_receipt",
        "expeditions.next_find_number",
    ]
    assert lines[0].startswith("the change cursor: change_counter.last_seq is 3, behind its data")
    assert lines[1].startswith("fund KP: register_funds.last_receipt is 0")


@pytest.mark.postgres
@pytest.mark.parametrize("museum", ["postgresql"], indirect=True)
def test_a_postgresql_sequence_set_back_is_reported(museum: tuple[World, str, list]) -> None:
    world, url, _ = museum
    execute(world, "SELECT setval('conflicts_id_seq', 1, false)")
    execute(world, "SELECT setval('audit_log_id_seq', 2)")
    code, _lines, report = check(world, url)
    assert code == 1
    counters = [p["counter"] for p in report["problems"]]  # type: ignore[union-attr]
    assert counters == ["sequence public.audit_log_id_seq", "sequence public.conflicts_id_seq"]


@pytest.mark.parametrize("museum", ["sqlite"], indirect=True)
def test_a_damaged_sqlite_file_fails_its_integrity_check(museum: tuple[World, str, list]) -> None:
    world, url, _ = museum
    path = Path(url.removeprefix("sqlite:///"))
    assert not Path(f"{path}-wal").exists()  # every change is in the file itself
    with path.open("r+b") as database:
        size = database.seek(0, os.SEEK_END)
        for page in range(4096 * 3, size - 4096, 4096 * 5):  # every fifth page, past the header
            database.seek(page + 100)
            database.write(os.urandom(400))
    code, lines, report = check(world, url)
    assert code == 1
    kinds = {p["kind"] for p in report["problems"]}  # type: ignore[union-attr]
    assert kinds == {"database_damaged"}
    assert len(lines) == 1 and ("integrity" in lines[0] or "malformed" in lines[0])


def test_a_database_that_does_not_answer_is_reported(tmp_path: Path) -> None:
    result = run_cli(["check", "--json"], "postgresql://postgres@127.0.0.1:1/none", tmp_path)
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert [p["kind"] for p in report["problems"]] == ["database_unreachable"]


@pytest.mark.parametrize("museum", BACKENDS, indirect=True)
def test_the_check_holds_the_store_against_removals_while_it_looks_at_photos(
    museum: tuple[World, str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, url, _ = museum
    store = FilesystemPhotoStore(world.runtime.config.photos_dir)
    refused: list[bool] = []
    hash_file = self_check.file_sha256

    def while_hashing(path: Path) -> str:
        try:
            with store.removing():
                refused.append(False)
        except StoreBusy:
            refused.append(True)
        return hash_file(path)

    monkeypatch.setattr(self_check, "file_sha256", while_hashing)
    engine = make_engine(url)
    try:
        report = self_check.check_server(engine, store)
    finally:
        engine.dispose()
    assert report.problems == []
    assert refused and all(refused)  # a cleanup would have been turned away
    with store.removing():  # and is let in once the check is done
        pass
