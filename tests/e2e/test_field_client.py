"""The real field-client executable against a real server process on a loopback port."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from field_client import account, finds
from field_client.home import STORE_NAME
from field_client.store import Store
from field_client.sync import SyncEngine
from field_client.transport import Transport
from field_server.adapters.database import make_engine
from tests.conftest import fresh_database_url
from tests.e2e.server_process import BIN, free_port, running_server
from tests.integration.conftest import PASSWORD, build_world

pytestmark = pytest.mark.e2e

CLIENT = str(BIN / "field-client")
# inside site DMB of ULY-2026
DMB = {"lon": 67.8446, "lat": 48.1932}


class Client:
    """One field laptop: the real executable with its own FIELD_CLIENT_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "FIELD_CLIENT_HOME": str(home)}

    def run(
        self, *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [CLIENT, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=180,
        )
        assert "Traceback" not in done.stderr, done.stderr
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [CLIENT, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def login(self, base: str, who: str = "recorder") -> None:
        self.run(
            "login", "--server", base, "--username", who, "--password-stdin", stdin=PASSWORD + "\n"
        )

    def add_find(self, **options: Any) -> dict[str, Any]:
        values = {
            "material": "ceramic",
            "object-name": "Қыш ыдыс сынығы",
            **DMB,
            "method": "gnss",
            **options,
        }
        args = [f"--{name.replace('_', '-')}={value}" for name, value in values.items()]
        return dict(self.json("find", "add", *args))


@contextmanager
def serving(database_url: str, data_dir: Path, port: int) -> Iterator[str]:
    """A server on a fixed port, so a laptop finds it again after a restart."""
    with running_server(database_url, data_dir, port=port) as base:
        yield base


def _seeded(database_url: str, tmp_path: Path) -> str:
    world = build_world(database_url, tmp_path / "seed")
    world.runtime.uow.engine.dispose()
    return database_url


@pytest.fixture
def sqlite_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    for url in fresh_database_url("sqlite", request, tmp_path):
        yield _seeded(url, tmp_path)


@pytest.fixture
def any_world(database_url: str, tmp_path: Path) -> str:
    return _seeded(database_url, tmp_path)


def _server_state(
    database_url: str,
) -> tuple[dict[str, tuple[str, int, str]], Counter[str], Counter[str]]:
    """Records (uuid → type, server_rev, data), revisions per uuid, and how often each uuid
    appears in the stored answers of every batch the server ever took."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = {
                uuid: (kind, rev, data)
                for uuid, kind, rev, data in connection.execute(
                    text("SELECT uuid, type, server_rev, data FROM records")
                )
            }
            revisions = Counter(
                {
                    uuid: count
                    for uuid, count in connection.execute(
                        text("SELECT uuid, count(*) FROM revisions GROUP BY uuid")
                    )
                }
            )
            sent: Counter[str] = Counter()
            for (response,) in connection.execute(text("SELECT response FROM push_batches")):
                sent.update(result["uuid"] for result in json.loads(response)["results"])
    finally:
        engine.dispose()
    return stored, revisions, sent


def test_a_season_recorded_offline_reaches_the_server_once(any_world: str, tmp_path: Path) -> None:
    laptop = Client(tmp_path / "laptop")
    port = free_port()
    with serving(any_world, tmp_path / "data", port) as base:
        laptop.login(base)
        assert (laptop.home / "token").stat().st_mode & 0o777 == 0o600
        laptop.run("pull")
        survey = laptop.json(
            "survey",
            "start",
            "--expedition",
            "ULY-2026",
            "--title",
            "Домбауыл, барлау 2026",
            "--team",
            "a.nurlankyzy,d.oralbay",
        )

    # the server is gone: everything but the network commands still works
    added = [
        laptop.add_find(
            context=str(100 + i), notes="Шаршы Б-2; квадрат Б-2, пласт 2", weight=12.5 + i
        )
        for i in range(5)
    ]
    assert [f["find_number"] for f in added] == [f"ULY26-{n:04d}" for n in range(1, 6)]
    assert {f["survey_uuid"] for f in added} == {survey["uuid"]}
    assert len(laptop.json("find", "list")) == 5
    assert laptop.json("status")["pending"] == {"find": 5, "survey": 1}
    failed = laptop.run("sync", "--retries", "2", ok=False)
    assert failed.returncode != 0
    assert failed.stderr.count("\n") == 1 and "cannot reach" in failed.stderr

    with serving(any_world, tmp_path / "data", port):
        report = laptop.json("sync")
        assert (report["records_sent"], report["results"]) == (6, {"created": 6})
        assert (report["pending"], report["rejected"], report["conflicts"]) == (0, 0, 0)
        stored, revisions, sent = _server_state(any_world)
        again = laptop.json("sync")
        assert (again["records_sent"], again["batches"]) == (0, 0)
        assert _server_state(any_world)[2] == sent

    mine = {f["uuid"] for f in added} | {survey["uuid"]}
    assert set(stored) == mine
    assert set(revisions.values()) == {1} and set(sent.values()) == {1}
    for find in added:
        data = json.loads(stored[find["uuid"]][2])
        assert data["object_name"] == "Қыш ыдыс сынығы"
        assert data["notes"] == "Шаршы Б-2; квадрат Б-2, пласт 2"
    shown = laptop.json("find", "show", added[0]["uuid"][:8])
    assert shown["sync"] == {**shown["sync"], "status": "synced", "rev": 1, "base_rev": 1}


def test_a_conflict_with_another_device_is_listed_and_resolved(
    sqlite_world: str, tmp_path: Path
) -> None:
    mine, theirs = Client(tmp_path / "mine"), Client(tmp_path / "theirs")
    with serving(sqlite_world, tmp_path / "data", free_port()) as base:
        mine.login(base)
        mine.run("survey", "start", "--expedition", "ULY-2026", "--title", "Алаша хан")
        find = mine.add_find()
        mine.run("sync")
        theirs.login(base, "leader")
        theirs.run("pull")
        theirs.run(
            "find", "edit", find["uuid"], "--object-name", "Ернеу сынығы", "--condition", "сынық"
        )
        theirs.run("sync")
        mine.run("find", "edit", find["uuid"], "--object-name", "Ыдыс түбі", "--quantity", "2")
        synced = mine.run("sync", "--json", ok=False)
        assert synced.returncode == 4, synced.stderr  # DESIGN §8: a conflict needs the user
        report = json.loads(synced.stdout)
        assert report["results"] == {"conflict": 1} and report["conflicts"] == 1

        listed = mine.json("conflicts")
        assert [(c["uuid"], c["fields"]) for c in listed] == [(find["uuid"], ["object_name"])]
        assert listed[0]["mine"] == {"object_name": "Ыдыс түбі"}
        assert listed[0]["theirs"] == {"object_name": "Ернеу сынығы"}
        both = mine.json("conflicts", "show", find["uuid"])
        assert both["mine"]["quantity"] == 2 and both["theirs"]["condition"] == "сынық"
        refused = mine.run("find", "edit", find["uuid"], "--notes", "x", ok=False)
        assert refused.returncode == 1 and "open conflict" in refused.stderr

        resolved = mine.json("conflicts", "resolve", find["uuid"], "--keep", "mine")
        assert resolved["sync"]["base_rev"] == 2
        assert mine.json("sync")["results"] == {"updated": 1}
        theirs.run("sync")

    stored, _, _ = _server_state(sqlite_world)
    _, server_rev, data_text = stored[find["uuid"]]
    data = json.loads(data_text)
    # my side of the clash, and the change each side made alone
    assert (server_rev, data["object_name"], data["quantity"], data["condition"]) == (
        3,
        "Ыдыс түбі",
        2,
        "сынық",
    )
    assert mine.json("conflicts") == []
    assert theirs.json("find", "show", find["uuid"])["object_name"] == "Ыдыс түбі"


def test_a_find_add_killed_at_any_moment_keeps_every_find_it_reported(tmp_path: Path) -> None:
    laptop = Client(tmp_path / "laptop")  # never online: no server at all
    laptop.run("survey", "start", "--expedition", "ULY-2026", "--title", "Офлайн")
    rng = random.Random(7)
    reported: list[str] = []
    for i in range(14):
        process = laptop.start(
            "find",
            "add",
            "--json",
            "--material",
            "slag",
            "--object-name",
            "Шлак",
            "--lon",
            "67.8446",
            "--lat",
            "48.1932",
            "--find-number",
            f"K-{i}",
            "--recorded-by",
            "s.kim",
        )
        time.sleep(rng.uniform(0.05, 0.8))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate(timeout=30)
        if out.strip():
            reported.append(json.loads(out)["uuid"])
    connection = sqlite3.connect(laptop.home / STORE_NAME)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {
            row[0] for row in connection.execute("SELECT uuid FROM record WHERE type = 'find'")
        }
    finally:
        connection.close()
    assert set(reported) <= stored
    assert {f["uuid"] for f in laptop.json("find", "list")} == stored


def _record_offline(home: Path, count: int, prefix: str) -> None:
    """Many finds at once, through the client's own code (starting a process per find would
    take minutes)."""
    store = Store.open(home / STORE_NAME)
    try:
        with store.transaction() as connection:
            for i in range(count):
                finds.add(
                    connection,
                    None,
                    {
                        "material": "ceramic",
                        "object_name": f"Қыш {prefix}-{i}",
                        "find_number": f"{prefix}-{i:04d}",
                        "site_code": "DMB",
                        "method": "total_station",
                        **DMB,
                    },
                )
    finally:
        store.close()


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_sync_killed_at_random_points_sends_every_find_exactly_once(
    sqlite_world: str, tmp_path: Path, seed: int
) -> None:
    laptop = Client(tmp_path / "laptop")
    rng = random.Random(seed)
    with serving(sqlite_world, tmp_path / "data", free_port()) as base:
        laptop.login(base)
        laptop.run("survey", "start", "--expedition", "ULY-2026", "--title", "Өлшеу")
        _record_offline(laptop.home, 300, f"S{seed}")
        kills = 0
        for _ in range(3):
            # a whole sync of these finds takes about a second here, startup included
            process = laptop.start("sync", "--batch-size", "10", "--json")
            time.sleep(rng.uniform(0.2, 1.0))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=60)
        final = laptop.json("sync", "--batch-size", "10")
        assert (final["pending"], final["rejected"], final["conflicts"]) == (0, 0, 0)
        assert laptop.json("sync")["records_sent"] == 0
        stored, revisions, sent = _server_state(sqlite_world)

    assert kills > 0
    local = {f["uuid"] for f in laptop.json("find", "list")}
    assert len(local) == 300
    assert {u for u, (kind, _, _) in stored.items() if kind == "find"} == local
    # each record written once, and answered in exactly one batch: nothing went twice
    assert set(revisions.values()) == {1}
    assert set(sent.values()) == {1} and set(sent) == set(stored)
    status = laptop.json("status")
    assert status["unanswered_batches"] == {"batches": 0, "records": 0} and status["pending"] == {}


class _AnswerLost(Exception):
    pass


class _LosingTransport(Transport):
    """Delivers the first push, then loses the server's answer, as a dropped link would."""

    lost = False

    def post(self, path: str, body: Any = None, *, raw_body: str | None = None) -> Any:
        answer = super().post(path, body, raw_body=raw_body)
        if path == "/api/v1/sync/push" and not self.lost:
            self.lost = True
            raise _AnswerLost
        return answer


def test_a_batch_whose_answer_was_lost_is_resent_and_answered_from_the_servers_record(
    sqlite_world: str, tmp_path: Path
) -> None:
    laptop = Client(tmp_path / "laptop")
    with serving(sqlite_world, tmp_path / "data", free_port()) as base:
        laptop.login(base)
        laptop.run("survey", "start", "--expedition", "ULY-2026", "--title", "Байланыс үзілді")
        _record_offline(laptop.home, 20, "L")
        store = Store.open(laptop.home / STORE_NAME)
        try:
            current = account.current(store, laptop.home)
            with (
                _LosingTransport(base, current.token) as transport,
                pytest.raises(_AnswerLost),
            ):
                SyncEngine(store, transport, current).sync()
        finally:
            store.close()
        assert laptop.json("status")["unanswered_batches"] == {"batches": 1, "records": 21}
        _, _, sent_before = _server_state(sqlite_world)
        report = laptop.json("sync")
        stored, revisions, sent = _server_state(sqlite_world)

    # the server had applied the batch: the resend got its stored answer, nothing new written
    assert len(sent_before) == 21 and sent == sent_before
    assert report["results"] == {"created": 21} and report["pending"] == 0
    assert set(revisions.values()) == {1} and len(stored) == 21


def test_a_rejected_find_stays_listed_until_corrected(sqlite_world: str, tmp_path: Path) -> None:
    laptop = Client(tmp_path / "laptop")
    with serving(sqlite_world, tmp_path / "data", free_port()) as base:
        laptop.login(base)
        laptop.run("survey", "start", "--expedition", "ULY-2026", "--title", "Нөлдік нүкте")
        good = laptop.add_find()
        bad = laptop.add_find(lon=0, lat=0)  # a receiver without a fix writes 0, 0
        synced = laptop.run("sync", "--json", ok=False)
        assert synced.returncode == 4, synced.stderr  # DESIGN §8: a rejected record needs you
        report = json.loads(synced.stdout)
        assert report["results"] == {"created": 2, "rejected": 1}
        assert (report["pending"], report["rejected"]) == (1, 1)
        status = laptop.json("status")
        assert [r["uuid"] for r in status["rejected"]] == [bad["uuid"]]
        assert status["rejected"][0]["problems"][0]["field"] == "data.position"
        assert "rejected find" in laptop.run("status").stdout
        again = laptop.run("sync", ok=False)
        assert again.returncode == 4 and "rejected find" in again.stderr
        assert "nothing to send" in again.stdout

        laptop.run("find", "edit", bad["uuid"], "--lon", "67.8447", "--lat", "48.1933")
        assert laptop.json("sync")["results"] == {"created": 1}
        stored, _, _ = _server_state(sqlite_world)
    assert {good["uuid"], bad["uuid"]} <= set(stored)
    assert laptop.json("status")["rejected"] == []
