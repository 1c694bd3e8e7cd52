"""The sync engine against a small in-memory stand-in for the server's push protocol."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from field_client import batches, outbox, records
from field_client.account import Account
from field_client.store import Store
from field_client.sync import SyncEngine
from field_client.transport import ServerRefused, Transport
from tests.unit.field_client.conftest import find_data, survey_data

ACCOUNT = Account("http://server.invalid", "recorder", ("recorder",), "device-1", "token")


class _AnswerLost(Exception):
    pass


class FakeServer(Transport):
    """Replays a batch_id's first answer, refuses finds whose survey it lacks, and refuses
    surveys titled in ``refused_titles``."""

    def __init__(self) -> None:
        super().__init__(ACCOUNT.server_url)
        self.revisions: dict[str, int] = {}
        self.answers: dict[str, dict[str, Any]] = {}
        self.pushed: Counter[str] = Counter()
        self.refused_titles: set[str] = set()
        self.lose_next_answer = False
        self.refuse_next_push: int | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        if path == "/api/v1/sync/push":
            return self._push(json.loads(raw_body or "{}"))
        if path == "/api/v1/sync/pull":
            return {"changes": [], "cursor": (query or {}).get("since", 0), "more": False}
        if path == "/api/v1/reference":
            return {"expeditions": [], "sites": [], "materials": []}
        raise AssertionError(f"unexpected {method} {path}")

    def _push(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.refuse_next_push is not None:
            status, self.refuse_next_push = self.refuse_next_push, None
            raise ServerRefused("refused", status, "invalid_input")
        batch_id = request["batch_id"]
        if batch_id not in self.answers:
            self.answers[batch_id] = {
                "batch_id": batch_id,
                "results": [self._take(record) for record in request["records"]],
                "cursor": 0,
            }
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise _AnswerLost
        return self.answers[batch_id]

    def _take(self, record: dict[str, Any]) -> dict[str, Any]:
        uuid, data = record["uuid"], record["data"]
        self.pushed[uuid] += 1
        refused = (record["type"] == "survey" and data["title"] in self.refused_titles) or (
            record["type"] == "find" and data["survey_uuid"] not in self.revisions
        )
        if refused:
            problem = {"field": "data", "message": "refused"}
            return {"uuid": uuid, "status": "rejected", "server_rev": 0, "problems": [problem]}
        status = "updated" if uuid in self.revisions else "created"
        self.revisions[uuid] = self.revisions.get(uuid, 0) + 1
        return {"uuid": uuid, "status": status, "server_rev": self.revisions[uuid]}


def _record(store: Store, finds: int, title: str = "Далалық маусым") -> list[str]:
    with store.transaction() as connection:
        survey = records.create(connection, "survey", {**survey_data(), "title": title})
        made = [
            records.create(connection, "find", find_data(survey.uuid, f"N-{i}")).uuid
            for i in range(finds)
        ]
    return [survey.uuid, *made]


def _pending(store: Store) -> list[str]:
    with store.reading() as connection:
        return outbox.pending_uuids(connection)


def test_a_sync_sends_everything_in_batches_and_the_next_sends_nothing(store: Store) -> None:
    uuids = _record(store, 25)
    server = FakeServer()
    report = SyncEngine(store, server, ACCOUNT, batch_size=10).sync()
    assert (report.batches, report.pushed) == (3, Counter({"created": 26}))
    assert set(server.pushed) == set(uuids) and set(server.pushed.values()) == {1}
    assert _pending(store) == []
    again = SyncEngine(store, server, ACCOUNT).sync()
    assert again.records_pushed == 0 and len(server.answers) == 3


def test_a_lost_answer_is_fetched_again_with_the_same_batch(store: Store) -> None:
    _record(store, 3)
    server = FakeServer()
    server.lose_next_answer = True
    with pytest.raises(_AnswerLost):
        SyncEngine(store, server, ACCOUNT).sync()
    with store.reading() as connection:
        [waiting] = batches.unanswered(connection)
    report = SyncEngine(store, server, ACCOUNT).sync()
    assert list(server.answers) == [waiting.batch_id]
    assert report.pushed == Counter({"created": 4}) and set(server.pushed.values()) == {1}


def test_finds_refused_for_a_missing_survey_go_again_once_it_is_corrected(store: Store) -> None:
    survey, *finds = _record(store, 2, title="Refused")
    server = FakeServer()
    server.refused_titles.add("Refused")
    first = SyncEngine(store, server, ACCOUNT).sync()
    assert first.pushed == Counter({"rejected": 3})
    assert SyncEngine(store, server, ACCOUNT).sync().records_pushed == 0
    with store.transaction() as connection:
        record = records.get(connection, survey)
        assert record is not None
        records.revise(connection, record, {**record.data, "title": "Corrected"})
    report = SyncEngine(store, server, ACCOUNT).sync()
    assert report.pushed == Counter({"created": 3})
    assert all(uuid in server.revisions for uuid in finds) and _pending(store) == []


def test_a_batch_refused_whole_is_dropped_and_its_records_stay_pending(store: Store) -> None:
    uuids = _record(store, 2)
    server = FakeServer()
    server.refuse_next_push = 422
    with pytest.raises(ServerRefused):
        SyncEngine(store, server, ACCOUNT).sync()
    with store.reading() as connection:
        assert batches.unanswered(connection) == []
    assert sorted(_pending(store)) == sorted(uuids)
    assert SyncEngine(store, server, ACCOUNT).sync().pushed == Counter({"created": 3})


def test_a_refused_token_keeps_the_batch_for_after_the_next_login(store: Store) -> None:
    _record(store, 1)
    server = FakeServer()
    server.refuse_next_push = 401
    with pytest.raises(ServerRefused):
        SyncEngine(store, server, ACCOUNT).sync()
    with store.reading() as connection:
        [kept] = batches.unanswered(connection)
    SyncEngine(store, server, ACCOUNT).sync()
    assert list(server.answers) == [kept.batch_id]
