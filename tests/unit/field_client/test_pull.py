"""Applying pulled changes: the server's version lands unless a local edit waits to be sent."""

from __future__ import annotations

from typing import Any

import pytest

from field_client import conflicts, outbox, pull, records
from field_client.errors import ClientError
from field_client.store import Store
from tests.unit.field_client.conftest import find_data, survey_data

SURVEY = "2007b0b8-2062-44a0-aba0-602805dc4e14"


def _change(uuid: str, server_rev: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": 1,
        "type": "find",
        "uuid": uuid,
        "server_rev": server_rev,
        "data": data,
        "state": {
            "status": "synced",
            "register_number": None,
            "merged_into": None,
            "flags": [],
            "conflicts": [],
        },
    }


def _synced_find(store: Store) -> tuple[str, dict[str, Any]]:
    """A find this laptop made and the server accepted as revision 1."""
    data = find_data(SURVEY)
    with store.transaction() as connection:
        record = records.create(connection, "find", data)
        records.update(connection, record.uuid, base_rev=1, server_data=record.data)
        outbox.settle(connection, record.uuid, 1)
    return record.uuid, record.data


def _apply(store: Store, change: dict[str, Any]) -> str:
    with store.transaction() as connection:
        return pull.apply_change(connection, change)


def test_a_record_first_seen_is_stored_with_nothing_to_send(store: Store) -> None:
    uuid = records.new_uuid()
    assert _apply(store, _change(uuid, 2, find_data(SURVEY))) == "new"
    with store.reading() as connection:
        record = records.get(connection, uuid)
        assert record is not None and record.base_rev == 2 and record.state["status"] == "synced"
        assert not outbox.is_pending(connection, uuid)


def test_a_record_without_local_edits_takes_the_servers_version(store: Store) -> None:
    uuid, data = _synced_find(store)
    assert _apply(store, _change(uuid, 2, {**data, "notes": "музей"})) == "updated"
    with store.reading() as connection:
        record = records.get(connection, uuid)
        assert record is not None and record.data["notes"] == "музей" and record.base_rev == 2


def test_a_local_edit_and_a_server_change_to_other_fields_are_merged(store: Store) -> None:
    uuid, data = _synced_find(store)
    with store.transaction() as connection:
        record = records.get(connection, uuid)
        assert record is not None
        records.revise(connection, record, {**data, "quantity": 3})
    assert _apply(store, _change(uuid, 2, {**data, "notes": "музей"})) == "merged"
    with store.reading() as connection:
        record = records.get(connection, uuid)
        assert record is not None
        assert (record.data["quantity"], record.data["notes"], record.base_rev) == (3, "музей", 2)
        assert outbox.ready_to_send(connection, 10) == [(uuid, 3)]


def test_a_local_edit_is_never_overwritten_a_clash_becomes_a_conflict(store: Store) -> None:
    uuid, data = _synced_find(store)
    with store.transaction() as connection:
        record = records.get(connection, uuid)
        assert record is not None
        records.revise(connection, record, {**data, "object_name": "Менікі"})
    assert _apply(store, _change(uuid, 2, {**data, "object_name": "Олардікі"})) == "conflict"
    with store.reading() as connection:
        record = records.get(connection, uuid)
        conflict = conflicts.open_conflict(connection, uuid)
        assert record is not None and record.data["object_name"] == "Менікі"
        assert conflict is not None and conflict.fields == ("object_name",)
        assert conflict.theirs is not None and conflict.theirs["object_name"] == "Олардікі"


def test_the_server_side_of_a_push_conflict_arrives_with_the_pull(store: Store) -> None:
    uuid, data = _synced_find(store)
    with store.transaction() as connection:
        record = records.get(connection, uuid)
        assert record is not None
        records.revise(connection, record, {**data, "object_name": "Менікі"})
        record = records.get(connection, uuid)
        assert record is not None
        conflicts.record_conflict(connection, record, "push", None, 2)
    _apply(store, _change(uuid, 2, {**data, "object_name": "Олардікі"}))
    with store.reading() as connection:
        conflict = conflicts.open_conflict(connection, uuid)
        assert conflict is not None and conflict.fields == ("object_name",)


def test_a_conflict_ends_by_itself_when_the_server_takes_the_local_version(store: Store) -> None:
    uuid, data = _synced_find(store)
    mine = {**data, "object_name": "Менікі"}
    with store.transaction() as connection:
        record = records.get(connection, uuid)
        assert record is not None
        records.revise(connection, record, mine)
        record = records.get(connection, uuid)
        assert record is not None
        conflicts.record_conflict(connection, record, "push", None, 2)
    _apply(store, _change(uuid, 3, mine))
    with store.reading() as connection:
        assert conflicts.open_conflict(connection, uuid) is None
        record = records.get(connection, uuid)
        assert record is not None and record.base_rev == 3


def test_resolving_builds_a_new_edit_on_the_servers_revision(store: Store) -> None:
    uuid, data = _synced_find(store)
    with store.transaction() as connection:
        record = records.get(connection, uuid)
        assert record is not None
        records.revise(connection, record, {**data, "object_name": "Менікі", "quantity": 4})
    _apply(store, _change(uuid, 5, {**data, "object_name": "Олардікі", "notes": "музей"}))
    with store.transaction() as connection:
        resolved, to_send = conflicts.resolve_conflict(connection, uuid, "mine", {})
    assert to_send
    assert (resolved.base_rev, resolved.data["object_name"]) == (5, "Менікі")
    assert (resolved.data["quantity"], resolved.data["notes"]) == (4, "музей")
    with store.reading() as connection:
        assert outbox.ready_to_send(connection, 10) == [(uuid, resolved.rev)]


def test_keeping_theirs_leaves_nothing_to_send(store: Store) -> None:
    uuid, data = _synced_find(store)
    with store.transaction() as connection:
        record = records.get(connection, uuid)
        assert record is not None
        records.revise(connection, record, {**data, "object_name": "Менікі"})
    _apply(store, _change(uuid, 2, {**data, "object_name": "Олардікі"}))
    with store.transaction() as connection:
        resolved, to_send = conflicts.resolve_conflict(connection, uuid, "theirs", {})
        assert not to_send and not outbox.is_pending(connection, uuid)
    assert resolved.data["object_name"] == "Олардікі"


def test_a_malformed_page_stops_the_pull() -> None:
    with pytest.raises(ClientError):
        pull.check_page({"changes": [{"type": "find"}], "cursor": 1, "more": False})
    with pytest.raises(ClientError):
        pull.check_page({"changes": [], "cursor": "1", "more": False})
    assert pull.check_page({"changes": [], "cursor": 4, "more": False}) == ([], 4, False)


def test_a_survey_pulled_is_listed_under_itself(store: Store) -> None:
    change = {**_change(SURVEY, 1, survey_data()), "type": "survey"}
    _apply(store, change)
    with store.reading() as connection:
        assert [r.uuid for r in records.list_of(connection, "survey")] == [SURVEY]
