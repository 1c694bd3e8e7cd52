"""Sync push on SQLite and PostgreSQL: statuses, replays, merges, conflicts, flags."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from pyproj import Geod

from tests import samples
from tests.integration.conftest import World, sample_batch


def statuses(answer: dict[str, Any]) -> list[str]:
    return [result["status"] for result in answer["results"]]


def by_uuid(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["uuid"]: result for result in answer["results"]}


def edited(record: dict[str, Any], base_rev: int, rev: int, **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(record)
    copied["base_rev"], copied["rev"] = base_rev, rev
    copied["data"].update(changes)
    return copied


def test_a_new_batch_is_created_in_request_order(world: World) -> None:
    batch = sample_batch()
    answer = world.pushed("recorder", batch)
    assert [r["uuid"] for r in answer["results"]] == [r["uuid"] for r in batch]
    assert set(statuses(answer)) == {"created"}
    assert all(r["server_rev"] == 1 for r in answer["results"])
    assert answer["cursor"] >= len(batch)


@pytest.mark.parametrize("replays", [1, 2, 3])
def test_replayed_batches_write_nothing(world: World, replays: int) -> None:
    batch = sample_batch()
    batch_id = str(uuid.uuid4())
    first = world.pushed("recorder", batch, batch_id=batch_id)
    _, cursor = world.pull_all("reviewer")
    for _ in range(replays):
        assert world.pushed("recorder", batch, batch_id=batch_id) == first
    changes, after = world.pull_all("reviewer")
    assert after == cursor
    assert len(changes) == len({c["uuid"] for c in changes}) == len(batch)


def test_the_same_records_in_a_new_batch_are_unchanged(world: World) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    _, cursor = world.pull_all("reviewer")
    again = world.pushed("recorder", batch)
    assert set(statuses(again)) == {"unchanged"}
    assert world.pull_all("reviewer", since=cursor)[0] == []


def test_an_edit_from_the_current_revision_is_updated(world: World) -> None:
    survey, find = sample_batch()[:2]
    world.pushed("recorder", [survey, find])
    answer = world.pushed("recorder", [edited(find, 1, 2, notes="Тазаланды, суретке түсірілді")])
    assert statuses(answer) == ["updated"] and answer["results"][0]["server_rev"] == 2
    [change] = [c for c in world.pull_all("recorder")[0] if c["uuid"] == find["uuid"]]
    assert change["server_rev"] == 2
    assert change["data"]["notes"] == "Тазаланды, суретке түсірілді"


def test_edits_to_different_fields_from_two_devices_are_merged(world: World) -> None:
    survey, find = sample_batch()[:2]
    world.pushed("recorder", [survey, find])
    first = world.pushed("recorder", [edited(find, 1, 2, condition="Жақсы")], device_id="laptop-a")
    assert statuses(first) == ["updated"]
    second = world.pushed("leader", [edited(find, 1, 2, weight_g=99.5)], device_id="laptop-b")
    assert statuses(second) == ["merged"] and second["results"][0]["server_rev"] == 3
    [change] = [c for c in world.pull_all("recorder")[0] if c["uuid"] == find["uuid"]]
    assert change["data"]["condition"] == "Жақсы" and change["data"]["weight_g"] == 99.5


def test_edits_to_the_same_field_conflict_and_both_are_kept(world: World) -> None:
    survey, find = sample_batch()[:2]
    world.pushed("recorder", [survey, find])
    world.pushed("recorder", [edited(find, 1, 2, material="bone")], device_id="laptop-a")
    answer = world.pushed("leader", [edited(find, 1, 2, material="stone")], device_id="laptop-b")
    assert statuses(answer) == ["conflict"] and answer["results"][0]["server_rev"] == 2
    [change] = [c for c in world.pull_all("reviewer")[0] if c["uuid"] == find["uuid"]]
    assert change["data"]["material"] == "bone"
    [conflict] = change["state"]["conflicts"]
    assert conflict["fields"] == ["material"]
    assert conflict["data"]["material"] == "stone"
    assert conflict["device_id"] == "laptop-b"
    # the same conflicting push again parks nothing new
    again = world.pushed("leader", [edited(find, 1, 2, material="stone")], device_id="laptop-b")
    assert statuses(again) == ["unchanged"]
    [change] = [c for c in world.pull_all("reviewer")[0] if c["uuid"] == find["uuid"]]
    assert len(change["state"]["conflicts"]) == 1


def test_an_old_edit_replayed_after_the_server_moved_on_is_unchanged(world: World) -> None:
    survey, find = sample_batch()[:2]
    world.pushed("recorder", [survey, find], device_id="laptop-a")
    edit = edited(find, 1, 2, notes="first edit")
    world.pushed("recorder", [edit], device_id="laptop-a")
    world.pushed("leader", [edited(find, 2, 1, notes="the leader's edit")], device_id="laptop-b")
    again = world.pushed("recorder", [edit], device_id="laptop-a")
    assert statuses(again) == ["unchanged"] and again["results"][0]["server_rev"] == 3


def test_one_bad_record_does_not_block_the_others(world: World) -> None:
    batch = sample_batch()
    broken = copy.deepcopy(batch[3])
    broken["data"]["quantity"] = "many"
    batch[3] = broken
    answer = world.pushed("recorder", batch)
    results = answer["results"]
    assert results[3]["status"] == "rejected"
    assert any(p["field"] == "data.quantity" for p in results[3]["problems"])
    assert [r["status"] for i, r in enumerate(results) if i != 3] == ["created"] * (len(batch) - 1)
    pulled = {c["uuid"] for c in world.pull_all("reviewer")[0]}
    assert broken["uuid"] not in pulled and len(pulled) == len(batch) - 1


def test_a_find_outside_its_site_and_a_poor_fix_are_flagged_not_dropped(world: World) -> None:
    survey, template = sample_batch()[:2]
    outside = samples.fresh_find(template)
    site = next(
        s
        for e in samples.expeditions()
        for s in e["sites"]
        if s["code"] == template["data"]["site_code"]
    )
    east_lon, east_lat = max(site["boundary"]["coordinates"][0])
    # 0.01° east of the easternmost vertex: no boundary point is nearer than the meridian
    # through that vertex, none farther than the vertex itself
    outside["data"]["position"] = {
        "lon": east_lon + 0.01,
        "lat": east_lat,
        "horizontal_accuracy_m": 2.0,
        "method": "gnss",
    }
    geod = Geod(ellps="WGS84")
    upper = geod.inv(east_lon, east_lat, east_lon + 0.01, east_lat)[2]
    poor = samples.fresh_find(template)
    poor["data"]["position"] = {**template["data"]["position"], "horizontal_accuracy_m": 40.0}
    answer = by_uuid(world.pushed("recorder", [survey, outside, poor]))
    [flag] = answer[outside["uuid"]]["flags"]
    assert flag["code"] == "outside_site"
    assert upper * 0.995 < flag["distance_m"] <= upper + 0.01
    assert [f["code"] for f in answer[poor["uuid"]]["flags"]] == ["poor_accuracy"]
    assert answer[outside["uuid"]]["status"] == answer[poor["uuid"]]["status"] == "created"
    states = {c["uuid"]: c["state"] for c in world.pull_all("reviewer")[0]}
    assert states[outside["uuid"]]["flags"][0]["code"] == "outside_site"


def test_a_find_number_typed_twice_is_a_duplicate_candidate_not_an_overwrite(world: World) -> None:
    survey, find = sample_batch()[:2]
    world.pushed("recorder", [survey, find])
    twin = samples.fresh_find(find, find_number=find["data"]["find_number"])
    [result] = world.pushed("recorder", [twin])["results"]
    assert result["status"] == "created"
    number_flag, candidate_flag = result["flags"]
    assert number_flag == {
        "code": "duplicate_find_number",
        "other_uuid": find["uuid"],
        "detail": f"find number {find['data']['find_number']} is already used by {find['uuid']}",
    }
    assert candidate_flag["code"] == "duplicate_candidate"
    assert candidate_flag["other_uuid"] == find["uuid"]
    number = find["data"]["find_number"]
    assert candidate_flag["detail"] == (
        f"find number {number} is carried by 1 other find too (score 0.90: same_find_number)"
    )
    assert (candidate_flag["find_number"], candidate_flag["others"]) == (number, 1)


def test_pull_pages_through_every_change_once(world: World) -> None:
    for code in ("ULY-2026", "ZHZ-2026"):
        world.pushed("admin", sample_batch(code))
    changes, cursor = world.pull_all("reviewer", limit=7)
    assert len(changes) == len({c["uuid"] for c in changes})
    assert [c["seq"] for c in changes] == sorted(c["seq"] for c in changes)
    assert cursor == changes[-1]["seq"]
    find = next(c for c in changes if c["type"] == "find")
    assert find["state"] == {
        "status": "synced",
        "register_number": None,
        "merged_into": None,
        "flags": find["state"]["flags"],
        "conflicts": [],
    }


def test_a_recorder_pulls_only_its_own_expeditions(world: World) -> None:
    world.pushed("admin", sample_batch("ULY-2026"))
    world.pushed("admin", sample_batch("ZHZ-2026"))
    mine = world.pull_all("recorder")[0]
    theirs = world.pull_all("outsider")[0]
    assert {c["data"].get("expedition_code") for c in mine} == {"ULY-2026"}
    assert {c["data"].get("expedition_code") for c in theirs} == {"ZHZ-2026"}


def test_kazakh_text_round_trips_through_push_and_pull(world: World) -> None:
    survey, template = sample_batch()[:2]
    text = "Қола дәуірі: мыс қорытпасынан жасалған біләзік — ӘҒҚҢӨҰҮҺІ"
    find = samples.fresh_find(template, object_name=text, description="Браслет из медного сплава")
    world.pushed("recorder", [survey, find])
    [change] = [c for c in world.pull_all("recorder")[0] if c["uuid"] == find["uuid"]]
    assert change["data"]["object_name"] == text
    assert change["data"]["description"] == "Браслет из медного сплава"


def test_number_blocks_never_overlap(world: World) -> None:
    blocks = []
    for count in (100, 1, 250):
        response = world.client.post(
            "/api/v1/expeditions/ULY-2026/number-blocks",
            json={"device_id": "laptop-a", "count": count},
            headers=world.headers("recorder"),
        )
        assert response.status_code == 201, response.get_json()
        blocks.append(response.get_json())
    ranges = [range(b["first"], b["last"] + 1) for b in blocks]
    assert sum(len(r) for r in ranges) == len(set().union(*map(set, ranges))) == 351
    assert blocks[0]["first_number"] == "ULY26-0001" and blocks[0]["last_number"] == "ULY26-0100"


def test_a_survey_ending_before_it_starts_is_rejected(world: World) -> None:
    survey = copy.deepcopy(sample_batch()[0])
    survey["data"]["started_on"], survey["data"]["ended_on"] = "2026-08-01", "2026-07-01"
    [result] = world.pushed("recorder", [survey])["results"]
    assert result["status"] == "rejected"
    assert result["problems"][0]["field"] == "data.ended_on"
