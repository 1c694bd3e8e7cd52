"""Receipt numbers stay gapless and unique with registrars working at once: eight server
processes on PostgreSQL, several threads on SQLite (DESIGN §6)."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_server.app import create_app
from field_server.config import ServerConfig
from field_server.domain.find_status import FindStatus
from tests.conftest import fresh_database_url
from tests.integration.conftest import PASSWORD, TEST_SCRYPT_COST, World, build_world
from tests.integration.museum_status import approved_finds

ACTS_PER_WORKER = 3
FINDS_PER_ACT = 3


def plans(uuids: list[str], workers: int) -> list[list[tuple[str, list[str]]]]:
    """Each worker's acts, alternating the funds, over disjoint sets of finds."""
    per_worker = ACTS_PER_WORKER * FINDS_PER_ACT
    result = []
    for worker in range(workers):
        mine = uuids[worker * per_worker : (worker + 1) * per_worker]
        acts = [
            (
                "KP" if (worker + act) % 2 == 0 else "NVF",
                mine[act * FINDS_PER_ACT : (act + 1) * FINDS_PER_ACT],
            )
            for act in range(ACTS_PER_WORKER)
        ]
        result.append(acts)
    return result


def create_acts(client: Any, plan: list[tuple[str, list[str]]]) -> list[tuple[int, Any]]:
    token = client.post(
        "/api/v1/auth/token",
        json={"username": "registrar", "password": PASSWORD, "device_name": "funds office"},
    ).get_json()["token"]
    answers = []
    for fund, uuids in plan:
        response = client.post(
            "/api/v1/register/acts",
            json={"expedition_code": "ULY-2026", "fund": fund, "find_uuids": uuids},
            headers={"Authorization": f"Bearer {token}"},
        )
        answers.append((response.status_code, response.get_json()))
    return answers


def server_process(
    database_url: str,
    data_dir: str,
    plan: list[tuple[str, list[str]]],
    start: Any,
    results: Any,
) -> None:
    """One server process of its own (its own app, engine and pool) on the shared database."""
    app = create_app(
        ServerConfig(
            data_dir=Path(data_dir),
            database_url=database_url,
            secret_key="concurrency",
            scrypt_cost=TEST_SCRYPT_COST,
        )
    )
    client = app.test_client()
    start.wait(timeout=60)
    try:
        results.put(create_acts(client, plan))
    finally:
        app.extensions["qazba"].uow.engine.dispose()


def check_register(world: World, answers: list[tuple[int, Any]], planned: list[Any]) -> None:
    assert [status for status, _ in answers] == [201] * len(answers), answers
    numbers: dict[str, list[int]] = {"KP": [], "NVF": []}
    given: dict[str, str] = {}
    for _, body in answers:
        numbers[body["fund"]].append(body["act_number"])
        given.update({e["find_uuid"]: e["register_number"] for e in body["entries"]})
    expected = Counter(fund for plan in planned for fund, _ in plan)
    for fund, taken in numbers.items():
        assert sorted(taken) == list(range(1, expected[fund] + 1)), (fund, taken)
    assert len(set(given.values())) == len(given) == sum(len(u) for p in planned for _, u in p)
    with world.runtime.uow() as uow:
        assert uow.register.last_receipts() == {f: expected[f] for f in ("KP", "NVF")}
        entries = {e.find_uuid: e.register_number for e in uow.register.entries()}
        records = uow.records.get_many(list(given))
    assert entries == given
    assert {r.status for r in records.values()} == {FindStatus.ACCESSIONED.value}
    changes, _ = world.pull_all("recorder")
    pulled = {c["uuid"]: c["state"]["register_number"] for c in changes if c["uuid"] in given}
    assert pulled == given


@pytest.mark.postgres
def test_eight_server_processes_take_gapless_unique_receipt_numbers(
    postgres_url: str, tmp_path: Path
) -> None:
    world = build_world(postgres_url, tmp_path / "seed")
    workers = 8
    planned = plans(approved_finds(world, workers * ACTS_PER_WORKER * FINDS_PER_ACT), workers)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(
            target=server_process,
            args=(postgres_url, str(tmp_path / f"p{n}"), plan, start, results),
        )
        for n, plan in enumerate(planned)
    ]
    for process in processes:
        process.start()
    answers: list[tuple[int, Any]] = []
    try:
        for _ in processes:
            answers.extend(results.get(timeout=180))  # a deadlock would stop here
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in processes] == [0] * workers
    check_register(world, answers, planned)
    world.runtime.uow.engine.dispose()


def test_registrars_in_threads_take_gapless_unique_receipt_numbers(
    sqlite_world: World,
) -> None:
    workers = 6
    planned = plans(
        approved_finds(sqlite_world, workers * ACTS_PER_WORKER * FINDS_PER_ACT), workers
    )
    answers: list[tuple[int, Any]] = []
    start = threading.Barrier(workers)

    def registrar(plan: list[tuple[str, list[str]]]) -> None:
        client = sqlite_world.app.test_client()
        start.wait(timeout=60)
        answers.extend(create_acts(client, plan))

    threads = [threading.Thread(target=registrar, args=(plan,)) for plan in planned]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads)
    check_register(sqlite_world, answers, planned)


def test_two_registrars_racing_for_one_find_leave_no_gap(world: World) -> None:
    (contested,) = approved_finds(world, 1)
    others = approved_finds(world, 1)
    answers: list[tuple[int, Any]] = []
    start = threading.Barrier(4)

    def registrar() -> None:
        client = world.app.test_client()
        start.wait(timeout=60)
        answers.extend(create_acts(client, [("KP", [contested])]))

    threads = [threading.Thread(target=registrar) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(status for status, _ in answers) == [201, 409, 409, 409]
    # the refused acts used no number: the next act is КП 2
    (status, body), *_ = create_acts(world.app.test_client(), [("KP", others)])
    assert (status, body["act_number"]) == (201, 2)


@pytest.fixture
def sqlite_world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    for url in fresh_database_url("sqlite", request, tmp_path):
        built = build_world(url, tmp_path / "data")
        yield built
        built.runtime.uow.engine.dispose()
