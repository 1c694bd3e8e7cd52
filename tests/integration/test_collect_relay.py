"""The camp laptop's relay (DESIGN §9): a phone's submission pushed as a record of type
``submission`` beside the find the laptop made of it is kept as received, as one the phone sends
straight to the server is; one instanceID that reaches the server both ways is one find."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from field_server.adapters import tables as t
from field_server.services.auth import actor_for_username
from field_server.services.collect import needing_attention
from tests.integration.conftest import World, sample_batch
from tests.integration.test_collect_openrosa import counts, new_key, send
from tests.integration.test_web_phones import (
    KEYS,
    SUBMISSIONS,
    correction,
    key_ids,
    the_submission,
)
from tests.integration.web_session import browser
from tests.unit.collect.instances import INSTANCE_ID, instance

URL = "/api/v1/expeditions/ULY-2026/collect-submissions"
RECEIVED_AT = "2026-07-14T10:32:05+05:00"
XML = instance(photos=())


def submission_record(
    survey_uuid: str,
    xml: bytes = XML,
    *,
    record_uuid: str | None = None,
    find_uuid: str | None = INSTANCE_ID,
    instance_id: str = INSTANCE_ID,
    code: str = "ULY-2026",
) -> dict[str, Any]:
    # the record's uuid is the laptop's own: the instanceID is the find's uuid (DESIGN §9)
    return {
        "type": "submission",
        "uuid": record_uuid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"submission/{instance_id}")),
        "base_rev": 0,
        "rev": 1,
        "data": {
            "expedition_code": code,
            "survey_uuid": survey_uuid,
            "instance_id": instance_id,
            "find_uuid": find_uuid,
            "received_at": RECEIVED_AT,
            "xml": xml.decode("utf-8"),
        },
    }


def laptop_batch() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The laptop's survey, the find it made of the phone's submission, and the submission."""
    survey, find, *_ = sample_batch()
    find = {**find, "uuid": INSTANCE_ID}
    return [survey, find], submission_record(survey["uuid"])


def listed(world: World) -> list[dict[str, Any]]:
    response = world.client.get(URL, headers=world.headers("leader"))
    assert response.status_code == 200, response.get_json()
    submissions: list[dict[str, Any]] = response.get_json()["submissions"]
    return submissions


def statuses(answer: dict[str, Any]) -> list[str]:
    return [result["status"] for result in answer["results"]]


def test_a_relayed_submission_is_kept_as_received_beside_its_one_find(world: World) -> None:
    records, submission = laptop_batch()
    answer = world.pushed("recorder", [*records, submission])
    assert statuses(answer) == ["created", "created", "created"], answer
    [kept] = listed(world)
    assert kept["instance_id"] == INSTANCE_ID
    assert (kept["find_uuid"], kept["status"]) == (INSTANCE_ID, "filed")
    assert kept["attachments_missing"] == []
    raw = world.client.get(
        f"/api/v1/collect-submissions/{kept['id']}.xml", headers=world.headers("leader")
    )
    assert raw.status_code == 200
    assert raw.get_data() == XML  # byte for byte
    before = counts(world)
    again = world.pushed("recorder", [*records, submission])
    assert statuses(again) == ["unchanged", "unchanged", "unchanged"]
    assert counts(world) == before
    changes, _ = world.pull_all("leader")  # another member, another device
    [pulled] = [c for c in changes if c["type"] == "submission"]
    assert pulled["uuid"] == submission["uuid"]
    assert pulled["data"] == submission["data"]
    assert [c["uuid"] for c in changes if c["type"] == "find"].count(INSTANCE_ID) == 1


def test_the_phone_reaching_the_server_after_the_laptop_adds_nothing(world: World) -> None:
    records, submission = laptop_batch()
    world.pushed("recorder", [*records, submission])
    path = new_key(world)["path"]
    before = counts(world)
    response = send(world, path, XML)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert counts(world) == before
    other = instance(photos=(), answers={"object_name": "Басқа зат"})
    assert send(world, path, other).status_code == 409
    assert counts(world) == before


def test_the_laptop_relaying_what_the_phone_sent_first_makes_no_second_find(
    world: World,
) -> None:
    path = new_key(world)["path"]
    assert send(world, path, XML).status_code == 201
    changes, _ = world.pull_all("recorder")
    [find] = [c for c in changes if c["uuid"] == INSTANCE_ID]
    survey_uuid = find["data"]["survey_uuid"]
    before = counts(world)
    # the laptop's find of the same instance goes through the usual rules: the same content
    # as the server's is unchanged
    laptop_find = {"type": "find", "uuid": INSTANCE_ID, "base_rev": 0, "rev": 1,
                   "data": find["data"]}  # fmt: skip
    answer = world.pushed("recorder", [laptop_find, submission_record(survey_uuid)])
    assert statuses(answer) == ["unchanged", "created"], answer
    after = counts(world)
    assert after["submissions"] == before["submissions"]
    assert after["records"] == before["records"] + 1  # the submission record, no find
    [kept] = listed(world)
    assert kept["find_uuid"] == INSTANCE_ID
    changes, _ = world.pull_all("leader")
    assert [c["uuid"] for c in changes if c["type"] == "find"].count(INSTANCE_ID) == 1


def test_the_same_instance_with_other_xml_is_refused_either_way(world: World) -> None:
    path = new_key(world)["path"]
    assert send(world, path, XML).status_code == 201
    changes, _ = world.pull_all("recorder")
    [find] = [c for c in changes if c["uuid"] == INSTANCE_ID]
    before = counts(world)
    other = instance(photos=(), answers={"object_name": "Басқа зат"})
    answer = world.pushed("recorder", [submission_record(find["data"]["survey_uuid"], other)])
    [result] = answer["results"]
    assert result["status"] == "rejected"
    assert [f["code"] for f in result["flags"]] == ["instance_differs"]
    assert result["problems"][0]["field"] == "data.xml"
    assert counts(world) == before


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE find [<!ENTITY x "boom">]>'
            b'<find id="qazba_find"><a>&x;</a><meta><instanceID>uuid:'
            + INSTANCE_ID.encode()
            + b"</instanceID></meta></find>",
            "data.xml",
        ),
        (b"<find id='qazba_find'><meta>", "data.xml"),
        (instance(photos=(), form_id="someone_elses_form"), "data.xml"),
        (instance(photos=(), instance_id=str(uuid.uuid4())), "data.instance_id"),
    ],
    ids=["a DOCTYPE and ENTITY", "malformed XML", "a foreign form", "another instanceID"],
)
def test_a_pushed_submission_that_cannot_be_read_keeps_nothing(
    world: World, xml: bytes, field: str
) -> None:
    survey, *_ = sample_batch()
    world.pushed("recorder", [survey])
    before = counts(world)
    answer = world.pushed("recorder", [submission_record(survey["uuid"], xml)])
    [result] = answer["results"]
    assert result["status"] == "rejected"
    assert result["problems"][0]["field"] == field
    assert counts(world) == before


def test_a_submission_pushed_by_someone_outside_the_expedition_is_rejected(
    world: World,
) -> None:
    survey, *_ = sample_batch()
    world.pushed("recorder", [survey])
    before = counts(world)
    answer = world.pushed("outsider", [submission_record(survey["uuid"])])
    [result] = answer["results"]
    assert result["status"] == "rejected"
    assert result["problems"][0]["field"] == "data.expedition_code"
    assert counts(world) == before


def test_a_relayed_submission_without_a_find_waits_for_a_reviewer(world: World) -> None:
    survey, *_ = sample_batch()
    answer = world.pushed("recorder", [survey, submission_record(survey["uuid"], find_uuid=None)])
    assert statuses(answer) == ["created", "created"]
    [kept] = listed(world)
    assert (kept["find_uuid"], kept["status"]) == (None, "needs_review")


def test_the_laptops_other_find_of_the_phones_instance_stays_one_find(world: World) -> None:
    path = new_key(world)["path"]
    assert send(world, path, XML).status_code == 201
    changes, _ = world.pull_all("recorder")
    [find] = [c for c in changes if c["uuid"] == INSTANCE_ID]
    # the laptop numbered and named the find its own way: a device edit like any other
    data = {**find["data"], "object_name": "Қола пышақ (лагерь)", "find_number": "ULY-26-9001"}
    laptop_find = {"type": "find", "uuid": INSTANCE_ID, "base_rev": 0, "rev": 1, "data": data}
    answer = world.pushed("recorder", [laptop_find, submission_record(find["data"]["survey_uuid"])])
    assert statuses(answer) == ["conflict", "created"], answer
    changes, _ = world.pull_all("leader")
    [one] = [c for c in changes if c["type"] == "find" and c["uuid"] == INSTANCE_ID]
    assert one["data"] == find["data"]  # the server's version stands, the laptop's waits
    assert len(one["state"]["conflicts"]) == 1
    assert len(listed(world)) == 1


def test_a_relayed_submission_needing_review_is_shown_with_the_laptop(world: World) -> None:
    survey, *_ = sample_batch()
    world.pushed("recorder", [survey, submission_record(survey["uuid"], find_uuid=None)])
    actor = actor_for_username(world.runtime.uow, "leader")
    _, waiting = needing_attention(world.runtime.uow, actor, "ULY-2026")
    [shown] = waiting
    assert shown.username == "recorder"  # the member who pushed it
    assert (shown.device_name, shown.relayed) == (world.device_id, True)
    assert shown.draft["object_name"]
    text = browser(world, "reviewer").get(SUBMISSIONS).get_data(as_text=True)
    assert f"лагерьдегі ноутбук {world.device_id} арқылы жіберілген" in text


def test_a_relay_makes_no_key(world: World) -> None:
    """The laptop issues its phones' keys itself: a relayed submission names the laptop's
    device, and no key appears on the keys API or page."""
    records, submission = laptop_batch()
    world.pushed("recorder", [*records, submission])
    with world.runtime.uow() as uow:
        keys = uow.connection.execute(select(func.count()).select_from(t.collect_keys))
        assert keys.scalar_one() == 0
        row = uow.connection.execute(select(t.collect_submissions)).one()
    assert (row.key_id, row.relayed_by_device) == (None, world.device_id)
    assert row.survey_uuid == records[0]["uuid"]
    assert key_ids(world) == []
    page = browser(world, "leader").get(KEYS).get_data(as_text=True)
    assert world.device_id not in page


def test_a_relayed_submission_is_corrected_into_a_find_of_the_pushing_member(
    world: World,
) -> None:
    survey, *_ = sample_batch()
    bad = str(uuid.uuid4())
    xml = instance(photos=(), instance_id=bad, answers={"material": "plutonium"})
    record = submission_record(survey["uuid"], xml, find_uuid=None, instance_id=bad)
    world.pushed("recorder", [survey, record])
    row = the_submission(world, bad)
    filed = browser(world, "reviewer").post(
        f"{SUBMISSIONS}/{row.id}/correct", correction(world, bad, material="copper_alloy")
    )
    assert filed.status_code == 303, filed.get_data(as_text=True)
    with world.runtime.uow() as uow:
        stored = uow.finds.record(bad)
        assert stored is not None
        data = json.loads(stored.data)
    assert (data["material"], data["recorded_by"]) == ("copper_alloy", "recorder")
    assert data["survey_uuid"] == survey["uuid"]
    assert the_submission(world, bad).status == "filed"
