"""Storage quotas at tus creation: a person's and each expedition's bytes, stored and declared,
and the cap on unfinished uploads, answered 413 quota_exceeded before any byte is taken; on
SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading

from sqlalchemy import func, select
from werkzeug.test import TestResponse

from field_server.adapters import tables
from field_server.domain.quotas import GIB, StorageLimits
from tests import media_factory as media
from tests.integration import tus_client as tus
from tests.integration.conftest import World


def limit_storage(world: World, **limits: int) -> None:
    """The world's server with these limits, the others as loose as a season's."""
    runtime = world.runtime
    wanted = dataclasses.replace(StorageLimits(GIB, 10 * GIB, 20), **limits)
    config = dataclasses.replace(runtime.config, storage_limits=wanted)
    world.app.extensions["qazba"] = dataclasses.replace(runtime, config=config)


def declare(world: World, who: str, length: int, seed: int = 0) -> TestResponse:
    """A creation declaring ``length`` bytes of a file never sent."""
    return tus.create(world, who, b"", digest=media.sha256(b"%d" % seed), length=length)


def refused_for_quota(response: TestResponse) -> dict[str, object]:
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "quota_exceeded"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    return problem


def upload_rows(world: World) -> int:
    with world.runtime.uow() as uow:
        return uow.connection.execute(
            select(func.count()).select_from(tables.photo_uploads)
        ).scalar_one()


def test_declared_lengths_fill_a_persons_quota_before_any_byte_arrives(world: World) -> None:
    limit_storage(world, user_bytes=10_000)
    assert declare(world, "recorder", 6_000, seed=1).status_code == 201
    before = upload_rows(world)
    problem = refused_for_quota(declare(world, "recorder", 6_000, seed=2))
    assert "past the quota of 10000 bytes" in problem["detail"]
    assert "6000 bytes are stored or declared" in problem["detail"]
    assert problem["errors"] == [{"field": "Upload-Length", "message": "user limit 10000"}]
    assert upload_rows(world) == before
    # exactly the room left is taken
    assert declare(world, "recorder", 4_000, seed=3).status_code == 201


def test_terminating_an_unfinished_upload_gives_its_declared_bytes_back(world: World) -> None:
    limit_storage(world, user_bytes=10_000)
    path = tus.created(world, "recorder", b"", digest=media.sha256(b"x"), length=9_000)
    refused_for_quota(declare(world, "recorder", 2_000))
    assert (
        world.client.delete(path, headers={**world.headers("recorder"), **tus.TUS}).status_code
        == 204
    )
    assert declare(world, "recorder", 2_000).status_code == 201


def test_stored_photos_count_once_finished_and_not_twice(world: World) -> None:
    data = media.noise_jpeg_bytes(200, 150, seed=21)
    limit_storage(world, user_bytes=len(data) + 100)
    tus.upload(world, "recorder", data)
    refused_for_quota(declare(world, "recorder", 101))
    assert declare(world, "recorder", 100).status_code == 201


def test_a_photo_another_person_stored_first_counts_for_whoever_sends_it_again(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes(200, 150, seed=22)
    limit_storage(world, user_bytes=len(data) + 100)
    tus.upload(world, "recorder", data)
    tus.upload(world, "outsider", data)
    refused_for_quota(declare(world, "outsider", 101))


def test_a_full_expedition_refuses_its_members_and_no_one_else(world: World) -> None:
    data = media.noise_jpeg_bytes(200, 150, seed=23)
    limit_storage(world, user_bytes=10 * GIB, expedition_bytes=len(data) + 1_000)
    tus.upload(world, "recorder", data)
    assert declare(world, "leader", 600).status_code == 201
    problem = refused_for_quota(declare(world, "leader", 401, seed=1))
    assert "expedition ULY-2026's photos" in problem["detail"]
    refused_for_quota(declare(world, "recorder", 401, seed=2))
    # the outsider records for ZHZ-2026, whose photos are its own
    assert declare(world, "outsider", 5_000).status_code == 201
    # an admin belongs to no expedition: only the personal quota holds them
    assert declare(world, "admin", 5_000).status_code == 201


def test_four_gib_declarations_are_refused_past_the_quota(world: World) -> None:
    limit_storage(world, user_bytes=20 * GIB, expedition_bytes=100 * GIB)
    answers = [declare(world, "recorder", 4 * GIB, seed=n).status_code for n in range(8)]
    assert answers == [201] * 5 + [413] * 3


def test_the_next_upload_past_the_cap_on_unfinished_ones_is_refused(world: World) -> None:
    limit_storage(world, open_uploads=3)
    data = media.noise_jpeg_bytes(seed=24)
    first = tus.created(world, "recorder", data)
    for seed in (1, 2):
        assert declare(world, "recorder", 10, seed=seed).status_code == 201
    problem = refused_for_quota(declare(world, "recorder", 10, seed=3))
    assert "3 unfinished uploads" in problem["detail"]
    assert problem["errors"] == [{"field": "open_uploads", "message": "open_uploads limit 3"}]
    # another person has places of their own
    assert declare(world, "leader", 10).status_code == 201
    # a finished upload frees its place
    finished = tus.patch(world, "recorder", first, 0, data)
    assert finished.status_code == 204, finished.get_data(as_text=True)
    assert declare(world, "recorder", 10, seed=4).status_code == 201


def test_creations_at_the_same_moment_cannot_share_the_last_room(world: World) -> None:
    limit_storage(world, user_bytes=10_000)
    headers = world.headers("recorder")  # signed in before the threads start
    start = threading.Barrier(6)
    answers: list[int] = []

    def create(seed: int) -> None:
        start.wait(10)
        response = world.client.post(
            tus.UPLOADS,
            headers={
                **headers,
                **tus.TUS,
                "Upload-Length": "6000",
                "Upload-Metadata": tus.metadata(media.sha256(b"%d" % seed)),
            },
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=create, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [201] + [413] * 5
