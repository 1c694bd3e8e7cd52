"""Duplicates, merges with aliases, review, corrections and conflicts through the API, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import insert, select

from field_server.adapters import tables
from field_server.services import duplicates
from field_server.services.auth import now_utc
from tests.integration.conftest import World, sample_batch
from tests.samples import camp_batch

RIM, RIM_AGAIN = "12976f64-ad47-4ab1-898f-ffa5cc9f92ea", "c3a9f1e2-7b64-4d0a-8e25-91f4b6d2a7c8"
ARROWHEAD, NAIL = "af1d7a55-a91d-4ae8-860e-04f6af931971", "e81d4c36-2a9b-4f57-b0c3-5d7e9a1f2b64"
PROBLEM = "application/problem+json"


def push_baskamyr(world: World) -> dict[str, dict[str, Any]]:
    """The dig's laptop, then the camp laptop: the answers to the camp push by uuid."""
    world.pushed("recorder", sample_batch())
    answer = world.pushed("leader", camp_batch(), device_id="camp-laptop")
    return {r["uuid"]: r for r in answer["results"]}


def queue(world: World, state: str | None = None, who: str = "reviewer") -> list[dict[str, Any]]:
    """The whole queue in ``state``, read page by page."""
    url = "/api/v1/expeditions/ULY-2026/duplicates?limit=500" + (f"&state={state}" if state else "")
    found: list[dict[str, Any]] = []
    after = ""
    while True:
        response = world.client.get(url + after, headers=world.headers(who))
        assert response.status_code == 200, response.get_data(as_text=True)
        page = response.get_json()
        found += page["candidates"]
        if page["next"] is None:
            return found
        after = f"&after={page['next']}"


def post(world: World, url: str, body: Any, who: str = "reviewer") -> Any:
    return world.client.post(url, json=body, headers=world.headers(who))


def details(world: World, uuid: str, who: str = "reviewer") -> dict[str, Any]:
    response = world.client.get(f"/api/v1/finds/{uuid}", headers=world.headers(who))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def pair(candidate: dict[str, Any]) -> frozenset[str]:
    return frozenset(candidate["find_uuids"])


def test_a_push_flags_and_queues_its_duplicates_with_their_rules(world: World) -> None:
    results = push_baskamyr(world)
    [near] = [f for f in results[RIM_AGAIN]["flags"] if f["code"] == "duplicate_candidate"]
    assert near["other_uuid"] == RIM and near["distance_m"] == 0.3
    codes = [f["code"] for f in results[NAIL]["flags"]]
    assert codes == ["duplicate_find_number", "duplicate_candidate"]

    found = {pair(c): c for c in queue(world)}
    assert set(found) == {frozenset({RIM, RIM_AGAIN}), frozenset({ARROWHEAD, NAIL})}
    near_pair = found[frozenset({RIM, RIM_AGAIN})]
    assert near_pair["find_uuids"] == sorted(near_pair["find_uuids"])
    assert near_pair["score"] >= 0.9 and near_pair["state"] == "open"
    assert near_pair["rules"][:2] == ["near_match", "similar_object_name"]
    assert found[frozenset({ARROWHEAD, NAIL})]["rules"] == ["same_find_number"]
    # the flag travels to devices with the find
    states = {c["uuid"]: c["state"] for c in world.pull_all("recorder")[0]}
    assert "duplicate_candidate" in [f["code"] for f in states[RIM_AGAIN]["flags"]]


def test_full_detection_agrees_and_a_dismissed_pair_never_comes_back(world: World) -> None:
    push_baskamyr(world)
    before = {pair(c): c["id"] for c in queue(world)}
    report = post(world, "/api/v1/expeditions/ULY-2026/duplicates/detect", None).get_json()
    assert report["finds"] == 20 and report["open"] == 2 and report["added"] == 0
    assert {pair(c): c["id"] for c in queue(world)} == before

    nail_pair = before[frozenset({ARROWHEAD, NAIL})]
    dismissed = post(world, f"/api/v1/duplicates/{nail_pair}/dismiss", {"reason": "two objects"})
    assert dismissed.status_code == 200 and dismissed.get_json()["state"] == "dismissed"
    post(world, "/api/v1/expeditions/ULY-2026/duplicates/detect", None)
    # and a later edit of the nail, pushed again, does not bring it back either
    nail = camp_batch()[2]
    edited = dict(nail, base_rev=1, rev=2, data=dict(nail["data"], notes="re-bagged"))
    [result] = world.pushed("leader", [edited], device_id="camp-laptop")["results"]
    assert result["status"] == "updated"
    assert "duplicate_candidate" not in [f["code"] for f in result.get("flags", [])]
    assert [pair(c) for c in queue(world)] == [frozenset({RIM, RIM_AGAIN})]
    assert [c["id"] for c in queue(world, "dismissed")] == [nail_pair]
    again = post(world, f"/api/v1/duplicates/{nail_pair}/dismiss", {})
    assert again.status_code == 409 and again.get_json()["code"] == "already_decided"


def test_a_pair_that_no_longer_matches_is_withdrawn_and_reopens_when_it_matches_again(
    world: World,
) -> None:
    push_baskamyr(world)
    rim_again = camp_batch()[1]
    moved = json.loads(json.dumps(rim_again))
    moved.update(base_rev=1, rev=2)
    moved["data"]["material"] = "glass"
    world.pushed("leader", [moved], device_id="camp-laptop")
    assert [c["state"] for c in queue(world, "all") if RIM_AGAIN in c["find_uuids"]] == [
        "withdrawn"
    ]
    back = dict(rim_again, base_rev=2, rev=3)
    world.pushed("leader", [back], device_id="camp-laptop")
    assert [c["state"] for c in queue(world, "all") if RIM_AGAIN in c["find_uuids"]] == ["open"]


def test_finds_with_and_without_a_context_find_each_other_after_a_push(world: World) -> None:
    push_baskamyr(world)

    def entered_again(uuid: str, number: str, context: str | None) -> set[str]:
        record = json.loads(json.dumps(camp_batch()[1]))
        record["uuid"] = uuid
        record["data"].update(find_number=number, context=context)
        [result] = world.pushed("leader", [record], device_id="camp-laptop")["results"]
        assert result["status"] == "created"
        flags = result.get("flags", [])
        return {f["other_uuid"] for f in flags if f["code"] == "duplicate_candidate"}

    # no context: compared with the finds of every context around it
    loose = "0d3f5a8e-2b1c-4e7d-9a6f-3c8b1e2d4f50"
    assert entered_again(loose, "ULY26-0302", None) == {RIM, RIM_AGAIN}
    # a context: compared with its own context and with the finds that have none
    again = "7a2e9c41-5d8b-4f3a-b6e0-1c9d2f7a8e35"
    assert entered_again(again, "ULY26-0303", "102") == {RIM, RIM_AGAIN, loose}


def test_a_push_during_full_detection_is_left_as_the_push_left_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_baskamyr(world)
    rim_again = camp_batch()[1]
    moved = json.loads(json.dumps(rim_again))
    moved.update(base_rev=1, rev=2)
    moved["data"]["material"] = "glass"
    compare = duplicates.near_pairs

    def push_meanwhile(finds: Any) -> Any:
        # the run has read the finds (the rim twice); a device now moves one of them away
        world.pushed("leader", [moved], device_id="camp-laptop")
        return compare(finds)

    monkeypatch.setattr(duplicates, "near_pairs", push_meanwhile)
    report = post(world, "/api/v1/expeditions/ULY-2026/duplicates/detect", None).get_json()
    states = {pair(c): c["state"] for c in queue(world, "all")}
    assert states == {
        frozenset({RIM, RIM_AGAIN}): "withdrawn",
        frozenset({ARROWHEAD, NAIL}): "open",
    }
    assert report["open"] == 1 and report["withdrawn"] == 0


def test_merge_keeps_both_histories_and_routes_the_alias_to_the_kept_find(world: World) -> None:
    push_baskamyr(world)
    photo = "a" * 64
    rim_again = camp_batch()[1]
    with_photo = dict(rim_again, base_rev=1, rev=2, data=dict(rim_again["data"], photos=[photo]))
    world.pushed("leader", [with_photo], device_id="camp-laptop")
    candidate = next(c for c in queue(world) if RIM_AGAIN in c["find_uuids"])
    assert "shared_photo" not in candidate["rules"]

    response = post(world, f"/api/v1/duplicates/{candidate['id']}/merge", {"keep": RIM})
    assert response.status_code == 200, response.get_data(as_text=True)
    merged = response.get_json()
    assert merged["state"] == "merged" and merged["kept_uuid"] == RIM
    assert merged["photos_added"] == [photo] and merged["kept"]["server_rev"] == 2

    kept, gone = details(world, RIM), details(world, RIM_AGAIN)
    assert kept["data"]["photos"] == [photo] and kept["aliases"][0]["uuid"] == RIM_AGAIN
    assert gone["state"]["status"] == "merged" and gone["state"]["merged_into"] == RIM
    assert [r["origin"] for r in gone["revisions"]] == ["device", "device", "museum"]
    assert [r["origin"] for r in kept["revisions"]] == ["device", "museum"]
    assert [a["action"] for a in gone["audit"]] == ["find.merge"]
    assert [a["action"] for a in kept["audit"]] == ["find.merge_keep"]
    assert all(c["find_uuids"] != [RIM_AGAIN] for c in queue(world))

    # the camp laptop, knowing only its own uuid, edits the sherd again: a field both records
    # agree on lands on the kept find, one they hold differently becomes its conflict
    condition = "Желімделген"
    edit = dict(rim_again, base_rev=2, rev=3, data=dict(with_photo["data"], condition=condition))
    [result] = world.pushed("leader", [edit], device_id="camp-laptop")["results"]
    assert result["status"] == "updated" and result["server_rev"] == 3
    assert result["flags"][0]["code"] == "merged_into" and result["flags"][0]["other_uuid"] == RIM
    kept = details(world, RIM)
    assert kept["server_rev"] == 3 and kept["data"]["condition"] == condition
    # the kept find's own fields were not touched by the alias's older values
    assert kept["data"]["find_number"] == "ULY26-0101"
    assert kept["data"]["object_name"].startswith("Чарх ыдысы ернеуінің")
    assert details(world, RIM_AGAIN)["server_rev"] == 3
    [replay] = world.pushed("leader", [edit], device_id="camp-laptop")["results"]
    assert replay["status"] == "unchanged" and details(world, RIM)["server_rev"] == 3
    clash = dict(edit, base_rev=3, rev=4, data=dict(edit["data"], notes="ангоб ізі"))
    [result] = world.pushed("leader", [clash], device_id="camp-laptop")["results"]
    assert result["status"] == "conflict"
    kept = details(world, RIM)
    assert kept["state"]["open_conflicts"] == 1 and kept["server_rev"] == 3
    assert kept["conflicts"]["open"][0]["fields"] == ["notes"]
    # no new candidate between the kept find and its own alias
    post(world, "/api/v1/expeditions/ULY-2026/duplicates/detect", None)
    assert all(RIM_AGAIN not in c["find_uuids"] for c in queue(world))


def test_merges_that_cannot_be_are_refused_and_change_nothing(world: World) -> None:
    push_baskamyr(world)
    candidate = next(c for c in queue(world) if RIM_AGAIN in c["find_uuids"])
    url = f"/api/v1/duplicates/{candidate['id']}/merge"
    stranger = post(world, url, {"keep": ARROWHEAD})
    assert stranger.status_code == 422 and stranger.mimetype == PROBLEM
    assert post(world, "/api/v1/duplicates/999999/merge", {"keep": RIM}).status_code == 404
    assert post(world, url, {"keep": RIM}, who="registrar").status_code == 403
    assert post(world, url, {"keep": RIM}, who="leader").status_code == 403

    # an accessioned find is never merged away, nor does it take merges
    with world.runtime.uow.engine.begin() as connection:
        connection.execute(
            tables.records.update().where(tables.records.c.uuid == RIM).values(status="accessioned")
        )
    refused = post(world, url, {"keep": RIM_AGAIN})
    assert refused.status_code == 409 and refused.get_json()["code"] == "transition_refused"
    assert post(world, url, {"keep": RIM}).status_code == 409
    assert details(world, RIM_AGAIN)["state"]["status"] == "synced"
    assert queue(world, "merged") == []

    # a pair across expeditions (only a damaged queue could hold one)
    world.pushed("admin", sample_batch("ZHZ-2026"))
    zhz_find = sample_batch("ZHZ-2026")[1]["uuid"]
    with world.runtime.uow.engine.begin() as connection:
        expedition = connection.execute(select(tables.expeditions.c.id)).scalars().first()
        a, b = sorted((ARROWHEAD, zhz_find))
        candidate_id = connection.execute(
            insert(tables.duplicate_candidates)
            .values(
                expedition_id=expedition,
                find_a=a,
                find_b=b,
                score=0.9,
                rules="[]",
                state="open",
                created_at=now_utc(),
                updated_at=now_utc(),
            )
            .returning(tables.duplicate_candidates.c.id)
        ).scalar_one()
    across = post(world, f"/api/v1/duplicates/{candidate_id}/merge", {"keep": ARROWHEAD})
    assert across.status_code == 409 and across.get_json()["code"] == "other_expedition"
    assert details(world, zhz_find)["state"]["status"] == "synced"


def test_review_moves_a_find_through_its_statuses_and_refuses_what_is_not_allowed(
    world: World,
) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    uuid = batch[1]["uuid"]
    url = f"/api/v1/finds/{uuid}/review"
    no_reason = post(world, url, {"decision": "reject"})
    assert no_reason.status_code == 422
    assert no_reason.get_json()["errors"][0]["field"] == "reason"
    assert post(world, url, {"decision": "approve"}, who="registrar").status_code == 403
    assert post(world, url, {"decision": "approve"}, who="recorder").status_code == 403
    assert post(world, url, {"decision": "maybe"}).status_code == 422

    approved = post(world, url, {"decision": "approve", "expected_rev": 1})
    assert approved.get_json() == {"uuid": uuid, "status": "approved", "server_rev": 2}
    twice = post(world, url, {"decision": "approve"})
    assert twice.status_code == 409 and "approved already" in twice.get_json()["detail"]
    stale = post(world, url, {"decision": "reject", "reason": "x", "expected_rev": 1})
    assert stale.status_code == 409 and stale.get_json()["code"] == "stale"
    stale_header = world.client.post(
        url,
        json={"decision": "reject", "reason": "x"},
        headers={**world.headers("reviewer"), "If-Match": '"1"'},
    )
    assert stale_header.get_json()["code"] == "stale"
    rejected = world.client.post(
        url,
        json={"decision": "reject", "reason": "a modern brick"},
        headers={**world.headers("admin"), "If-Match": '"2"'},
    )
    assert rejected.get_json()["status"] == "rejected"

    found = details(world, uuid, who="recorder")
    assert found["state"]["status"] == "rejected" and found["server_rev"] == 3
    assert [(a["action"], a["by"], a["reason"]) for a in found["audit"]] == [
        ("find.review", "reviewer", None),
        ("find.review", "admin", "a modern brick"),
    ]
    changes, _ = world.pull_all("recorder")
    assert next(c for c in changes if c["uuid"] == uuid)["state"]["status"] == "rejected"
    assert (
        world.client.get(f"/api/v1/finds/{uuid}", headers=world.headers("outsider")).status_code
        == 404
    )


def test_a_correction_is_validated_like_a_push_and_becomes_a_museum_revision(
    world: World,
) -> None:
    batch = sample_batch()
    world.pushed("recorder", batch)
    uuid, data = batch[1]["uuid"], batch[1]["data"]
    url = f"/api/v1/finds/{uuid}"
    headers = world.headers("reviewer")

    def patch(body: Any, who_headers: dict[str, str] = headers) -> Any:
        return world.client.patch(url, json=body, headers=who_headers)

    bad = patch({"weight_g": -3, "colour": "red", "reason": "scale misread"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"colour"}
    invalid = patch({"weight_g": -3, "reason": "scale misread"})
    assert invalid.status_code == 422
    assert invalid.get_json()["errors"][0]["field"] == "weight_g"
    assert patch({"expedition_code": "ZHZ-2026", "reason": "x"}).status_code == 422
    assert patch({"weight_g": 30.5}).status_code == 422  # no reason
    assert patch({"weight_g": 30.5, "reason": "x"}, world.headers("registrar")).status_code == 403
    assert details(world, uuid)["server_rev"] == 1

    done = patch({"weight_g": 30.5, "notes": None, "reason": "reweighed", "expected_rev": 1})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["server_rev"] == 2
    assert set(done.get_json()["changed"]) == {"weight_g"} | ({"notes"} if data["notes"] else set())
    found = details(world, uuid)
    assert found["data"]["weight_g"] == 30.5 and found["data"]["notes"] is None
    assert found["audit"][-1]["detail"]["fields"]["weight_g"] == {
        "old": data["weight_g"],
        "new": 30.5,
    }
    assert patch({"weight_g": 31, "reason": "x", "expected_rev": 1}).get_json()["code"] == "stale"

    with world.runtime.uow.engine.begin() as connection:
        connection.execute(
            tables.records.update()
            .where(tables.records.c.uuid == uuid)
            .values(status="accessioned")
        )
    refused = patch({"weight_g": 31, "reason": "x"})
    assert refused.status_code == 409 and "amend" in refused.get_json()["detail"]


def conflicted(world: World) -> tuple[str, int, dict[str, Any]]:
    """A find whose device edit clashed with a museum correction: its uuid, conflict id and
    the device's record."""
    batch = sample_batch()
    world.pushed("recorder", batch)
    record = batch[1]
    world.client.patch(
        f"/api/v1/finds/{record['uuid']}",
        json={"object_name": "Museum's name", "reason": "label"},
        headers=world.headers("reviewer"),
    )
    data = dict(record["data"], object_name="Device's name", notes="bag 7")
    edit = dict(record, base_rev=1, rev=2, data=data)
    [result] = world.pushed("recorder", [edit])["results"]
    assert result["status"] == "conflict"
    [conflict] = details(world, record["uuid"])["conflicts"]["open"]
    return record["uuid"], conflict["id"], edit


def test_resolving_a_conflict_keeps_one_sided_changes_and_closes_it(world: World) -> None:
    uuid, conflict_id, _ = conflicted(world)
    url = f"/api/v1/finds/{uuid}/conflicts/{conflict_id}/resolve"
    assert post(world, url, {"resolution": "keep_device"}, who="registrar").status_code == 403
    assert post(world, url, {"resolution": "keep_device"}, who="recorder").status_code == 403
    assert post(world, url, {"resolution": "fields", "fields": {}}).status_code == 422
    _, cursor = world.pull_all("recorder")

    done = post(world, url, {"resolution": "keep_device", "reason": "the bag says so"}, "leader")
    assert done.status_code == 200, done.get_data(as_text=True)
    found = details(world, uuid)
    assert found["data"]["object_name"] == "Device's name" and found["data"]["notes"] == "bag 7"
    assert found["state"]["open_conflicts"] == 0 and found["conflicts"]["open"] == []
    [resolved] = found["conflicts"]["resolved"]
    assert resolved["resolution"] == "keep_device" and resolved["resolved_by"] == "leader"
    changes, _ = world.pull_all("recorder", since=cursor)
    assert [(c["uuid"], c["state"]["conflicts"]) for c in changes] == [(uuid, [])]
    again = post(world, url, {"resolution": "keep_server"})
    assert again.status_code == 409 and again.get_json()["code"] == "already_decided"


def test_chosen_values_settle_a_conflict(world: World) -> None:
    uuid, conflict_id, _ = conflicted(world)
    url = f"/api/v1/finds/{uuid}/conflicts/{conflict_id}/resolve"
    bad = post(world, url, {"resolution": "fields", "fields": {"object_name": ""}})
    assert bad.status_code == 422 and details(world, uuid)["state"]["open_conflicts"] == 1
    done = post(world, url, {"resolution": "fields", "fields": {"object_name": "Both"}})
    assert done.status_code == 200
    assert details(world, uuid)["data"]["object_name"] == "Both"
