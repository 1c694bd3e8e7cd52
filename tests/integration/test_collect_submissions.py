"""The phones' submissions as received, for reviewers: a paged list with problems, and each
one's XML exactly as it came (DESIGN §9)."""

from __future__ import annotations

import uuid

from tests.integration.conftest import World
from tests.integration.test_collect_openrosa import new_key, send
from tests.unit.collect.instances import instance

URL = "/api/v1/expeditions/ULY-2026/collect-submissions"


def test_submissions_are_listed_a_page_at_a_time_with_their_problems(world: World) -> None:
    path = new_key(world)["path"]
    sent = [
        instance(photos=(), instance_id=str(uuid.uuid4())),
        instance(photos=(), instance_id=str(uuid.uuid4()), answers={"material": "plutonium"}),
        instance(photos=("1.jpg",), instance_id=str(uuid.uuid4())),
    ]
    for xml in sent:
        assert send(world, path, xml).status_code == 201
    first = world.client.get(f"{URL}?limit=2", headers=world.headers("reviewer"))
    assert first.status_code == 200, first.get_json()
    page = first.get_json()
    assert page["more"] is True
    assert len(page["submissions"]) == 2
    rest = world.client.get(f"{URL}?after={page['after']}", headers=world.headers("reviewer"))
    listed = page["submissions"] + rest.get_json()["submissions"]
    assert not rest.get_json()["more"]
    assert [s["status"] for s in listed] == ["filed", "needs_review", "filed"]
    assert listed[1]["find_uuid"] is None
    assert listed[1]["problems"][0]["field"] == "material"
    assert listed[2]["attachments_missing"] == ["1.jpg"]
    review = world.client.get(f"{URL}?status=needs_review", headers=world.headers("recorder"))
    assert [s["id"] for s in review.get_json()["submissions"]] == [listed[1]["id"]]
    assert world.client.get(URL, headers=world.headers("outsider")).status_code == 403
    assert world.client.get(f"{URL}?status=odd", headers=world.headers("admin")).status_code == 422
    for listed_one, xml in zip(listed, sent, strict=True):
        raw = world.client.get(
            f"/api/v1/collect-submissions/{listed_one['id']}.xml",
            headers=world.headers("leader"),
        )
        assert raw.status_code == 200
        assert raw.get_data() == xml  # byte for byte
    foreign = world.client.get(
        f"/api/v1/collect-submissions/{listed[0]['id']}.xml", headers=world.headers("outsider")
    )
    assert foreign.status_code == 404
