"""A season's sync — 2,000 finds and 100 photos — SIGKILLed mid-push and mid-upload, then run
again: the server holds every find once and every photo byte for byte."""

from __future__ import annotations

import hashlib
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from field_client.home import STORE_NAME
from tests import media_factory
from tests.conftest import fresh_database_url
from tests.e2e.server_process import free_port
from tests.e2e.test_field_client import (
    Client,
    _record_offline,
    _seeded,
    _server_state,
    serving,
)
from tests.e2e.test_photo_upload import served_digest
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.e2e

FINDS = 2000
PHOTOS = 100


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    for url in fresh_database_url("sqlite", request, tmp_path):
        yield _seeded(url, tmp_path)


def _progress(home: Path) -> tuple[int, int, int]:
    """(records still waiting to be answered, photo files the server holds, uploads begun and
    not finished), as the laptop's store says between the sync's own transactions."""
    store = sqlite3.connect(f"file:{home / STORE_NAME}?mode=ro", uri=True, timeout=10)
    try:
        waiting = store.execute("SELECT count(DISTINCT uuid) FROM outbox").fetchone()[0]
        uploaded, begun = store.execute(
            "SELECT count(*) FILTER (WHERE on_server = 1), count(upload_url) FROM photo_file"
        ).fetchone()
    finally:
        store.close()
    return waiting, uploaded, begun


def _kill_when(
    laptop: Client,
    reached: Callable[[tuple[int, int, int]], bool],
    rng: random.Random,
    deadline_s: float = 60,
) -> tuple[int, int, int]:
    """Start a sync, SIGKILL it once ``reached(progress)`` holds plus a random few
    milliseconds (so the kill falls inside a request as often as between two), and say where
    the laptop stood afterwards."""
    process = laptop.start("sync", "--batch-size", "25", "--chunk-size", "1", "--json")
    deadline = time.monotonic() + deadline_s
    while not reached(_progress(laptop.home)):
        if process.poll() is not None:
            pytest.fail(f"the sync ended before the kill: {process.communicate()[1]}")
        assert time.monotonic() < deadline, "the sync never got that far"
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.03))
    assert process.poll() is None, "the sync ended before the kill"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return _progress(laptop.home)


def _card(folder: Path, numbers: list[str]) -> dict[str, str]:
    """One small distinct camera JPEG per find number, named as the camera card has them;
    file name → SHA-256."""
    folder.mkdir()
    digests = {}
    for i, number in enumerate(numbers):
        photo = media_factory.jpeg(folder, f"{number}_P{i:03d}.JPG", seed=1000 + i)
        digests[photo.name] = hashlib.sha256(photo.read_bytes()).hexdigest()
    return digests


def _pull_everything(base: str, who: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every change the server holds, as ``who`` sees it, and ``who``'s headers."""
    answer = requests.post(
        f"{base}/api/v1/auth/token",
        json={"username": who, "password": PASSWORD, "device_name": "the registrar's desk"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    changes: list[dict[str, Any]] = []
    since = 0
    while True:
        page = requests.get(
            f"{base}/api/v1/sync/pull",
            params={"since": since, "limit": 5000},
            headers=headers,
            timeout=60,
        ).json()
        changes.extend(page["changes"])
        since = page["cursor"]
        if not page["more"]:
            return changes, headers


@pytest.mark.parametrize("seed", [21, 22])
def test_a_season_sync_killed_mid_push_and_mid_upload_lands_every_find_once_and_every_photo(
    world: str, tmp_path: Path, seed: int
) -> None:
    laptop = Client(tmp_path / "laptop")
    rng = random.Random(seed)
    prefix = f"K{seed}"
    numbers = [f"{prefix}-{i:04d}" for i in range(0, FINDS, FINDS // PHOTOS)]
    digests = _card(tmp_path / "card", numbers)
    with serving(world, tmp_path / "data", free_port()) as base:
        laptop.login(base)
        laptop.run("survey", "start", "--expedition", "ULY-2026", "--title", "Өлшеу")
        _record_offline(laptop.home, FINDS, prefix)
        laptop.run("import", "photos", str(tmp_path / "card"))
        total = _progress(laptop.home)[0]
        assert total == 1 + FINDS + PHOTOS  # the survey, the finds, the photo records

        pushed = rng.randint(total // 10, total // 2)
        landed = [_kill_when(laptop, lambda p: total - p[0] >= pushed, rng)]
        some = rng.randint(1, PHOTOS // 3)
        landed.append(_kill_when(laptop, lambda p: p[1] >= some, rng))
        more = rng.randint(PHOTOS // 2, PHOTOS - 10)
        landed.append(_kill_when(laptop, lambda p: p[1] >= more, rng))
        print(f"seed {seed}: (records waiting, photos stored, uploads cut) after kills: {landed}")
        # the first kill fell mid-push, the others mid-upload
        assert landed[0][0] > 0 and landed[0][1] == 0
        assert all(0 < uploaded < PHOTOS for _, uploaded, _ in landed[1:])

        final = laptop.json("sync", "--batch-size", "25", "--chunk-size", "1")
        assert (final["pending"], final["rejected"], final["conflicts"]) == (0, 0, 0)
        assert final["photos_not_on_server"] == 0
        changes, headers = _pull_everything(base, "reviewer")
        served = {sha: served_digest(base, headers, sha) for sha in digests.values()}
        stored, revisions, sent = _server_state(world)

    finds = [c for c in changes if c["type"] == "find"]
    assert len(finds) == FINDS
    by_number = Counter(c["data"]["find_number"] for c in finds)
    assert set(by_number) == {f"{prefix}-{i:04d}" for i in range(FINDS)}
    assert set(by_number.values()) == {1}
    assert {c["uuid"] for c in finds} == {f["uuid"] for f in laptop.json("find", "list")}
    # written once, answered in one batch: no record went through twice
    assert set(revisions.values()) == {1} and set(sent.values()) == {1}
    assert len(stored) == total
    assert served == {sha: sha for sha in digests.values()}
    # each photo stays by the find its file name gave
    by_find = {c["data"]["find_number"]: c for c in finds}
    photo_records = {c["data"]["sha256"]: c["data"] for c in changes if c["type"] == "photo"}
    assert set(photo_records) == set(digests.values())
    for name, sha in digests.items():
        find = by_find[name.split("_")[0]]
        assert find["data"]["photos"] == [sha]
        assert photo_records[sha]["find_uuids"] == [find["uuid"]]
