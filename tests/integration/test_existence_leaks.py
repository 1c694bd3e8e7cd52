"""Another expedition's records do not exist for whoever may not read them: a push naming one
learns neither its expedition nor its revision, a survey of theirs is "no such survey", and
resolving a conflict of their find is the 404 of a find that does not exist."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from tests.integration.conftest import World, sample_batch


def result_of(answer: dict[str, Any], record_uuid: str) -> dict[str, Any]:
    (result,) = [r for r in answer["results"] if r["uuid"] == record_uuid]
    return result


def test_a_push_reusing_another_expeditions_find_uuid_learns_nothing_of_it(
    world: World,
) -> None:
    uly = sample_batch("ULY-2026")
    world.pushed("recorder", uly)
    # the ULY find is edited once, so that its revision is not the 1 anyone would guess
    edited = copy.deepcopy(uly[1])
    edited.update(base_rev=1, rev=2)
    edited["data"]["notes"] = "қайта өлшенді"
    assert result_of(world.pushed("recorder", [edited]), edited["uuid"])["server_rev"] == 2

    zhz = sample_batch("ZHZ-2026")
    stolen = copy.deepcopy(zhz[1])
    stolen["uuid"] = uly[1]["uuid"]
    answer = world.pushed("outsider", [zhz[0], stolen])
    result = result_of(answer, stolen["uuid"])
    assert result["status"] == "rejected"
    assert result["server_rev"] == 0
    assert [p["field"] for p in result["problems"]] == ["uuid"]
    text = str(result)
    assert "another expedition" not in text and "ULY" not in text


def test_a_survey_of_another_expedition_is_no_such_survey(world: World) -> None:
    uly = sample_batch("ULY-2026")
    world.pushed("recorder", uly)
    zhz = sample_batch("ZHZ-2026")
    world.pushed("outsider", zhz[:1])

    def answer_naming(survey_uuid: str) -> dict[str, Any]:
        find = copy.deepcopy(zhz[1])
        find["uuid"] = str(uuid.uuid4())
        find["data"]["survey_uuid"] = survey_uuid
        find["data"]["find_number"] = f"ZHZ26-{uuid.uuid4().int % 9000 + 1000}"
        return result_of(world.pushed("outsider", [find]), find["uuid"])

    theirs = answer_naming(uly[0]["uuid"])
    nobodys = answer_naming(str(uuid.uuid4()))
    assert theirs["status"] == nobodys["status"] == "rejected"
    assert theirs["problems"] == nobodys["problems"]


def test_resolving_a_conflict_of_another_expeditions_find_is_a_404(world: World) -> None:
    uly = sample_batch("ULY-2026")
    world.pushed("recorder", uly)
    body = {"resolution": "keep_server", "reason": "probe"}
    theirs = world.client.post(
        f"/api/v1/finds/{uly[1]['uuid']}/conflicts/1/resolve",
        json=body,
        headers=world.headers("outsider"),
    )
    nobodys = world.client.post(
        f"/api/v1/finds/{uuid.uuid4()}/conflicts/1/resolve",
        json=body,
        headers=world.headers("outsider"),
    )
    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.get_json()["code"] == nobodys.get_json()["code"]
    # a member who may read the find but not resolve its conflicts is still told so
    mine = world.client.post(
        f"/api/v1/finds/{uly[1]['uuid']}/conflicts/1/resolve",
        json=body,
        headers=world.headers("recorder"),
    )
    assert mine.status_code == 403
