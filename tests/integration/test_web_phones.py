"""Phones with ODK Collect in the review UI, on SQLite and PostgreSQL: the keys page (who
sees it, the QR code shown once, revoking) and the submissions that need a reviewer."""

from __future__ import annotations

import html
import re
from typing import Any

import segno

from field_server.services.collect_keys import collect_settings
from field_server.web.phones import QR_ERROR, QR_SCALE
from tests.integration.conftest import World
from tests.integration.web_session import Browser, browser

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
