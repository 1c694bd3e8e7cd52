"""Phones with ODK Collect in the review UI, on SQLite and PostgreSQL: the keys page (who
sees it, the QR code shown once, revoking) and the submissions that need a reviewer."""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

import segno
from sqlalchemy import select

from field_core.collect.phone_settings import collect_settings
from field_server.adapters.tables import audit_log, collect_submissions
from field_server.web.phones import QR_ERROR, QR_SCALE, SUBMISSION_FIELDS
from tests.integration.conftest import World
from tests.integration.test_collect_openrosa import new_key, send
from tests.integration.web_session import Browser, browser
from tests.unit.collect.instances import instance

KEYS = "/expeditions/ULY-2026/phones"
ADDRESS = re.compile(r'<code class="address">([^<]+)</code>')
QR = re.compile(r'<img class="qr" src="([^"]+)"')


def key_ids(world: World) -> list[int]:
    listing = world.client.get(
        "/api/v1/expeditions/ULY-2026/collect-keys", headers=world.headers("admin")
    )
    return [key["id"] for key in listing.get_json()["keys"]]


def issue(who: Browser, device: str = "Samsung A14", **form: Any) -> str:
    response = who.post(KEYS, {"username": "recorder", "device_name": device, **form})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_only_the_leader_and_admins_see_and_use_the_keys_page(world: World) -> None:
    for who in ("recorder", "outsider", "reviewer", "registrar"):
        session = browser(world, who)
        assert session.get(KEYS).status_code == 403, who
        assert session.post(KEYS, {"username": "recorder", "device_name": "x"}).status_code == 403
    assert key_ids(world) == []
    for who in ("leader", "admin"):
        page = browser(world, who).get(KEYS)
        assert page.status_code == 200
        assert 'name="device_name"' in page.get_data(as_text=True)
    assert browser(world, None).get(KEYS).status_code == 302  # to the sign-in page


def test_an_issued_key_shows_its_qr_code_once_and_never_again(world: World) -> None:
    leader = browser(world, "leader")
    text = issue(leader)
    [address] = ADDRESS.findall(text)
    address = html.unescape(address)
    key = address.split("/odk/key/")[1].split("/")[0]
    assert address == f"http://localhost/odk/key/{key}/ULY-2026"
    # the key appears once, as the address to type; not in a link, a field or the QR's source
    assert text.count(key) == 1
    [image] = QR.findall(text)
    assert image.startswith("data:image/svg+xml")
    settings = collect_settings(address, "ULY-2026", "Samsung A14")
    assert settings not in text
    expected = segno.make(settings, error=QR_ERROR, micro=False)
    assert html.unescape(image) == expected.svg_data_uri(
        scale=QR_SCALE, border=4, dark="#000", light="#fff"
    )
    assert "Projects" in text  # how to scan it, in the reader's language (kk by default)
    assert "Samsung A14" in text
    later = leader.get(KEYS).get_data(as_text=True)
    assert key not in later
    assert '<img class="qr"' not in later
    assert "Samsung A14" in later  # listed, without its secret
    path = address.removeprefix("http://localhost")
    assert world.client.get(f"{path}/formList").status_code == 200


def test_issuing_into_an_existing_survey_names_it_by_title(world: World) -> None:
    admin = browser(world, "admin")
    issue(admin, "Pixel 6")
    [survey] = re.findall(r'<option value="([0-9a-f-]{36})">recorder · Pixel 6</option>',
                          admin.get(KEYS).get_data(as_text=True))  # fmt: skip
    text = issue(admin, "Pixel 7", survey_uuid=survey)
    assert survey not in re.sub(r'value="[^"]*"', "", text)  # titles on screen, no raw uuid
    assert text.count("recorder · Pixel 6") >= 3  # the option, two keys' rows, the answer


def test_revoking_a_key_stops_its_phone_at_once(world: World) -> None:
    leader = browser(world, "leader")
    address = html.unescape(ADDRESS.findall(issue(leader))[0])
    path = address.removeprefix("http://localhost")
    [key_id] = key_ids(world)
    unconfirmed = leader.post(f"{KEYS}/{key_id}/revoke")
    assert unconfirmed.status_code == 422
    assert world.client.get(f"{path}/formList").status_code == 200
    for who in ("recorder", "reviewer"):
        refused = browser(world, who).post(f"{KEYS}/{key_id}/revoke", {"confirm": "yes"})
        assert refused.status_code == 403
    assert world.client.get(f"{path}/formList").status_code == 200
    revoked = leader.post(f"{KEYS}/{key_id}/revoke", {"confirm": "yes"})
    assert revoked.status_code == 303
    assert world.client.get(f"{path}/formList").status_code == 403
    page = leader.get(KEYS).get_data(as_text=True)
    assert 'class="revoked"' in page


def test_issue_and_revoke_without_the_csrf_token_change_nothing(world: World) -> None:
    leader = browser(world, "leader")
    form = {"username": "recorder", "device_name": "Samsung A14"}
    assert leader.client.post(KEYS, data=form).status_code == 400
    assert key_ids(world) == []
    address = html.unescape(ADDRESS.findall(issue(leader))[0])
    [key_id] = key_ids(world)
    refused = leader.client.post(f"{KEYS}/{key_id}/revoke", data={"confirm": "yes"})
    assert refused.status_code == 400
    path = address.removeprefix("http://localhost")
    assert world.client.get(f"{path}/formList").status_code == 200


def test_the_dashboard_links_the_leader_to_the_phones(world: World) -> None:
    link = f'href="{KEYS}"'
    assert link in browser(world, "leader").get("/expeditions/ULY-2026").get_data(as_text=True)
    assert link not in browser(world, "recorder").get("/expeditions/ULY-2026").get_data(
        as_text=True
    )


# -- submissions that need a person ------------------------------------------------------------

SUBMISSIONS = "/expeditions/ULY-2026/phones/submissions"


def sent_with_bad_material(world: World) -> str:
    """A submission whose material is outside the vocabulary: kept for review, no find."""
    path = new_key(world)["path"]
    assert send(world, path, instance(photos=(), instance_id=str(uuid.uuid4()))).status_code == 201
    bad = str(uuid.uuid4())
    xml = instance(photos=(), instance_id=bad, answers={"material": "plutonium"})
    assert send(world, path, xml).status_code == 201
    return bad


def the_submission(world: World, instance_id: str) -> Any:
    with world.runtime.uow() as uow:
        return uow.connection.execute(
            select(collect_submissions).where(collect_submissions.c.instance_id == instance_id)
        ).one()


def correction(world: World, instance_id: str, **changes: str) -> dict[str, str]:
    row = the_submission(world, instance_id)
    form = {name: "" for name in SUBMISSION_FIELDS}
    form.update(ANSWERS_FOR_FORM)
    form.update(expected_updated_at=row.updated_at.isoformat(), reason="material misread")
    form.update(changes)
    return form


# the form's boxes as the page fills them from the submission's draft
ANSWERS_FOR_FORM = {
    "site_code": "DMB",
    "trench": "Қазба 2",
    "context": "Қабат 3",
    "kind": "small_find",
    "object_name": "Қола пышақ",
    "quantity": "1",
    "weight_g": "12.5",
    "found_on": "2026-07-14",
}


def test_the_leader_reviewers_and_admins_see_submissions_needing_attention(world: World) -> None:
    bad = sent_with_bad_material(world)
    for who in ("recorder", "outsider", "registrar"):
        assert browser(world, who).get(SUBMISSIONS).status_code == 403, who
    for who in ("leader", "reviewer", "admin"):
        page = browser(world, who).get(SUBMISSIONS)
        assert page.status_code == 200, who
    text = browser(world, "reviewer").get(SUBMISSIONS).get_data(as_text=True)
    assert text.count('class="submission"') == 1  # the filed one is not listed
    # the problem's field by its Kazakh label, the problem in Kazakh with the value sent
    assert "Материал: «plutonium» материалдар сөздігінде жоқ" in text
    assert "is not in the material vocabulary" not in text
    assert "plutonium" in text  # the value as sent, in the table
    assert "<find" not in text and "&lt;find" not in text  # never raw XML
    assert bad not in re.sub(r'value="[^"]*"', "", text)
    row = the_submission(world, bad)
    assert f"{SUBMISSIONS}/{row.id}.xml" in text
    xml = browser(world, "reviewer").get(f"{SUBMISSIONS}/{row.id}.xml")
    assert xml.status_code == 200 and xml.headers["Content-Disposition"].startswith("attachment")
    dashboard = browser(world, "reviewer").get("/expeditions/ULY-2026").get_data(as_text=True)
    assert f'href="{SUBMISSIONS}"' in dashboard


def test_a_submission_with_a_bad_material_is_corrected_into_a_find(world: World) -> None:
    bad = sent_with_bad_material(world)
    reviewer = browser(world, "reviewer")
    row = the_submission(world, bad)
    filed = reviewer.post(
        f"{SUBMISSIONS}/{row.id}/correct", correction(world, bad, material="copper_alloy")
    )
    assert filed.status_code == 303, filed.get_data(as_text=True)
    assert filed.headers["Location"].endswith(f"/finds/{bad}")
    with world.runtime.uow() as uow:
        record = uow.finds.record(bad)
        assert record is not None
        data = json.loads(record.data)
        audit = uow.connection.execute(
            select(audit_log).where(audit_log.c.action == "collect.correct")
        ).all()
    assert data["material"] == "copper_alloy"
    assert data["recorded_by"] == "recorder"  # the key's member, not the reviewer
    assert data["find_number"]
    assert len(audit) == 1
    assert the_submission(world, bad).status == "filed"
    text = reviewer.get(SUBMISSIONS).get_data(as_text=True)
    assert 'class="submission"' not in text
    again = reviewer.post(
        f"{SUBMISSIONS}/{row.id}/correct", correction(world, bad, material="iron")
    )
    assert again.status_code == 409  # a find already: corrected on its own page


def test_an_invalid_or_stale_or_forged_correction_changes_nothing(world: World) -> None:
    bad = sent_with_bad_material(world)
    row = the_submission(world, bad)
    url = f"{SUBMISSIONS}/{row.id}/correct"
    leader = browser(world, "leader")
    invalid = leader.post(url, correction(world, bad, material="copper_alloy", quantity="many"))
    assert invalid.status_code == 422
    assert 'role="alert"' in invalid.get_data(as_text=True)
    assert "many" in invalid.get_data(as_text=True)  # what was typed is kept
    still_bad = leader.post(url, correction(world, bad))  # material left unchosen
    assert still_bad.status_code == 422
    stale = leader.post(url, correction(world, bad, material="iron", expected_updated_at="x"))
    assert stale.status_code == 409
    forged = leader.client.post(url, data=correction(world, bad, material="iron"))
    assert forged.status_code == 400
    refused = browser(world, "recorder").post(url, correction(world, bad, material="iron"))
    assert refused.status_code == 403
    assert browser(world, "outsider").post(url, correction(world, bad)).status_code == 404
    with world.runtime.uow() as uow:
        assert uow.finds.record(bad) is None
    assert the_submission(world, bad).updated_at == row.updated_at
    assert the_submission(world, bad).status == "needs_review"
