"""Finds that share one find number are one candidate, their number's group (DESIGN §5): one
item in the queue listing them all, joined by later finds of the number, merged or dismissed
as a whole; and the queue is read a page at a time."""

from __future__ import annotations

import re
from typing import Any

from tests import samples
from tests.integration.conftest import World, sample_batch
from tests.integration.web_session import browser

QUEUE = "/api/v1/expeditions/ULY-2026/duplicates"
PROBLEM = "application/problem+json"


def copies(number: str, count: int, north_m: float = 0.0, **changes: Any) -> list[dict[str, Any]]:
    """``count`` new finds carrying ``number``, each a metre further east of the template."""
    template = sample_batch()[1]
    found = []
    for n in range(count):
        record = samples.fresh_find(template, find_number=number, **changes)
        record["data"]["position"]["lon"] += 1.4e-5 * (n + 1)
        record["data"]["position"]["lat"] += north_m / 111_195.0
        found.append(record)
    return found


def start(world: World, number: str, count: int) -> list[str]:
    """The survey, then ``count`` finds of one number pushed together; their uuids."""
    records = copies(number, count)
    world.pushed("recorder", [sample_batch()[0], *records])
    return [r["uuid"] for r in records]


def page(world: World, query: str = "") -> dict[str, Any]:
    response = world.client.get(QUEUE + query, headers=world.headers("reviewer"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def whole_queue(world: World) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = "?limit=500"
    while True:
        answer = page(world, query)
        found += answer["candidates"]
        if answer["next"] is None:
            return found
        query = f"?limit=500&after={answer['next']}"


def groups_of(world: World, number: str, state: str = "open") -> list[dict[str, Any]]:
    candidates = page(world, f"?state={state}&limit=500")["candidates"]
    return [c for c in candidates if c["find_number"] == number]


def post(world: World, url: str, body: Any) -> Any:
    return world.client.post(url, json=body, headers=world.headers("reviewer"))


def test_finds_of_one_number_are_one_candidate_that_a_later_find_joins(world: World) -> None:
    first = start(world, "ULY26-0777", 3)
    [group] = groups_of(world, "ULY26-0777")
    assert group["find_uuids"] == sorted(first)
    assert (group["rules"], group["score"], group["distance_m"]) == (
        ["same_find_number"],
        0.9,
        None,
    )

    [later] = copies("ULY26-0777", 1)
    [result] = world.pushed("leader", [later], device_id="camp-laptop")["results"]
    [flag] = [f for f in result["flags"] if f["code"] == "duplicate_candidate"]
    assert flag["others"] == 3 and flag["other_uuid"] in first
    [joined] = groups_of(world, "ULY26-0777")
    assert joined["id"] == group["id"]
    assert joined["find_uuids"] == [*sorted(first), later["uuid"]]
    assert len(page(world)["candidates"]) == 1


def test_every_find_pushed_with_the_number_is_flagged_with_the_others(world: World) -> None:
    records = copies("ULY26-0778", 4)
    answer = world.pushed("recorder", [sample_batch()[0], *records])
    flags = [
        [f for f in r.get("flags", []) if f["code"] == "duplicate_candidate"]
        for r in answer["results"][1:]
    ]
    assert [[f["others"] for f in found] for found in flags] == [[3]] * 4


def test_a_partial_merge_keeps_the_group_open_and_merging_the_rest_settles_it(
    world: World,
) -> None:
    a, b, c = sorted(start(world, "ULY26-0779", 3))
    [group] = groups_of(world, "ULY26-0779")
    url = f"/api/v1/duplicates/{group['id']}/merge"
    stranger = post(world, url, {"keep": a, "others": [sample_batch()[1]["uuid"]]})
    assert stranger.status_code == 422 and stranger.mimetype == PROBLEM
    itself = post(world, url, {"keep": a, "others": [a]})
    assert itself.status_code == 422

    partial = post(world, url, {"keep": a, "others": [b], "reason": "one bag, entered twice"})
    assert partial.status_code == 200, partial.get_data(as_text=True)
    answer = partial.get_json()
    assert (answer["state"], answer["kept_uuid"], answer["merged_uuids"]) == ("open", a, [b])
    assert [m["uuid"] for m in answer["merged"]] == [b]
    [still] = groups_of(world, "ULY26-0779")
    assert still["find_uuids"] == [a, b, c] and still["merged_uuids"] == [b]
    # b is merged already: it is no longer one to merge
    assert post(world, url, {"keep": b}).status_code == 422

    rest = post(world, url, {"keep": a})
    assert rest.status_code == 200, rest.get_data(as_text=True)
    assert (rest.get_json()["state"], rest.get_json()["merged_uuids"]) == ("merged", [b, c])
    assert groups_of(world, "ULY26-0779") == []
    for gone in (b, c):
        details = world.client.get(f"/api/v1/finds/{gone}", headers=world.headers("reviewer"))
        state = details.get_json()["state"]
        assert (state["status"], state["merged_into"]) == ("merged", a)
    again = post(world, url, {"keep": a})
    assert again.status_code == 409 and again.get_json()["code"] == "already_decided"

    # a find pushed later with the number opens a new group with the kept find
    [newcomer] = copies("ULY26-0779", 1)
    world.pushed("leader", [newcomer], device_id="camp-laptop")
    [new_group] = groups_of(world, "ULY26-0779")
    assert new_group["id"] != group["id"]
    assert sorted(new_group["find_uuids"]) == sorted([a, newcomer["uuid"]])


def test_a_dismissed_group_is_not_reopened_by_an_edit_but_a_newcomer_opens_a_new_one(
    world: World,
) -> None:
    records = copies("ULY26-0780", 2)
    world.pushed("recorder", [sample_batch()[0], *records])
    [group] = groups_of(world, "ULY26-0780")
    dismissed = post(world, f"/api/v1/duplicates/{group['id']}/dismiss", {"reason": "two pins"})
    assert dismissed.status_code == 200 and dismissed.get_json()["state"] == "dismissed"

    edit = dict(records[1], base_rev=1, rev=2, data=dict(records[1]["data"], notes="re-bagged"))
    [result] = world.pushed("recorder", [edit])["results"]
    assert result["status"] == "updated"
    assert "duplicate_candidate" not in [f["code"] for f in result.get("flags", [])]
    report = post(world, f"{QUEUE}/detect", None).get_json()
    assert groups_of(world, "ULY26-0780") == [] and report["added"] == 0

    [newcomer] = copies("ULY26-0780", 1)
    world.pushed("recorder", [newcomer])
    [new_group] = groups_of(world, "ULY26-0780")
    assert sorted(new_group["find_uuids"]) == sorted(
        [*(r["uuid"] for r in records), newcomer["uuid"]]
    )
    [settled] = groups_of(world, "ULY26-0780", "dismissed")
    assert settled["id"] == group["id"] and settled["reason"] == "two pins"


def test_a_renumbered_find_leaves_its_group_which_is_withdrawn_below_two(world: World) -> None:
    records = copies("ULY26-0781", 2)
    world.pushed("recorder", [sample_batch()[0], *records])
    [group] = groups_of(world, "ULY26-0781")
    fixed = dict(
        records[1], base_rev=1, rev=2, data=dict(records[1]["data"], find_number="ULY26-0782")
    )
    world.pushed("recorder", [fixed])
    assert groups_of(world, "ULY26-0781") == []
    [withdrawn] = groups_of(world, "ULY26-0781", "withdrawn")
    assert withdrawn["id"] == group["id"] and withdrawn["find_uuids"] == [records[0]["uuid"]]
    report = post(world, f"{QUEUE}/detect", None).get_json()
    assert report["added"] == 0 and groups_of(world, "ULY26-0781") == []


def test_full_detection_finds_the_groups_the_pushes_made(world: World) -> None:
    start(world, "ULY26-0783", 3)
    [group] = groups_of(world, "ULY26-0783")
    report = post(world, f"{QUEUE}/detect", None).get_json()
    assert (report["added"], report["updated"], report["withdrawn"]) == (0, 0, 0)
    assert groups_of(world, "ULY26-0783") == [group]


def test_the_queue_is_read_a_page_at_a_time_strongest_first(world: World) -> None:
    world.pushed("recorder", [sample_batch()[0]])
    for n in range(7):
        world.pushed("recorder", copies(f"ULY26-08{n:02d}", 2, 20.0 * n))
    seen: list[dict[str, Any]] = []
    query = "?limit=3"
    pages = 0
    while True:
        found = page(world, query)
        pages += 1
        assert len(found["candidates"]) <= 3
        seen += found["candidates"]
        if found["next"] is None:
            break
        query = f"?limit=3&after={found['next']}"
    assert pages == 3 and len(seen) == len({c["id"] for c in seen}) == 7
    assert [c["score"] for c in seen] == sorted((c["score"] for c in seen), reverse=True)
    assert seen == page(world, "?limit=500")["candidates"]
    for query in ("?limit=0", "?limit=501", "?limit=three", "?after=page-2", "?after=2:x"):
        response = world.client.get(QUEUE + query, headers=world.headers("reviewer"))
        assert response.status_code == 422 and response.mimetype == PROBLEM, query


def test_a_find_renumbered_back_rejoins_the_open_group(world: World) -> None:
    records = copies("ULY26-0784", 3)
    world.pushed("recorder", [sample_batch()[0], *records])
    [group] = groups_of(world, "ULY26-0784")
    moved = dict(records[2], base_rev=1, rev=2, data=dict(records[2]["data"], find_number="X-1"))
    world.pushed("recorder", [moved])
    assert groups_of(world, "ULY26-0784")[0]["find_uuids"] == sorted(r["uuid"] for r in records[:2])
    back = dict(records[2], base_rev=2, rev=3)
    [result] = world.pushed("recorder", [back])["results"]
    assert [f["others"] for f in result["flags"] if f["code"] == "duplicate_candidate"] == [2]
    [again] = groups_of(world, "ULY26-0784")
    assert again["id"] == group["id"]
    assert sorted(again["find_uuids"]) == sorted(r["uuid"] for r in records)


def test_one_find_leaving_as_another_joins_in_one_batch_keeps_the_group_open(
    world: World,
) -> None:
    records = copies("ULY26-0785", 2)
    world.pushed("recorder", [sample_batch()[0], *records])
    [group] = groups_of(world, "ULY26-0785")
    moved = dict(records[1], base_rev=1, rev=2, data=dict(records[1]["data"], find_number="X-2"))
    [newcomer] = copies("ULY26-0785", 1, 50.0)
    world.pushed("recorder", [moved, newcomer])
    [still] = groups_of(world, "ULY26-0785")
    assert still["id"] == group["id"]
    assert sorted(still["find_uuids"]) == sorted((records[0]["uuid"], newcomer["uuid"]))


def test_the_review_page_merges_a_group_into_the_chosen_find_and_pages_the_queue(
    world: World,
) -> None:
    records = copies("ULY26-0786", 3)
    world.pushed("recorder", [sample_batch()[0], *records])
    for n in range(21):
        world.pushed("recorder", copies(f"ULY26-09{n:02d}", 2, 30.0 * (n + 1)))
    reviewer = browser(world, "reviewer")
    first = reviewer.get("/expeditions/ULY-2026/duplicates").get_data(as_text=True)
    assert first.count('<section class="pair group"') == 20
    following = re.search(
        r'href="(/expeditions/ULY-2026/duplicates\?after=[^"]+)" rel="next"', first
    )
    assert following is not None
    second = reviewer.get(following.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert second.count('<section class="pair group"') == 2
    assert 'rel="next"' not in second

    [group] = groups_of(world, "ULY26-0786")
    keep = records[1]["uuid"]
    merged = reviewer.post(
        f"/duplicates/{group['id']}/merge",
        {"keep": keep, "next": "/expeditions/ULY-2026/duplicates"},
    )
    assert merged.status_code == 303
    [settled] = groups_of(world, "ULY26-0786", "merged")
    assert settled["kept_uuid"] == keep
    assert sorted(settled["merged_uuids"]) == sorted(
        r["uuid"] for r in records if r["uuid"] != keep
    )


def test_a_photo_named_by_sixty_finds_pairs_each_with_a_few_only(world: World) -> None:
    """Sixty finds naming one photo were 1,770 pairs; each now pairs with the first 16 holders
    (by uuid), so the queue grows with the finds, not with their square."""
    photo = "c" * 64
    world.pushed("recorder", [sample_batch()[0]])
    records = [copies(f"ULY26-1{n:03d}", 1, 40.0 * n, photos=[photo])[0] for n in range(60)]
    answer = world.pushed("recorder", records)
    flags = [
        len([f for f in r.get("flags", []) if f["code"] == "duplicate_candidate"])
        for r in answer["results"]
    ]
    assert max(flags) == 59 and min(flags) == 16  # a head pairs with all, the rest with 16
    pairs = whole_queue(world)
    assert all(c["rules"] == ["shared_photo"] for c in pairs)
    heads = sorted(r["uuid"] for r in records)[:16]
    assert len(pairs) == 16 * 15 // 2 + 16 * (60 - 16)
    assert all(set(c["find_uuids"]) & set(heads) for c in pairs)
    report = post(world, f"{QUEUE}/detect", None).get_json()
    assert (report["added"], report["withdrawn"], report["open"]) == (0, 0, len(pairs))
