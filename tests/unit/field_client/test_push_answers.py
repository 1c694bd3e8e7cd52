"""Applying a push answer: each status leaves the record where the protocol says."""

from __future__ import annotations

from typing import Any

import pytest

from field_client import batches, conflicts, outbox, push, records
from field_client.errors import ClientError
from field_client.store import Store
from tests.unit.field_client.conftest import find_data, survey_data


def _sent(store: Store) -> tuple[batches.Batch, str, str]:
    with store.transaction() as connection:
        survey = records.create(connection, "survey", survey_data())
        find = records.create(connection, "find", find_data(survey.uuid))
        batch = batches.write_batch(connection, "device", [survey.uuid, find.uuid])
    return batch, survey.uuid, find.uuid


def _answer(batch: batches.Batch, *results: dict[str, Any]) -> dict[str, Any]:
    return {"batch_id": batch.batch_id, "results": list(results), "cursor": 9}


def _apply(store: Store, batch: batches.Batch, answer: dict[str, Any]) -> None:
    with store.transaction() as connection:
        push.apply_answer(connection, batch, answer)


def test_created_records_leave_the_outbox_with_the_servers_revision(store: Store) -> None:
    batch, survey, find = _sent(store)
    _apply(
        store,
        batch,
        _answer(
            batch,
            {"uuid": survey, "status": "created", "server_rev": 1},
            {
                "uuid": find,
                "status": "created",
                "server_rev": 1,
                "flags": [{"code": "c", "detail": "d"}],
            },
        ),
    )
    with store.reading() as connection:
        record = records.get(connection, find)
        assert record is not None
        assert (record.base_rev, record.server_data, record.flags) == (
            1,
            record.data,
            [{"code": "c", "detail": "d"}],
        )
        assert not outbox.is_pending(connection, find)
        assert batches.unanswered(connection) == []


def test_a_rejected_record_stays_pending_with_its_problems(store: Store) -> None:
    batch, survey, find = _sent(store)
    problems = [{"field": "data.position", "message": "position 0, 0"}]
    _apply(
        store,
        batch,
        _answer(
            batch,
            {"uuid": survey, "status": "created", "server_rev": 1},
            {"uuid": find, "status": "rejected", "server_rev": 0, "problems": problems},
        ),
    )
    with store.reading() as connection:
        record = records.get(connection, find)
        assert record is not None and record.rejected and record.problems == problems
        assert outbox.is_pending(connection, find)


def test_a_conflict_answer_parks_the_local_version_until_a_person_resolves_it(store: Store) -> None:
    batch, survey, find = _sent(store)
    _apply(
        store,
        batch,
        _answer(
            batch,
            {"uuid": survey, "status": "unchanged", "server_rev": 1},
            {"uuid": find, "status": "conflict", "server_rev": 4},
        ),
    )
    with store.reading() as connection:
        conflict = conflicts.open_conflict(connection, find)
        assert conflict is not None and conflict.theirs is None and conflict.theirs_rev == 4
        assert not outbox.is_pending(connection, find)


def test_an_edit_made_while_the_batch_was_away_stays_pending(store: Store) -> None:
    batch, survey, find = _sent(store)
    with store.transaction() as connection:
        record = records.get(connection, find)
        assert record is not None
        records.revise(connection, record, {**record.data, "quantity": 4})
    _apply(
        store,
        batch,
        _answer(
            batch,
            {"uuid": survey, "status": "created", "server_rev": 1},
            {"uuid": find, "status": "created", "server_rev": 1},
        ),
    )
    with store.reading() as connection:
        record = records.get(connection, find)
        assert record is not None and record.base_rev == 1 and record.rev == 2
        assert outbox.ready_to_send(connection, 10) == [(find, 2)]


def test_a_merge_answer_holds_a_later_edit_back_until_the_pull(store: Store) -> None:
    batch, survey, find = _sent(store)
    with store.transaction() as connection:
        record = records.get(connection, find)
        assert record is not None
        records.revise(connection, record, {**record.data, "quantity": 4})
    _apply(
        store,
        batch,
        _answer(
            batch,
            {"uuid": survey, "status": "created", "server_rev": 1},
            {"uuid": find, "status": "merged", "server_rev": 3},
        ),
    )
    with store.reading() as connection:
        record = records.get(connection, find)
        assert record is not None and record.awaiting_pull and record.base_rev == 0
        assert outbox.ready_to_send(connection, 10) == []


def test_an_answer_to_another_batch_is_refused_and_the_batch_kept(store: Store) -> None:
    batch, survey, _ = _sent(store)
    wrong = {"batch_id": "other", "results": [], "cursor": 0}
    with pytest.raises(ClientError, match="names another batch"):
        _apply(store, batch, wrong)
    short = _answer(batch, {"uuid": survey, "status": "created", "server_rev": 1})
    with pytest.raises(ClientError, match="one result per record"):
        _apply(store, batch, short)
    with store.reading() as connection:
        assert len(batches.unanswered(connection)) == 1
