"""A pull cursor never skips a change that commits late (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from field_server.adapters.unit_of_work import UnitOfWork
from field_server.services.sync_push import apply_push
from tests import samples
from tests.integration.conftest import World, sample_batch


def test_a_late_commit_holds_the_cursor_back_and_is_pulled_afterwards(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey, template = sample_batch()[:2]
    world.pushed("recorder", [survey])
    _, cursor = world.pull_all("reviewer")

    paused = threading.Event()
    release = threading.Event()
    original_commit = UnitOfWork.commit

    def slow_commit(self: UnitOfWork) -> None:
        if threading.current_thread().name == "late-writer":
            paused.set()
            assert release.wait(30)
        original_commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", slow_commit)
    late = samples.fresh_find(template)
    early = samples.fresh_find(template)
    actor = _actor(world, "recorder")
    answers: dict[str, Any] = {}

    def write(name: str, record: dict[str, Any]) -> None:
        answers[name] = apply_push(
            world.runtime.uow,
            actor,
            {"device_id": name, "batch_id": name + record["uuid"], "records": [record]},
        )

    late_writer = threading.Thread(target=write, args=("late", late), name="late-writer")
    late_writer.start()
    assert paused.wait(30)
    # the late writer holds numbers it has not committed: a reader must not move past them
    changes, held = world.pull_all("reviewer", since=cursor)
    assert changes == [] and held == cursor
    # a second writer waits for the first instead of committing a higher number before it
    other = threading.Thread(target=write, args=("other", early), name="other-writer")
    other.start()
    other.join(0.5)
    assert other.is_alive()
    release.set()
    late_writer.join(30)
    other.join(30)
    changes, _ = world.pull_all("reviewer", since=cursor)
    assert [c["uuid"] for c in changes] == [late["uuid"], early["uuid"]]


def _actor(world: World, who: str) -> Any:
    from field_server.services.auth import actor_for_token

    world.headers(who)
    return actor_for_token(world.runtime.uow, world.tokens[who])
