"""A museum change is a server revision devices pull, and an audit line (DESIGN §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from field_server.domain.find_status import FindStatus
from field_server.services.errors import NotFound
from field_server.services.museum_revisions import load_find, record_museum_revision
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
