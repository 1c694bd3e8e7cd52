"""A museum change is a server revision devices pull, and an audit line (DESIGN §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from field_server.domain.find_status import FindStatus
from field_server.services.errors import NotFound
from field_server.services.museum_revisions import (
    FindChange,
    load_find,
    load_finds,
    record_museum_revision,
    record_museum_revisions,
)
from tests.integration.conftest import World, sample_batch


def test_a_museum_revision_reaches_devices_and_the_audit_log(world: World) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    _, cursor = world.pull_all("recorder")
    find_uuid = batch[1]["uuid"]
    corrected = dict(batch[1]["data"], object_name="Corrected name")
    with world.runtime.uow(write=True) as uow:
        user = uow.users.by_username("reviewer")
        assert user is not None
        admin_id = user.id
        find = load_find(uow, find_uuid)
        assert find.status is FindStatus.SYNCED and find.server_rev == 1
        rev = record_museum_revision(
            uow,
            find,
            user_id=admin_id,
            now=datetime.now(UTC),
            action="find.correct",
            reason="label misread",
            data=corrected,
            status=FindStatus.APPROVED,
        )
        uow.commit()
    assert rev == 2

    changes, _ = world.pull_all("recorder", since=cursor)
    assert [c["uuid"] for c in changes] == [find_uuid]
    assert changes[0]["server_rev"] == 2
    assert changes[0]["data"]["object_name"] == "Corrected name"
    assert changes[0]["state"]["status"] == "approved"

    with world.runtime.uow() as uow:
        revisions = uow.records.revisions_of(find_uuid)
        lines = uow.audit.for_subject(f"find:{find_uuid}")
    assert [(r.server_rev, r.origin) for r in revisions] == [(1, "device"), (2, "museum")]
    assert revisions[1].user_id == admin_id and revisions[1].base_rev == 1
    (line,) = lines
    detail = json.loads(line.detail)
    assert line.action == "find.correct" and line.reason == "label misread"
    assert detail["fields"]["object_name"]["new"] == "Corrected name"
    assert detail["status"] == {"old": "synced", "new": "approved"}


def test_a_device_edit_on_the_old_revision_merges_with_the_museum_change(world: World) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    record = batch[1]
    with world.runtime.uow(write=True) as uow:
        find = load_find(uow, record["uuid"])
        record_museum_revision(
            uow,
            find,
            user_id=None,
            now=datetime.now(UTC),
            action="find.review",
            reason=None,
            status=FindStatus.APPROVED,
        )
        uow.commit()
    edited = dict(record, base_rev=1, rev=2, data=dict(record["data"], notes="bagged twice"))
    (result,) = world.pushed("recorder", [edited])["results"]
    assert result["status"] == "merged" and result["server_rev"] == 3


def test_only_finds_are_loaded(world: World) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    with world.runtime.uow() as uow:
        with pytest.raises(NotFound):
            load_find(uow, batch[0]["uuid"], lock=False)
        with pytest.raises(NotFound):
            load_find(uow, "00000000-0000-4000-8000-000000000000", lock=False)


def test_finds_load_together_leaving_out_what_is_not_a_find(world: World) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    unknown = "00000000-0000-4000-8000-000000000000"
    wanted = [batch[3]["uuid"], batch[0]["uuid"], unknown, batch[1]["uuid"]]
    with world.runtime.uow(write=True) as uow:
        found = load_finds(uow, wanted)
    assert set(found) == {batch[1]["uuid"], batch[3]["uuid"]}
    assert found[batch[3]["uuid"]].data == batch[3]["data"]
    assert found[batch[3]["uuid"]].status is FindStatus.SYNCED


def test_many_finds_change_in_one_call_as_one_by_one(world: World) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    _, cursor = world.pull_all("recorder")
    first, second, third = (r["uuid"] for r in batch[1:4])
    photo = "ab" * 32
    corrected = dict(batch[2]["data"], material="bone", photos=[photo])
    with world.runtime.uow(write=True) as uow:
        reviewer = uow.users.by_username("reviewer")
        assert reviewer is not None
        finds = load_finds(uow, [first, second, third])
        revs = record_museum_revisions(
            uow,
            [
                FindChange(finds[third], status=FindStatus.APPROVED, detail={"batch": 1}),
                FindChange(finds[second], data=corrected),
                FindChange(finds[first], status=FindStatus.REJECTED, register_number=None),
            ],
            user_id=reviewer.id,
            now=datetime.now(UTC),
            action="find.review",
            reason="one sitting",
        )
        uow.commit()
    assert revs == [2, 2, 2]

    # devices pull the three in the order given, each with its new state
    changes, _ = world.pull_all("recorder", since=cursor)
    assert [c["uuid"] for c in changes] == [third, second, first]
    assert [c["state"]["status"] for c in changes] == ["approved", "synced", "rejected"]
    assert changes[1]["data"]["material"] == "bone"

    with world.runtime.uow() as uow:
        lines = {u: uow.audit.for_subject(f"find:{u}") for u in (first, second, third)}
        revisions = {u: uow.records.revisions_of(u) for u in (first, second, third)}
        traits = uow.traits.of_uuids([first, second, third])
        statuses = dict(uow.connection.execute(text("SELECT uuid, status FROM find_traits")).all())
    for uuid in (first, second, third):
        (line,) = lines[uuid]
        assert line.action == "find.review" and line.reason == "one sitting"
        assert line.user_id == reviewer.id
        assert [(r.server_rev, r.origin, r.base_rev) for r in revisions[uuid]][-1] == (
            2,
            "museum",
            1,
        )
    assert json.loads(lines[third][0].detail) == {
        "server_rev": 2,
        "status": {"old": "synced", "new": "approved"},
        "batch": 1,
    }
    assert json.loads(lines[second][0].detail)["fields"] == {
        "material": {"old": batch[2]["data"]["material"], "new": "bone"},
        "photos": {"old": [], "new": [photo]},
    }
    # duplicate detection sees the new material, photo and statuses
    assert traits[second].material == "bone" and traits[second].photos == (photo,)
    assert statuses[first] == "rejected" and statuses[third] == "approved"


def test_a_find_changes_at_most_once_in_one_call(world: World) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    with world.runtime.uow(write=True) as uow:
        find = load_find(uow, batch[1]["uuid"])
        with pytest.raises(ValueError, match="only once"):
            record_museum_revisions(
                uow,
                [FindChange(find, status=FindStatus.APPROVED), FindChange(find)],
                user_id=None,
                now=datetime.now(UTC),
                action="find.review",
                reason=None,
            )
