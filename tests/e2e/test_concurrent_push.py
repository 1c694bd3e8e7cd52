"""Two server processes on one PostgreSQL database, pushed at once with overlapping batches."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import samples
from tests.e2e.server_process import running_server
from tests.integration.conftest import PASSWORD, build_world, sample_batch

pytestmark = pytest.mark.e2e


def _login(base: str, who: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{base}/api/v1/auth/token",
        json={"username": who, "password": PASSWORD, "device_name": "e2e"},
    )
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session


def test_two_processes_pushing_overlapping_batches_store_each_record_once(
    postgres_url: str, tmp_path: Path
) -> None:
    world = build_world(postgres_url, tmp_path / "seed")
    world.runtime.uow.engine.dispose()
    survey, template = sample_batch()[:2]
    finds = [samples.fresh_find(template) for _ in range(600)]
    # both pushers send every find, in opposite orders, in batches of 50
    plans = [finds, list(reversed(finds))]
    statuses: list[int] = []
    seen_by_puller: list[str] = []
    done = threading.Event()

    with (
        running_server(postgres_url, tmp_path / "a") as base_a,
        running_server(postgres_url, tmp_path / "b") as base_b,
    ):
        setup = _login(base_a, "recorder")
        assert setup.post(
            f"{base_a}/api/v1/sync/push",
            json={"device_id": "setup", "batch_id": str(uuid.uuid4()), "records": [survey]},
        ).ok
        cursor = setup.get(f"{base_a}/api/v1/sync/pull?since=0").json()["cursor"]

        def push(base: str, plan: list[dict[str, Any]], device: str) -> None:
            session = _login(base, "recorder")
            for start in range(0, len(plan), 50):
                answer = session.post(
                    f"{base}/api/v1/sync/push",
                    json={
                        "device_id": device,
                        "batch_id": str(uuid.uuid4()),
                        "records": plan[start : start + 50],
                    },
                )
                statuses.append(answer.status_code)

        def pull(base: str) -> None:
            nonlocal cursor
            session = _login(base, "reviewer")
            while True:
                finished = done.is_set()
                page = session.get(f"{base}/api/v1/sync/pull?since={cursor}&limit=97").json()
                seen_by_puller.extend(c["uuid"] for c in page["changes"])
                cursor = page["cursor"]
                if finished and not page["more"]:
                    return

        pushers = [
            threading.Thread(target=push, args=(base, plan, f"device-{i}"))
            for i, (base, plan) in enumerate(zip((base_a, base_b), plans, strict=True))
        ]
        puller = threading.Thread(target=pull, args=(base_b,))
        puller.start()
        for thread in pushers:
            thread.start()
        for thread in pushers:
            thread.join(120)
        done.set()
        puller.join(120)
        everything = (
            _login(base_a, "reviewer").get(f"{base_a}/api/v1/sync/pull?since=0&limit=5000").json()
        )

    assert statuses and set(statuses) == {200}
    uuids = [c["uuid"] for c in everything["changes"] if c["type"] == "find"]
    assert len(uuids) == len(set(uuids)) == len(finds)
    # the incremental reader saw every find exactly once, although commits interleaved
    assert sorted(seen_by_puller) == sorted(f["uuid"] for f in finds)
