"""The review UI through the Flask test client, on SQLite and PostgreSQL: sessions, CSRF,
who sees what, escaping, and the pages' contents."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from field_server.app import create_app
from field_server.config import ServerConfig
from field_server.services import auth
from tests import media_factory
from tests.integration.conftest import PASSWORD, TEST_SCRYPT_COST, World, sample_batch
from tests.integration.web_session import browser, csrf_of
from tests.samples import HOSTILE


def usernames(world: World) -> set[str]:
    with world.runtime.uow() as uow:
        return {user.username for user in uow.users.all()}


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(world: World) -> None:
    admin = browser(world, "admin")
    before = usernames(world)
    for token in (None, "", "forged-" + admin.csrf[7:]):
        data: dict[str, Any] = {"username": "mallory", "password": PASSWORD, "roles": "admin"}
        if token is not None:
            data["csrf_token"] = token
        response = admin.client.post("/admin/users", data=data)
        assert response.status_code == 400
        assert "Форма ескірген" in response.get_data(as_text=True)  # kk: the form was stale
    assert usernames(world) == before
    with world.runtime.uow() as uow:
        expedition = uow.expeditions.by_code("ULY-2026")
        assert expedition is not None
        team_before = uow.expeditions.members(expedition.id)
    response = admin.client.post(
        "/expeditions/ULY-2026/team", data={"username": "reviewer", "leader": "on"}
    )
    assert response.status_code == 400
    with world.runtime.uow() as uow:
        assert uow.expeditions.members(expedition.id) == team_before


def test_a_sign_in_without_the_token_is_refused_and_starts_no_session(world: World) -> None:
    client = world.app.test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_the_session_cookie_is_http_only_and_same_site_lax(world: World, tmp_path: Path) -> None:
    client = world.app.test_client()
    token = csrf_of(client.get("/login"))
    response = client.post(
        "/login", data={"csrf_token": token, "username": "reviewer", "password": PASSWORD}
    )
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if "qazba_session" in v)
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in flags

    secure = create_app(
        ServerConfig(
            data_dir=tmp_path / "secure",
            database_url=world.runtime.config.database_url,
            secret_key="other",
            scrypt_cost=TEST_SCRYPT_COST,
            secure_cookies=True,
        )
    )
    client = secure.test_client()
    token = csrf_of(client.get("/login"))
    response = client.post(
        "/login", data={"csrf_token": token, "username": "reviewer", "password": PASSWORD}
    )
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if "qazba_session" in v)
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}
    secure.extensions["qazba"].uow.engine.dispose()


def test_a_wrong_password_shows_the_form_again_and_signs_no_one_in(world: World) -> None:
    visitor = browser(world, None)
    response = visitor.post("/login", {"username": "admin", "password": "not the password"})
    assert response.status_code == 401
    assert 'role="alert"' in response.get_data(as_text=True)
    assert visitor.get("/").status_code == 302


def test_after_sign_in_only_a_path_on_this_server_is_followed(world: World) -> None:
    for target, expected in [
        ("/expeditions/ULY-2026", "/expeditions/ULY-2026"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        visitor = browser(world, None)
        response = visitor.post(
            "/login", {"username": "reviewer", "password": PASSWORD, "next": target}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == expected


def test_a_new_password_or_deactivation_ends_the_browser_session(world: World) -> None:
    reviewer = browser(world, "reviewer")
    assert reviewer.get("/").status_code == 200
    auth.set_password(world.runtime.uow, "reviewer", "a brand new password", cost=2**10)
    assert reviewer.get("/").status_code == 302

    registrar = browser(world, "registrar")
    admin = browser(world, "admin")
    response = admin.post("/admin/users/registrar", {"roles": "registrar"})  # active unticked
    assert response.status_code == 303
    assert registrar.get("/").status_code == 302


def test_a_recorder_sees_nothing_of_another_expeditions_survey(world: World) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    outsider = browser(world, "outsider")
    survey = outsider.get(f"/expeditions/ULY-2026/surveys/{batch[0]['uuid']}")
    assert survey.status_code == 403
    find = outsider.get(f"/finds/{batch[1]['uuid']}")
    assert find.status_code == 404
    for response in (survey, find):
        assert batch[1]["data"]["find_number"] not in response.get_data(as_text=True)
    listing = outsider.get("/").get_data(as_text=True)
    assert "ZHZ-2026" in listing
    assert "ULY-2026" not in listing


def hostile_survey(world: World) -> tuple[str, str]:
    batch = copy.deepcopy(sample_batch("ULY-2026")[:2])
    batch[0]["data"]["title"] = HOSTILE
    batch[1]["data"].update(
        object_name=HOSTILE,
        description=HOSTILE,
        notes=HOSTILE,
        condition=HOSTILE,
        context=HOSTILE,
        trench=HOSTILE,
    )
    results = world.pushed("recorder", batch)["results"]
    assert [r["status"] for r in results] == ["created", "created"], results
    return batch[0]["uuid"], batch[1]["uuid"]


def test_markup_in_text_fields_is_escaped_on_every_page_and_in_the_map_data(
    world: World,
) -> None:
    survey, find = hostile_survey(world)
    reviewer = browser(world, "reviewer")
    pages = {
        "dashboard": reviewer.get("/expeditions/ULY-2026"),
        "survey": reviewer.get(f"/expeditions/ULY-2026/surveys/{survey}"),
        "filtered": reviewer.get(
            f"/expeditions/ULY-2026/surveys/{survey}?q=%3Cscript%3E&context=" + "%3Cscript"
        ),
        "find": reviewer.get(f"/finds/{find}"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html, name
        assert "<img src=x" not in html, name
    survey_html = pages["survey"].get_data(as_text=True)
    assert "&lt;script&gt;alert(" in survey_html
    found = re.search(
        r'<script type="application/json" id="survey-map-data">(.*?)</script>',
        survey_html,
        re.S,
    )
    assert found is not None
    assert "<" not in found.group(1)
    features = json.loads(found.group(1))["finds"]["features"]
    assert [f["properties"]["object_name"] for f in features] == [HOSTILE]


def test_pages_forbid_inline_scripts_and_framing(world: World) -> None:
    response = browser(world, "reviewer").get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"


def test_the_finds_table_filters_searches_sorts_and_pages_without_javascript(
    world: World,
) -> None:
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    finds = [r["data"] for r in batch[1:]]
    reviewer = browser(world, "reviewer")
    base = f"/expeditions/ULY-2026/surveys/{batch[0]['uuid']}"

    def numbers(query: str) -> list[str]:
        html = reviewer.get(base + query).get_data(as_text=True)
        table = html.split('<table class="finds">')[1].split("</table>")[0] if finds else ""
        return re.findall(r'<a href="/finds/[^"]+">([^<]+)</a>', table)

    ceramic = sorted(f["find_number"] for f in finds if f["material"] == "ceramic")
    assert numbers("?material=ceramic") == ceramic
    assert numbers("?material=ceramic&order=desc") == ceramic[::-1]
    word = finds[0]["object_name"].split()[0]
    searched = {f["find_number"] for f in finds if word.casefold() in f["object_name"].casefold()}
    assert set(numbers("?q=" + word)) >= searched
    assert numbers("?per_page=25&page=1")[:1] == [min(f["find_number"] for f in finds)]
    everything = numbers("?per_page=100")
    assert len(everything) == len(finds)
    assert numbers("?per_page=25&page=99") == numbers("?per_page=25&page=1")


def test_the_dashboard_counts_finds_and_lists_those_waiting_for_photos(world: World) -> None:
    batch = sample_batch("ULY-2026")
    missing = media_factory.sha256(b"a photo the laptop has not sent yet")
    batch[1]["data"]["photos"] = [missing]
    world.pushed("recorder", batch)
    html = browser(world, "reviewer").get("/expeditions/ULY-2026").get_data(as_text=True)
    section = html.split('id="missing-heading"')[1].split("</section>")[0]
    assert batch[1]["data"]["find_number"] in section
    assert f'<span class="count">{len(batch) - 1}</span>' in html
    assert world.device_id in html


def find_with_an_open_conflict(world: World) -> dict[str, Any]:
    """A sample find revised by the recorder ("Ернеу сынығы") and then, from the same base, by
    the leader's device ("Түп сынығы"): a conflict left open."""
    batch = sample_batch("ULY-2026")
    world.pushed("recorder", batch)
    find = copy.deepcopy(batch[1])
    first = dict(find, base_rev=1, rev=2, data={**find["data"], "object_name": "Ернеу сынығы"})
    assert world.pushed("recorder", [first])["results"][0]["status"] == "updated"
    clash = dict(find, base_rev=1, rev=2, data={**find["data"], "object_name": "Түп сынығы"})
    answer = world.pushed("leader", [clash], device_id="device-of-the-leader")["results"][0]
    assert answer["status"] == "conflict"
    return find


def test_the_find_page_shows_a_revisions_diff_and_an_open_conflict(world: World) -> None:
    find = find_with_an_open_conflict(world)
    html = browser(world, "reviewer").get(f"/finds/{find['uuid']}").get_data(as_text=True)
    history = html.split('id="history-heading"')[1].split("</section>")[0]
    assert "Ернеу сынығы" in history
    assert find["data"]["object_name"] in history
    conflicts = html.split('id="conflicts-heading"')[1].split("</section>")[0]
    assert "Түп сынығы" in conflicts
    assert "device-of-the-leader" in conflicts


def test_the_dashboard_lists_a_find_with_an_open_conflict(world: World) -> None:
    find = find_with_an_open_conflict(world)
    html = browser(world, "reviewer").get("/expeditions/ULY-2026").get_data(as_text=True)
    section = html.split('id="conflicts-heading"')[1].split("</section>")[0]
    assert find["data"]["find_number"] in section
    assert "Ернеу сынығы" in section
    assert section.count("<tr><td>") == 1


def test_a_photo_not_named_by_a_sha256_is_not_found_on_the_page_and_the_api(
    world: World,
) -> None:
    reviewer = browser(world, "reviewer")
    for path in ("/photos/NOT-A-DIGEST", "/photos/NOT-A-DIGEST/thumb"):
        page = reviewer.get(path)
        assert page.status_code == 404
        assert page.mimetype == "text/html"
        answer = world.client.get(f"/api/v1{path}", headers=world.headers("reviewer"))
        assert answer.status_code == 404
        assert answer.get_json()["code"] == "not_found"


def test_an_admin_cannot_take_away_their_own_admin_role(world: World) -> None:
    admin = browser(world, "admin")
    response = admin.post("/admin/users/admin", {"roles": "reviewer", "active": "on"})
    assert response.status_code == 422
    with world.runtime.uow() as uow:
        user = uow.users.by_username("admin")
        assert user is not None
        assert user.roles == ("admin",)


def test_a_name_with_a_nul_is_a_wrong_sign_in_not_a_server_error(world: World) -> None:
    client = world.app.test_client()
    token = csrf_of(client.get("/login"))
    answer = client.post(
        "/login", data={"csrf_token": token, "username": "admin\x00", "password": PASSWORD}
    )
    assert answer.status_code == 401
    assert client.get("/").status_code == 302  # no session
