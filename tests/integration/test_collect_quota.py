"""A phone's submission counts against the storage quotas as a tus upload does: one that would
take its member or their expedition past a quota is refused 413, in OpenRosa's words, before
a byte of it is read, and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from field_server.app import create_app
from field_server.domain.quotas import StorageLimits
from tests import media_factory as make
from tests.integration.conftest import World
from tests.integration.test_collect_openrosa import counts, message, new_key, send
from tests.unit.collect.instances import instance

PHOTO = make.noise_jpeg_bytes(seed=77)


@pytest.fixture
def tight(world: World) -> Iterator[World]:
    """The same museum with room for about one phone photo a person."""
    limits = StorageLimits(user_bytes=len(PHOTO) * 19 // 10, expedition_bytes=10 * len(PHOTO))
    app = create_app(replace(world.runtime.config, storage_limits=limits))
    app.config["TESTING"] = True
    served = World(app, app.test_client(), tokens=world.tokens, device_id=world.device_id)
    yield served
    served.runtime.uow.engine.dispose()


def test_a_submission_past_the_members_quota_is_413_and_stores_nothing(tight: World) -> None:
    path = new_key(tight)["path"]
    first = send(tight, path, instance(photos=("a.jpg",)), {"a.jpg": PHOTO})
    assert first.status_code == 201, message(first)
    before = counts(tight)
    other = make.noise_jpeg_bytes(seed=78)
    xml = instance(photos=("b.jpg",), instance_id="5e9a2c1d-3b4f-4a6e-8d7c-1f2e3a4b5c6d")
    second = send(tight, path, xml, {"b.jpg": other})
    assert second.status_code == 413
    assert second.headers["X-OpenRosa-Version"] == "1.0"
    assert "past the quota" in message(second)
    assert counts(tight) == before
