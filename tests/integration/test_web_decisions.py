"""The review UI's decisions through the Flask test client, on SQLite and PostgreSQL: the
duplicate queue, approving and correcting finds, conflicts, the register and exports; forms
without their token, a reviewer at the registrar's forms, and forms filled in on an older
revision of a find all change nothing."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from field_server.domain.find_status import FindStatus
from tests import samples
from tests.integration.conftest import World, sample_batch
from tests.integration.museum_status import set_status
from tests.integration.web_session import browser
from tests.samples import HOSTILE, camp_batch

STALE_KK = "Бетті ашқаннан бері бұл олжа өзгерді"


def state(world: World, uuid: str) -> tuple[str | None, int, dict[str, Any]]:
    with world.runtime.uow() as uow:
        record = uow.finds.record(uuid)
    assert record is not None
    return record.status, record.server_rev, json.loads(record.data)


def everything(world: World) -> Any:
    """What a refused form must leave alone: every record, candidate, act and audit line."""
    with world.runtime.uow() as uow:
        engine_rows = {}
        for table in ("records", "duplicate_candidates", "register_acts", "audit_log"):
            engine_rows[table] = sorted(
                map(tuple, uow.connection.exec_driver_sql(f"SELECT * FROM {table}").all()),
                key=repr,
            )
        return engine_rows


def pushed_samples(world: World) -> list[dict[str, Any]]:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    world.pushed("leader", camp_batch(), device_id="camp-laptop")
    return batch


def an_open_candidate(world: World) -> Any:
    with world.runtime.uow() as uow:
        expedition = uow.expeditions.by_code("ULY-2026")
        assert expedition is not None
        found = uow.candidates.of_expedition(expedition.id, "open")
    assert found, "the planted pairs make candidates"
    return found[0]


# -- forms without their token, and who may post them -------------------------------------


def new_forms(world: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each new form's target with a body that would be accepted with its token."""
    batch = pushed_samples(world)
    candidate = an_open_candidate(world)
    survey, find = batch[0]["uuid"], batch[1]["uuid"]
    _, rev, _ = state(world, find)
    approved = batch[2]["uuid"]
    set_status(world, [approved], FindStatus.APPROVED)
    return {
        "detect": ("/expeditions/ULY-2026/duplicates/detect", {}),
        "merge": (f"/duplicates/{candidate.id}/merge", {"keep": candidate.find_a}),
        "dismiss": (f"/duplicates/{candidate.id}/dismiss", {"reason": "two objects"}),
        "review many": (
            f"/expeditions/ULY-2026/surveys/{survey}/review",
            {"find": find, f"rev.{find}": rev, "decision": "approve"},
        ),
        "review": (f"/finds/{find}/review", {"decision": "approve", "expected_rev": rev}),
        "correct": (
            f"/finds/{find}/correct",
            {"notes": "read again", "reason": "label", "expected_rev": rev},
        ),
        "preview": (
            "/register/preview",
            {"expedition_code": "ULY-2026", "fund": "KP", "find": approved},
        ),
        "act": ("/register/acts", {"expedition_code": "ULY-2026", "fund": "KP", "find": approved}),
    }


def test_every_new_form_without_its_token_is_refused_and_changes_nothing(world: World) -> None:
    forms = new_forms(world)
    admin = browser(world, "admin")
    before = everything(world)
    for name, (path, body) in forms.items():
        response = admin.client.post(path, data=body)
        assert response.status_code == 400, name
        assert "Форма ескірген" in response.get_data(as_text=True), name
    assert everything(world) == before


def test_a_reviewer_at_the_registrars_forms_gets_403_and_nothing_changes(world: World) -> None:
    forms = new_forms(world)
    reviewer = browser(world, "reviewer")
    before = everything(world)
    for name in ("preview", "act"):
        path, body = forms[name]
        assert reviewer.post(path, body).status_code == 403, name
    assert reviewer.get("/register/new").status_code == 403
    assert everything(world) == before


def test_a_recorder_may_read_but_decides_nothing(world: World) -> None:
    forms = new_forms(world)
    recorder = browser(world, "recorder")
    before = everything(world)
    for name, (path, body) in forms.items():
        assert recorder.post(path, body).status_code == 403, name
    assert recorder.get("/expeditions/ULY-2026/duplicates").status_code == 403
    assert everything(world) == before
    html = recorder.get(f"/finds/{sample_batch()[1]['uuid']}").get_data(as_text=True)
    assert "/review" not in html and "/correct" not in html


# -- the duplicate queue ------------------------------------------------------------------


def test_the_queue_shows_both_finds_and_a_merge_keeps_the_chosen_one(world: World) -> None:
    pushed_samples(world)
    reviewer = browser(world, "reviewer")
    response = reviewer.post("/expeditions/ULY-2026/duplicates/detect")
    assert response.status_code == 303
    queue = reviewer.get(response.headers["Location"]).get_data(as_text=True)
    assert "ULY26-0301" in queue and "ULY26-0101" in queue
    assert "same_find_number" not in queue  # rules are told in words
    assert "олжа нөмірі бірдей" in queue
    dashboard = reviewer.get("/expeditions/ULY-2026").get_data(as_text=True)
    card = dashboard.split('id="duplicates-card"')[1].split("</li>")[0]
    assert '<span class="count">2</span>' in card

    with world.runtime.uow() as uow:
        candidates = uow.candidates.involving(["c3a9f1e2-7b64-4d0a-8e25-91f4b6d2a7c8"])
    [pair] = candidates
    keep = next(u for u in pair.pair if u != "c3a9f1e2-7b64-4d0a-8e25-91f4b6d2a7c8")
    merged = reviewer.post(
        f"/duplicates/{pair.id}/merge",
        {"keep": keep, "next": "/expeditions/ULY-2026/duplicates"},
    )
    assert merged.status_code == 303
    assert merged.headers["Location"] == "/expeditions/ULY-2026/duplicates"
    status, _, _ = state(world, "c3a9f1e2-7b64-4d0a-8e25-91f4b6d2a7c8")
    assert status == "merged"
    assert state(world, keep)[0] == "synced"
    queue = reviewer.get("/expeditions/ULY-2026/duplicates").get_data(as_text=True)
    assert "ULY26-0301" not in queue

    other = an_open_candidate(world)
    dismissed = reviewer.post(f"/duplicates/{other.id}/dismiss", {"reason": ""})
    assert dismissed.status_code == 303
    with world.runtime.uow() as uow:
        row = uow.candidates.get(other.id)
    assert row is not None and row.state == "dismissed"
    again = reviewer.post(f"/duplicates/{other.id}/dismiss", {})
    assert again.status_code == 409


def test_markup_stays_text_in_the_queue_and_on_the_act(world: World) -> None:
    batch = sample_batch("ULY-2026")
    twin = samples.fresh_find(batch[1], find_number=batch[1]["data"]["find_number"])
    twin["data"].update(object_name=HOSTILE, notes=HOSTILE, condition=HOSTILE)
    world.pushed("recorder", [*batch, twin])
    reviewer = browser(world, "reviewer")
    queue = reviewer.get("/expeditions/ULY-2026/duplicates").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in queue
    assert "<script>alert" not in queue and "<img src=x" not in queue

    set_status(world, [twin["uuid"]], FindStatus.APPROVED)
    registrar = browser(world, "registrar")
    created = registrar.post(
        "/register/acts", {"expedition_code": "ULY-2026", "fund": "NVF", "find": twin["uuid"]}
    )
    assert created.status_code == 303
    for path in (created.headers["Location"], "/register?fund=NVF", "/register/entries/NVF/1/1"):
        html = registrar.get(path).get_data(as_text=True)
        assert "&lt;script&gt;alert(" in html, path
        assert "<script>alert" not in html and "<img src=x" not in html, path
    sheet = registrar.get("/register/acts/NVF/1/act.html")
    assert "<script>alert" not in sheet.get_data(as_text=True)
    assert "script-src" not in sheet.headers["Content-Security-Policy"]


# -- review: approve, reject, correct, stale forms, conflicts ------------------------------


def test_ticked_finds_are_approved_together(world: World) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    survey = batch[0]["uuid"]
    reviewer = browser(world, "reviewer")
    html = reviewer.get(f"/expeditions/ULY-2026/surveys/{survey}").get_data(as_text=True)
    revs = dict(re.findall(r'name="rev\.([0-9a-f-]+)" value="(\d+)"', html))
    chosen = [r["uuid"] for r in batch[1:4]]
    body: dict[str, Any] = {"find": chosen, "decision": "approve"}
    body.update({f"rev.{u}": revs[u] for u in chosen})
    assert reviewer.post(f"/expeditions/ULY-2026/surveys/{survey}/review", body).status_code == 303
    assert [state(world, u)[0] for u in chosen] == ["approved"] * 3
    assert state(world, batch[4]["uuid"])[0] == "synced"

    rejected = reviewer.post(
        f"/expeditions/ULY-2026/surveys/{survey}/review",
        {"find": [batch[4]["uuid"]], f"rev.{batch[4]['uuid']}": "1", "decision": "reject"},
    )
    assert rejected.status_code == 422  # a rejection needs a reason
    assert state(world, batch[4]["uuid"])[0] == "synced"


def test_one_stale_find_in_a_selection_changes_none_of_them(world: World) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    survey, first, second = batch[0]["uuid"], batch[1]["uuid"], batch[2]["uuid"]
    reviewer = browser(world, "reviewer")
    moved = copy.deepcopy(batch[2])
    moved.update(base_rev=1, rev=2)
    moved["data"]["notes"] = "edited in the field after the page was opened"
    assert world.pushed("recorder", [moved])["results"][0]["status"] == "updated"
    before = everything(world)
    response = reviewer.post(
        f"/expeditions/ULY-2026/surveys/{survey}/review",
        {"find": [first, second], f"rev.{first}": "1", f"rev.{second}": "1", "decision": "approve"},
    )
    assert response.status_code == 409
    assert STALE_KK in response.get_data(as_text=True)
    assert everything(world) == before


def test_a_stale_correction_or_decision_says_so_and_changes_nothing(world: World) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    find = batch[1]
    reviewer = browser(world, "reviewer")
    page = reviewer.get(f"/finds/{find['uuid']}").get_data(as_text=True)
    loaded = re.search(r'name="expected_rev" value="(\d+)"', page)
    assert loaded is not None and loaded.group(1) == "1"

    newer = copy.deepcopy(find)
    newer.update(base_rev=1, rev=2)
    newer["data"]["condition"] = "cleaned in camp"
    assert world.pushed("recorder", [newer])["results"][0]["status"] == "updated"
    before = everything(world)
    for path, body in (
        ("correct", {"object_name": "Ернеу", "reason": "label", "expected_rev": "1"}),
        ("review", {"decision": "approve", "expected_rev": "1"}),
    ):
        body["next"] = f"/finds/{find['uuid']}"
        response = reviewer.post(f"/finds/{find['uuid']}/{path}", body)
        assert response.status_code == 409, path
        html = response.get_data(as_text=True)
        assert STALE_KK in html, path
        assert f'href="/finds/{find["uuid"]}"' in html, path
    assert everything(world) == before


def test_a_correction_changes_only_the_edited_fields(world: World) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    find = batch[1]
    reviewer = browser(world, "reviewer")
    page = reviewer.get(f"/finds/{find['uuid']}").get_data(as_text=True)
    # the form as the browser sends it: every box with what it shows, two of them edited
    form = re.search(r'<form method="post" action="[^"]+/correct".*?</form>', page, re.S)
    assert form is not None
    body: dict[str, Any] = dict(
        re.findall(r'<input id="correct-\w+" name="(\w+)" value="([^"]*)"', form.group(0))
    )
    body.update(
        {
            name: find["data"].get(name) or ""
            for name in ("description", "notes", "material", "kind")
        }
    )
    body.update(weight_g="12,5", condition="", reason="weighed again", expected_rev="1")
    response = reviewer.post(f"/finds/{find['uuid']}/correct", body)
    assert response.status_code == 303, response.get_data(as_text=True)
    _, rev, data = state(world, find["uuid"])
    assert rev == 2
    assert data["weight_g"] == 12.5
    assert data["condition"] is None
    changed = {k for k in data if data[k] != find["data"].get(k)}
    assert changed == {"weight_g", "condition"} - (
        {"condition"} if find["data"].get("condition") is None else set()
    )

    bad = reviewer.post(
        f"/finds/{find['uuid']}/correct",
        {"quantity": "three", "reason": "counted", "expected_rev": "2"},
    )
    assert bad.status_code == 422
    assert "quantity" in bad.get_data(as_text=True)
    assert state(world, find["uuid"])[1] == 2


def conflicted_find(world: World) -> tuple[str, dict[str, Any]]:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    find = copy.deepcopy(batch[1])
    ours = dict(find, base_rev=1, rev=2, data={**find["data"], "object_name": "Ернеу сынығы"})
    assert world.pushed("recorder", [ours])["results"][0]["status"] == "updated"
    theirs = dict(find, base_rev=1, rev=2, data={**find["data"], "object_name": "Түп сынығы"})
    answer = world.pushed("leader", [theirs], device_id="leaders-tablet")["results"][0]
    assert answer["status"] == "conflict"
    return find["uuid"], theirs


def test_the_leader_settles_a_conflict_field_by_field_on_the_find_page(world: World) -> None:
    uuid, _ = conflicted_find(world)
    leader = browser(world, "leader")
    page = leader.get(f"/finds/{uuid}").get_data(as_text=True)
    found = re.search(r'action="(/finds/[^"]+/conflicts/\d+/resolve)"', page)
    assert found is not None
    assert "/correct" not in page  # a leader settles conflicts, reviewers correct
    response = leader.post(
        found.group(1),
        {"resolution": "fields", "field.object_name": "device", "expected_rev": "2"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    _, rev, data = state(world, uuid)
    assert (rev, data["object_name"]) == (3, "Түп сынығы")
    assert (
        "leaders-tablet"
        not in leader.get(f"/finds/{uuid}")
        .get_data(as_text=True)
        .split('id="conflicts-heading"')[1]
        .split("</section>")[0]
    )


def test_a_recorder_who_does_not_lead_cannot_settle_a_conflict(world: World) -> None:
    uuid, _ = conflicted_find(world)
    with world.runtime.uow() as uow:
        [conflict] = uow.history.conflicts_of(uuid)
    recorder = browser(world, "recorder")  # signing in is an audit line of its own
    before = everything(world)
    response = recorder.post(
        f"/finds/{uuid}/conflicts/{conflict.id}/resolve",
        {"resolution": "keep_device", "expected_rev": "2"},
    )
    assert response.status_code == 403
    assert everything(world) == before


# -- the register -------------------------------------------------------------------------


def approved_finds(world: World, count: int) -> list[str]:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    chosen = [r["uuid"] for r in batch[1 : count + 1]]
    set_status(world, chosen, FindStatus.APPROVED)
    return chosen


def test_a_registrar_previews_confirms_and_downloads_an_act(world: World) -> None:
    chosen = approved_finds(world, 3)
    registrar = browser(world, "registrar")
    picker = registrar.get("/register/new?expedition=ULY-2026&fund=KP").get_data(as_text=True)
    assert all(f'value="{u}"' in picker for u in chosen)
    body = {"expedition_code": "ULY-2026", "fund": "KP", "find": chosen}
    preview = registrar.post("/register/preview", body).get_data(as_text=True)
    assert re.findall(r"<td>(КП 1/\d)</td>", preview) == ["КП 1/1", "КП 1/2", "КП 1/3"]
    with world.runtime.uow() as uow:
        assert uow.register.last_receipts()["KP"] == 0  # a preview takes no number

    # another registrar's act takes receipt 1 between the preview and the confirmation
    other = approved_finds(world, 5)[4]
    response = world.client.post(
        "/api/v1/register/acts",
        headers=world.headers("admin"),
        json={"expedition_code": "ULY-2026", "fund": "KP", "find_uuids": [other]},
    )
    assert response.status_code == 201
    created = registrar.post("/register/acts", {**body, "previewed_receipt": "1"})
    assert created.status_code == 303
    assert created.headers["Location"].startswith("/register/acts/KP/2")
    act = registrar.get(created.headers["Location"]).get_data(as_text=True)
    assert "КП 1" in act and "басқа акт алды" in act
    assert [state(world, u)[0] for u in chosen] == ["accessioned"] * 3

    pdf = registrar.get("/register/acts/KP/2/act.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    inventory = registrar.get("/register/acts/KP/2/inventory.csv?bom=1")
    assert inventory.data.startswith(b"\xef\xbb\xbf")
    assert registrar.get("/register/acts/KP/2/receipt.pdf").status_code == 404
    assert browser(world, "reviewer").get("/register/acts/KP/2/act.pdf").status_code == 200
    assert browser(world, "recorder").get("/register/acts/KP/2/act.pdf").status_code == 403


def test_a_preview_of_a_find_not_approved_offers_no_confirmation(world: World) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    registrar = browser(world, "registrar")
    html = registrar.post(
        "/register/preview",
        {"expedition_code": "ULY-2026", "fund": "NVF", "find": [batch[1]["uuid"]]},
    ).get_data(as_text=True)
    assert 'id="act-confirm"' not in html
    assert "мақұлданбаған" in html


def test_an_amendment_is_recorded_and_a_reviewer_cannot_make_one(world: World) -> None:
    [find] = approved_finds(world, 1)
    registrar = browser(world, "registrar")
    registrar.post("/register/acts", {"expedition_code": "ULY-2026", "fund": "KP", "find": find})
    path = "/register/entries/KP/1/1"
    reviewer = browser(world, "reviewer")
    before = everything(world)
    refused = reviewer.post(
        path, {"field": "storage_location", "new": "shelf 9", "reason": "moved"}
    )
    assert refused.status_code == 403
    assert everything(world) == before
    assert registrar.post(path, {"field": "quantity", "new": "x", "reason": "r"}).status_code == 422
    done = registrar.post(path, {"field": "quantity", "new": "4", "reason": "counted again"})
    assert done.status_code == 303
    html = registrar.get("/register?fund=KP").get_data(as_text=True)
    assert "counted again" in html
    [entry] = [e for e in registrar_entries(world) if e["find_uuid"] == find]
    assert entry["values"]["quantity"] == 4


def test_an_entry_numbered_item_0_is_not_found(world: World) -> None:
    [find] = approved_finds(world, 1)
    registrar = browser(world, "registrar")
    registrar.post("/register/acts", {"expedition_code": "ULY-2026", "fund": "KP", "find": find})
    path = "/register/entries/KP/1/0"
    assert registrar.get(path).status_code == 404
    amended = registrar.post(path, {"field": "quantity", "new": "4", "reason": "counted again"})
    assert amended.status_code == 404


def registrar_entries(world: World) -> list[dict[str, Any]]:
    response = world.client.get(
        "/api/v1/register/entries?fund=KP", headers=world.headers("registrar")
    )
    return response.get_json()


# -- exports ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_an_export_downloads_with_the_session_and_the_forms_empty_boxes(
    world: World, fmt: str
) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    recorder = browser(world, "recorder")
    assert recorder.get("/expeditions/ULY-2026/exports").status_code == 200
    query = f"format={fmt}&crs=&survey=&site=&status=&material=ceramic&from=&to=&lang=kk&bom=1"
    response = recorder.client.get(f"/expeditions/ULY-2026/exports/download?{query}", buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "attachment" in response.headers["Content-Disposition"]
    if fmt == "geojson":
        features = json.loads(response.get_data())["features"]
        finds = [f for f in features if f["properties"].get("material")]
        assert finds and {f["properties"]["material"] for f in finds} == {"ceramic"}
    else:
        assert response.get_data().startswith(b"SQLite format 3\x00")
    bad = recorder.get("/expeditions/ULY-2026/exports/download?format=csv&crs=EPSG:99999999")
    assert bad.status_code == 422
    assert (
        browser(world, "outsider")
        .get(f"/expeditions/ULY-2026/exports/download?{query}")
        .status_code
        == 403
    )
