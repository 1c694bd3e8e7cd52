"""The outbox: every local change enters it; the latest version of each pending record goes."""

from __future__ import annotations

from field_client import batches, conflicts, outbox, records
from field_client.store import Store
from tests.unit.field_client.conftest import find_data, survey_data


def _survey_and_find(store: Store) -> tuple[str, str]:
    with store.transaction() as connection:
        survey = records.create(connection, "survey", survey_data())
        find = records.create(connection, "find", find_data(survey.uuid))
    return survey.uuid, find.uuid


def test_a_new_record_and_each_edit_enter_the_outbox(store: Store) -> None:
    _, find = _survey_and_find(store)
    with store.transaction() as connection:
        record = records.get(connection, find)
        assert record is not None
        assert records.revise(connection, record, {**record.data, "quantity": 2}) == 2
        revs = [
            row[0] for row in connection.execute("SELECT rev FROM outbox WHERE uuid = ?", (find,))
        ]
    assert revs == [1, 2]


def test_surveys_go_before_the_finds_recorded_in_them(store: Store) -> None:
    with store.transaction() as connection:
        first = records.create(connection, "survey", survey_data())
        find = records.create(connection, "find", find_data(first.uuid))
        second = records.create(connection, "survey", survey_data())
        chosen = outbox.ready_to_send(connection, 10)
    assert chosen == [(first.uuid, 1), (second.uuid, 1), (find.uuid, 1)]


def test_only_the_latest_version_of_a_record_is_sent(store: Store) -> None:
    survey, find = _survey_and_find(store)
    with store.transaction() as connection:
        record = records.get(connection, find)
        assert record is not None
        records.revise(connection, record, {**record.data, "quantity": 3})
        batch = batches.write_batch(
            connection, "device", [u for u, _ in outbox.ready_to_send(connection, 10)]
        )
    assert [(item.uuid, item.rev) for item in batch.items] == [(survey, 1), (find, 2)]
    assert '"quantity":3' in batch.body


def test_settling_a_revision_keeps_later_edits_pending(store: Store) -> None:
    _, find = _survey_and_find(store)
    with store.transaction() as connection:
        record = records.get(connection, find)
        assert record is not None
        records.revise(connection, record, {**record.data, "quantity": 3})
        outbox.settle(connection, find, 1)
        assert outbox.is_pending(connection, find)
        outbox.settle(connection, find, 2)
        assert not outbox.is_pending(connection, find)


def test_records_in_a_batch_awaiting_its_answer_are_not_put_in_another(store: Store) -> None:
    survey, find = _survey_and_find(store)
    with store.transaction() as connection:
        batches.write_batch(connection, "device", [survey])
        assert outbox.ready_to_send(connection, 10) == [(find, 1)]
        assert [b.items[0].uuid for b in batches.unanswered(connection)] == [survey]


def test_a_rejected_version_waits_for_a_correction_unless_retried(store: Store) -> None:
    survey, find = _survey_and_find(store)
    with store.transaction() as connection:
        records.update(connection, find, rejected_rev=1, problems=[{"field": "x", "message": "y"}])
        assert outbox.ready_to_send(connection, 10) == [(survey, 1)]
        assert outbox.ready_to_send(connection, 10, retry_rejected=True) == [(survey, 1), (find, 1)]
        record = records.get(connection, find)
        assert record is not None and record.rejected
        records.revise(connection, record, {**record.data, "quantity": 9})
        assert outbox.ready_to_send(connection, 10) == [(survey, 1), (find, 2)]


def test_a_record_in_conflict_is_not_sent(store: Store) -> None:
    survey, find = _survey_and_find(store)
    with store.transaction() as connection:
        record = records.get(connection, find)
        assert record is not None
        conflicts.record_conflict(connection, record, "push", None, 2)
        assert outbox.ready_to_send(connection, 10) == [(survey, 1)]


def test_versions_already_sent_in_this_sync_are_left_out(store: Store) -> None:
    survey, find = _survey_and_find(store)
    with store.transaction() as connection:
        assert outbox.ready_to_send(connection, 10, exclude={(survey, 1)}) == [(find, 1)]
        assert outbox.ready_to_send(connection, 1) == [(survey, 1)]
