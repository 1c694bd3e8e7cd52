"""Who may call what: every route against every kind of caller, and tokens that stop working."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from field_server.adapters.tables import access_tokens, collect_submissions
from field_server.app import create_app
from field_server.config import ServerConfig
from field_server.services import auth
from field_server.services.auth import now_utc, token_digest
from tests import media_factory, samples
from tests.integration import tus_client as tus
from tests.integration.conftest import PASSWORD, TEST_SCRYPT_COST, World, sample_batch
from tests.integration.museum_status import approved_finds
from tests.integration.web_session import browser
from tests.unit.collect.instances import instance

PROBLEM = "application/problem+json"

# An outcome is the status code, or "200 <record status>" for a push: a push by someone who
# may not record is still a 200, and only the record's result tells whether it was taken.
Outcome = int | str
Call = Callable[[World, str | None], TestResponse]

NEAR_BASKAMYR = {
    "type": "Polygon",
    "coordinates": [
        [
            [67.040, 48.190],
            [67.045, 48.190],
            [67.045, 48.195],
            [67.040, 48.195],
            [67.040, 48.190],
        ]
    ],
}


# -- one request per route, each with a body that is valid for everyone ------------------


def health(world: World, who: str | None) -> TestResponse:
    return world.client.get("/api/v1/health", headers=world.headers(who))


def openapi_document(world: World, who: str | None) -> TestResponse:
    return world.client.get("/api/openapi.json", headers=world.headers(who))


def log_in(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        "/api/v1/auth/token",
        headers=world.headers(who),
        json={"username": who or "recorder", "password": PASSWORD, "device_name": "matrix tablet"},
    )


def log_out(world: World, who: str | None) -> TestResponse:
    response = world.client.delete("/api/v1/auth/token", headers=world.headers(who))
    if who is not None:
        world.tokens.pop(who)  # revoked (or should be): the next call logs in afresh
    return response


def create_expedition(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        "/api/v1/expeditions",
        headers=world.headers(who),
        json={
            "code": f"NEW-{(who or 'anonymous').upper()}",
            "title": "Разведка 2027",
            "year": 2027,
        },
    )


def add_member(world: World, who: str | None) -> TestResponse:
    # a newcomer per caller, so that every permitted call adds someone (201)
    newcomer = f"newcomer-of-{who or 'anonymous'}"
    auth.create_user(world.runtime.uow, newcomer, PASSWORD, ["recorder"], cost=TEST_SCRYPT_COST)
    return world.client.post(
        "/api/v1/expeditions/ULY-2026/members",
        headers=world.headers(who),
        json={"username": newcomer},
    )


def add_site(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        "/api/v1/expeditions/ULY-2026/sites",
        headers=world.headers(who),
        json={
            "code": f"S-{(who or 'anonymous').upper()}",
            "name": "Басқамыр маңы",
            "boundary": NEAR_BASKAMYR,
        },
    )


def reserve_numbers(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        "/api/v1/expeditions/ULY-2026/number-blocks",
        headers=world.headers(who),
        json={"device_id": world.device_id, "count": 10},
    )


def reference(world: World, who: str | None) -> TestResponse:
    return world.client.get("/api/v1/reference", headers=world.headers(who))


def push_a_survey(world: World, who: str | None) -> TestResponse:
    survey = sample_batch("ULY-2026")[0]
    survey["uuid"] = str(uuid.uuid4())
    return world.client.post(
        "/api/v1/sync/push",
        headers=world.headers(who),
        json={"device_id": world.device_id, "batch_id": str(uuid.uuid4()), "records": [survey]},
    )


def pull(world: World, who: str | None) -> TestResponse:
    return world.client.get("/api/v1/sync/pull?since=0&limit=10", headers=world.headers(who))


MATRIX_PHOTO = media_factory.noise_jpeg_bytes(seed=99)


def photos_missing(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        "/api/v1/photos/missing",
        headers=world.headers(who),
        json={"sha256": [media_factory.sha256(MATRIX_PHOTO)]},
    )


def recorded_photo(world: World) -> str:
    """A photo the recorder recorded in ULY-2026 and uploaded (made once per world)."""
    digest = media_factory.sha256(MATRIX_PHOTO)
    with world.runtime.uow() as uow:
        if uow.blobs.get(digest) is not None:
            return digest
    return tus.stored_photo(world, "recorder", MATRIX_PHOTO)


def photo_file(world: World, who: str | None) -> TestResponse:
    url = f"/api/v1/photos/{recorded_photo(world)}"
    return world.client.get(url, headers=world.headers(who), buffered=True)


def photo_thumbnail(world: World, who: str | None) -> TestResponse:
    url = f"/api/v1/photos/{recorded_photo(world)}/thumb"
    return world.client.get(url, headers=world.headers(who), buffered=True)


def upload_configuration(world: World, who: str | None) -> TestResponse:
    return world.client.options("/api/v1/uploads", headers=world.headers(who))


def create_upload(world: World, who: str | None) -> TestResponse:
    return tus.create(world, who, MATRIX_PHOTO)


def upload_of(world: World, who: str | None) -> str:
    """An upload of the caller's own, or the recorder's when the caller may not create one."""
    response = create_upload(world, who)
    if response.status_code == 201:
        return response.headers["Location"].removeprefix("http://localhost")
    return tus.created(world, "recorder", MATRIX_PHOTO)


def upload_offset(world: World, who: str | None) -> TestResponse:
    return tus.head(world, who, upload_of(world, who))


def append_chunk(world: World, who: str | None) -> TestResponse:
    return tus.patch(world, who, upload_of(world, who), 0, MATRIX_PHOTO)


def terminate_upload(world: World, who: str | None) -> TestResponse:
    path = upload_of(world, who)
    return world.client.delete(path, headers={**world.headers(who), **tus.TUS})


def export_geojson(world: World, who: str | None) -> TestResponse:
    return world.client.get(
        "/api/v1/expeditions/ULY-2026/export.geojson", headers=world.headers(who), buffered=True
    )


def spatial_checks(world: World, who: str | None) -> TestResponse:
    return world.client.get(
        "/api/v1/expeditions/ULY-2026/spatial-checks", headers=world.headers(who)
    )


# -- phones with ODK Collect ----------------------------------------------------------------


def issue_collect_key(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        "/api/v1/expeditions/ULY-2026/collect-keys",
        headers=world.headers(who),
        json={"username": "recorder", "device_name": f"phone of {who}"},
    )


def list_collect_keys(world: World, who: str | None) -> TestResponse:
    return world.client.get("/api/v1/expeditions/ULY-2026/collect-keys", headers=world.headers(who))


def revoke_collect_key(world: World, who: str | None) -> TestResponse:
    # a fresh key per caller, so that every permitted call revokes one (204)
    key = issue_collect_key(world, "admin").get_json()
    return world.client.delete(f"/api/v1/collect-keys/{key['id']}", headers=world.headers(who))


_PHONE_PATHS: dict[str, str] = {}  # world.device_id -> the key path of the world's phone


def phone_path(world: World) -> str:
    """The address of a phone of the recorder in ULY-2026 (its key issued once per world)."""
    if world.device_id not in _PHONE_PATHS:
        key = issue_collect_key(world, "admin").get_json()
        _PHONE_PATHS[world.device_id] = key["path"]
    return _PHONE_PATHS[world.device_id]


# A phone's OpenRosa calls carry its key, not a caller's token: every caller gets one answer.
def phone_form_list(world: World, who: str | None) -> TestResponse:
    return world.client.get(f"{phone_path(world)}/formList", headers=world.headers(who))


def phone_form(world: World, who: str | None) -> TestResponse:
    return world.client.get(f"{phone_path(world)}/forms/qazba_find.xml", headers=world.headers(who))


def phone_submission_limits(world: World, who: str | None) -> TestResponse:
    return world.client.head(f"{phone_path(world)}/submission", headers=world.headers(who))


def phone_submission(world: World, who: str | None) -> TestResponse:
    xml = instance(photos=(), instance_id=str(uuid.uuid4()))
    return world.client.post(
        f"{phone_path(world)}/submission",
        headers=world.headers(who),
        data={"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
        content_type="multipart/form-data",
    )


def list_phone_submissions(world: World, who: str | None) -> TestResponse:
    return world.client.get(
        "/api/v1/expeditions/ULY-2026/collect-submissions", headers=world.headers(who)
    )


def phone_submission_xml(world: World, who: str | None) -> TestResponse:
    phone_submission(world, None)
    with world.runtime.uow() as uow:
        submission_id = uow.connection.execute(
            select(func.max(collect_submissions.c.id))
        ).scalar_one()
    return world.client.get(
        f"/api/v1/collect-submissions/{submission_id}.xml", headers=world.headers(who)
    )


# -- the review UI: a browser session per caller (anonymous: a browser never signed in) -----


def pushed_survey(world: World) -> tuple[str, str]:
    """The ULY-2026 sample survey and its first find, pushed once per world."""
    batch = sample_batch("ULY-2026")
    survey, find = batch[0]["uuid"], batch[1]["uuid"]
    with world.runtime.uow() as uow:
        if uow.finds.record(survey) is None:
            world.pushed("recorder", batch)
    return survey, find


def web_sign_in_page(world: World, who: str | None) -> TestResponse:
    return browser(world, None).get("/login")


def web_sign_in(world: World, who: str | None) -> TestResponse:
    return browser(world, None).post(
        "/login", {"username": who or "recorder", "password": PASSWORD}
    )


def web_sign_out(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post("/logout")


def web_language(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post("/language", {"lang": "en"})


def web_expeditions(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get("/")


def web_dashboard(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get("/expeditions/ULY-2026")


def web_survey(world: World, who: str | None) -> TestResponse:
    survey, _ = pushed_survey(world)
    return browser(world, who).get(f"/expeditions/ULY-2026/surveys/{survey}")


def web_find(world: World, who: str | None) -> TestResponse:
    _, find = pushed_survey(world)
    return browser(world, who).get(f"/finds/{find}")


def web_photo(world: World, who: str | None) -> TestResponse:
    return browser(world, who).client.get(f"/photos/{recorded_photo(world)}", buffered=True)


def web_thumbnail(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get(f"/photos/{recorded_photo(world)}/thumb")


def web_users(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get("/admin/users")


def web_create_user(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post(
        "/admin/users",
        {"username": f"made-by-{who or 'anonymous'}", "password": PASSWORD, "roles": "recorder"},
    )


def web_change_user(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post(
        "/admin/users/registrar", {"roles": "registrar", "active": "on"}
    )


def web_team(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get("/expeditions/ULY-2026/team")


def web_add_member(world: World, who: str | None) -> TestResponse:
    newcomer = f"web-newcomer-of-{who or 'anonymous'}"
    auth.create_user(world.runtime.uow, newcomer, PASSWORD, ["recorder"], cost=TEST_SCRYPT_COST)
    return browser(world, who).post("/expeditions/ULY-2026/team", {"username": newcomer})


def web_phone_keys(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get("/expeditions/ULY-2026/phones")


def web_issue_phone_key(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post(
        "/expeditions/ULY-2026/phones",
        {"username": "recorder", "device_name": f"web phone of {who}"},
    )


def web_revoke_phone_key(world: World, who: str | None) -> TestResponse:
    # a fresh key per caller, so that every permitted call revokes one
    key = issue_collect_key(world, "admin").get_json()
    return browser(world, who).post(
        f"/expeditions/ULY-2026/phones/{key['id']}/revoke", {"confirm": "yes"}
    )


def kept_submission(world: World) -> int:
    """A fresh phone submission with a material outside the vocabulary: kept for review."""
    xml = instance(photos=(), instance_id=str(uuid.uuid4()), answers={"material": "plutonium"})
    world.client.post(
        f"{phone_path(world)}/submission",
        data={"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
        content_type="multipart/form-data",
    )
    with world.runtime.uow() as uow:
        return int(uow.connection.execute(select(func.max(collect_submissions.c.id))).scalar_one())


def web_phone_submissions(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get("/expeditions/ULY-2026/phones/submissions")


def web_phone_submission_xml(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get(
        f"/expeditions/ULY-2026/phones/submissions/{kept_submission(world)}.xml"
    )


def web_correct_phone_submission(world: World, who: str | None) -> TestResponse:
    # a fresh submission per caller, so that every permitted call files one
    submission_id = kept_submission(world)
    with world.runtime.uow() as uow:
        updated = uow.connection.execute(
            select(collect_submissions.c.updated_at).where(
                collect_submissions.c.id == submission_id
            )
        ).scalar_one()
    return browser(world, who).post(
        f"/expeditions/ULY-2026/phones/submissions/{submission_id}/correct",
        {
            "material": "copper_alloy",
            "reason": "misread",
            "expected_updated_at": updated.isoformat(),
        },
    )


def web_stylesheet(world: World, who: str | None) -> TestResponse:
    return browser(world, who).client.get("/static/web/app.css", buffered=True)


def web_leaflet(world: World, who: str | None) -> TestResponse:
    return browser(world, who).client.get("/static/vendor/leaflet/leaflet.js", buffered=True)


def an_act(world: World) -> int:
    """KP act of one find, made by the registrar (once per world)."""
    with world.runtime.uow() as uow:
        if uow.register.last_receipts()["KP"]:
            return 1
    response = world.client.post(
        "/api/v1/register/acts",
        headers=world.headers("registrar"),
        json={"expedition_code": "ULY-2026", "fund": "KP", "find_uuids": approved_finds(world, 1)},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["act_number"]


def create_act(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        "/api/v1/register/acts",
        headers=world.headers(who),
        json={"expedition_code": "ULY-2026", "fund": "NVF", "find_uuids": approved_finds(world, 1)},
    )


def read_act(world: World, who: str | None) -> TestResponse:
    return world.client.get(f"/api/v1/register/acts/KP/{an_act(world)}", headers=world.headers(who))


def read_inventory(world: World, who: str | None) -> TestResponse:
    url = f"/api/v1/register/acts/KP/{an_act(world)}/inventory.csv"
    return world.client.get(url, headers=world.headers(who))


def list_entries(world: World, who: str | None) -> TestResponse:
    an_act(world)
    return world.client.get("/api/v1/register/entries?fund=KP", headers=world.headers(who))


def amend_entry(world: World, who: str | None) -> TestResponse:
    # a new storage place per caller, so that every permitted call changes something (201)
    url = f"/api/v1/register/entries/KP/{an_act(world)}/1/amendments"
    return world.client.post(
        url,
        headers=world.headers(who),
        json={"field": "storage_location", "new": f"shelf of {who}", "reason": "moved"},
    )


def fresh_pair(world: World) -> tuple[str, str]:
    """Two new finds of ULY-2026 under one number: a duplicate candidate of their own."""
    survey, template = sample_batch("ULY-2026")[:2]
    first = samples.fresh_find(template)
    second = samples.fresh_find(template, find_number=first["data"]["find_number"])
    world.pushed("admin", [survey, first, second])
    return first["uuid"], second["uuid"]


def fresh_candidate(world: World) -> int:
    """The group of the two finds of a fresh number."""
    pair = sorted(fresh_pair(world))
    with world.runtime.uow() as uow:
        [candidate] = [
            c for c in uow.candidates.involving([pair[0]]) if sorted(c.find_uuids) == pair
        ]
    return candidate.id


def duplicate_queue(world: World, who: str | None) -> TestResponse:
    url = "/api/v1/expeditions/ULY-2026/duplicates"
    return world.client.get(url, headers=world.headers(who))


def detect_duplicates(world: World, who: str | None) -> TestResponse:
    url = "/api/v1/expeditions/ULY-2026/duplicates/detect"
    return world.client.post(url, headers=world.headers(who))


def merge_duplicates(world: World, who: str | None) -> TestResponse:
    candidate = fresh_candidate(world)
    with world.runtime.uow() as uow:
        row = uow.candidates.get(candidate)
    assert row is not None
    return world.client.post(
        f"/api/v1/duplicates/{candidate}/merge",
        headers=world.headers(who),
        json={"keep": row.find_uuids[0]},
    )


def dismiss_duplicates(world: World, who: str | None) -> TestResponse:
    return world.client.post(
        f"/api/v1/duplicates/{fresh_candidate(world)}/dismiss",
        headers=world.headers(who),
        json={"reason": "two objects"},
    )


def read_find(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    return world.client.get(f"/api/v1/finds/{uuid}", headers=world.headers(who))


def review_find(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    return world.client.post(
        f"/api/v1/finds/{uuid}/review", headers=world.headers(who), json={"decision": "approve"}
    )


def correct_find(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    return world.client.patch(
        f"/api/v1/finds/{uuid}",
        headers=world.headers(who),
        json={"notes": f"checked by {who}", "reason": "label read again"},
    )


def resolve_conflict(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    world.client.patch(
        f"/api/v1/finds/{uuid}",
        headers=world.headers("admin"),
        json={"notes": "museum", "reason": "label"},
    )
    with world.runtime.uow() as uow:
        [revision] = [r for r in uow.records.revisions_of(uuid) if r.server_rev == 1]
    data = dict(json.loads(revision.data), notes="device")
    record = {"type": "find", "uuid": uuid, "base_rev": 1, "rev": 2, "data": data}
    [result] = world.pushed("admin", [record])["results"]
    assert result["status"] == "conflict"
    with world.runtime.uow() as uow:
        [conflict] = uow.history.conflicts_of(uuid)
    return world.client.post(
        f"/api/v1/finds/{uuid}/conflicts/{conflict.id}/resolve",
        headers=world.headers(who),
        json={"resolution": "keep_server"},
    )


# -- the review UI's decisions, register and exports ------------------------------------


def web_duplicates(world: World, who: str | None) -> TestResponse:
    fresh_candidate(world)
    return browser(world, who).get("/expeditions/ULY-2026/duplicates")


def web_detect_duplicates(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post("/expeditions/ULY-2026/duplicates/detect")


def web_merge(world: World, who: str | None) -> TestResponse:
    candidate = fresh_candidate(world)
    with world.runtime.uow() as uow:
        row = uow.candidates.get(candidate)
    assert row is not None
    return browser(world, who).post(f"/duplicates/{candidate}/merge", {"keep": row.find_uuids[0]})


def web_dismiss(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post(f"/duplicates/{fresh_candidate(world)}/dismiss")


def web_review_selected(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    survey = sample_batch("ULY-2026")[0]["uuid"]
    return browser(world, who).post(
        f"/expeditions/ULY-2026/surveys/{survey}/review",
        {"find": uuid, f"rev.{uuid}": "1", "decision": "approve"},
    )


def web_review_find(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    return browser(world, who).post(
        f"/finds/{uuid}/review", {"decision": "approve", "expected_rev": "1"}
    )


def web_correct_find(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    return browser(world, who).post(
        f"/finds/{uuid}/correct",
        {"notes": f"checked by {who}", "reason": "label read again", "expected_rev": "1"},
    )


def web_resolve_conflict(world: World, who: str | None) -> TestResponse:
    uuid, _ = fresh_pair(world)
    world.client.patch(
        f"/api/v1/finds/{uuid}",
        headers=world.headers("admin"),
        json={"notes": "museum", "reason": "label"},
    )
    with world.runtime.uow() as uow:
        [revision] = [r for r in uow.records.revisions_of(uuid) if r.server_rev == 1]
    data = dict(json.loads(revision.data), notes="device")
    record = {"type": "find", "uuid": uuid, "base_rev": 1, "rev": 2, "data": data}
    [result] = world.pushed("admin", [record])["results"]
    assert result["status"] == "conflict"
    with world.runtime.uow() as uow:
        [conflict] = uow.history.conflicts_of(uuid)
    return browser(world, who).post(
        f"/finds/{uuid}/conflicts/{conflict.id}/resolve",
        {"resolution": "keep_server", "expected_rev": "2"},
    )


def web_register(world: World, who: str | None) -> TestResponse:
    an_act(world)
    return browser(world, who).get("/register?fund=KP")


def web_new_act(world: World, who: str | None) -> TestResponse:
    approved_finds(world, 1)
    return browser(world, who).get("/register/new?expedition=ULY-2026&fund=KP")


def web_preview_act(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post(
        "/register/preview",
        {"expedition_code": "ULY-2026", "fund": "KP", "find": approved_finds(world, 1)[0]},
    )


def web_create_act(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post(
        "/register/acts",
        {"expedition_code": "ULY-2026", "fund": "NVF", "find": approved_finds(world, 1)[0]},
    )


def web_act(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get(f"/register/acts/KP/{an_act(world)}")


def web_act_document(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get(f"/register/acts/KP/{an_act(world)}/inventory.csv")


def web_entry(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get(f"/register/entries/KP/{an_act(world)}/1")


def web_amend_entry(world: World, who: str | None) -> TestResponse:
    return browser(world, who).post(
        f"/register/entries/KP/{an_act(world)}/1",
        {"field": "storage_location", "new": f"web shelf of {who}", "reason": "moved"},
    )


def web_exports(world: World, who: str | None) -> TestResponse:
    return browser(world, who).get("/expeditions/ULY-2026/exports")


def web_export_download(world: World, who: str | None) -> TestResponse:
    pushed_survey(world)
    return browser(world, who).client.get(
        "/expeditions/ULY-2026/exports/download?format=geojson&crs=&status=", buffered=True
    )


# -- the matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    call: Call
    anonymous: Outcome
    recorder: Outcome  # a recorder of ULY-2026, where every call is aimed
    outsider: Outcome  # a recorder of ZHZ-2026 only
    leader: Outcome  # the leader of ULY-2026, a recorder
    reviewer: Outcome
    registrar: Outcome
    admin: Outcome

    def expected(self) -> dict[str, Outcome]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "call"}


CALLERS = tuple(f.name for f in fields(Row) if f.name != "call")

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/health"): Row(
        health,
        anonymous=200,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/api/openapi.json"): Row(
        openapi_document,
        anonymous=200,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/api/v1/auth/token"): Row(
        log_in,
        anonymous=201,
        recorder=201,
        outsider=201,
        leader=201,
        reviewer=201,
        registrar=201,
        admin=201,
    ),
    ("DELETE", "/api/v1/auth/token"): Row(
        log_out,
        anonymous=401,
        recorder=204,
        outsider=204,
        leader=204,
        reviewer=204,
        registrar=204,
        admin=204,
    ),
    ("POST", "/api/v1/expeditions"): Row(
        create_expedition,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=403,
        admin=201,
    ),
    ("POST", "/api/v1/expeditions/<code>/members"): Row(
        add_member,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=201,
        reviewer=403,
        registrar=403,
        admin=201,
    ),
    ("POST", "/api/v1/expeditions/<code>/sites"): Row(
        add_site,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=201,
        reviewer=403,
        registrar=403,
        admin=201,
    ),
    ("POST", "/api/v1/expeditions/<code>/number-blocks"): Row(
        reserve_numbers,
        anonymous=401,
        recorder=201,
        outsider=403,
        leader=201,
        reviewer=403,
        registrar=403,
        admin=201,
    ),
    ("GET", "/api/v1/reference"): Row(
        reference,
        anonymous=401,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/api/v1/sync/push"): Row(
        push_a_survey,
        anonymous=401,
        recorder="200 created",
        outsider="200 rejected",
        leader="200 created",
        reviewer="200 rejected",
        registrar="200 rejected",
        admin="200 created",
    ),
    ("GET", "/api/v1/expeditions/<code>/export.<fmt>"): Row(
        export_geojson,
        anonymous=401,
        recorder=200,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/api/v1/expeditions/<code>/spatial-checks"): Row(
        spatial_checks,
        anonymous=401,
        recorder=200,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/api/v1/sync/pull"): Row(
        pull,
        anonymous=401,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/api/v1/photos/missing"): Row(
        photos_missing,
        anonymous=401,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
    # the photo is recorded in ULY-2026: a stranger to it is told it does not exist
    ("GET", "/api/v1/photos/<sha256>"): Row(
        photo_file,
        anonymous=401,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/api/v1/photos/<sha256>/thumb"): Row(
        photo_thumbnail,
        anonymous=401,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("OPTIONS", "/api/v1/uploads"): Row(
        upload_configuration,
        anonymous=204,
        recorder=204,
        outsider=204,
        leader=204,
        reviewer=204,
        registrar=204,
        admin=204,
    ),
    ("POST", "/api/v1/uploads"): Row(
        create_upload,
        anonymous=401,
        recorder=201,
        outsider=201,
        leader=201,
        reviewer=403,
        registrar=403,
        admin=201,
    ),
    ("HEAD", "/api/v1/uploads/<upload_id>"): Row(
        upload_offset,
        anonymous=401,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
    ("PATCH", "/api/v1/uploads/<upload_id>"): Row(
        append_chunk,
        anonymous=401,
        recorder=204,
        outsider=204,
        leader=204,
        reviewer=403,
        registrar=403,
        admin=204,
    ),
    ("DELETE", "/api/v1/uploads/<upload_id>"): Row(
        terminate_upload,
        anonymous=401,
        recorder=204,
        outsider=204,
        leader=204,
        reviewer=403,
        registrar=403,
        admin=204,
    ),
    # the review UI: anonymous callers are sent to the sign-in page (302)
    ("GET", "/login"): Row(
        web_sign_in_page,
        anonymous=200,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/login"): Row(
        web_sign_in,
        anonymous=302,
        recorder=302,
        outsider=302,
        leader=302,
        reviewer=302,
        registrar=302,
        admin=302,
    ),
    ("POST", "/logout"): Row(
        web_sign_out,
        anonymous=302,
        recorder=302,
        outsider=302,
        leader=302,
        reviewer=302,
        registrar=302,
        admin=302,
    ),
    ("POST", "/language"): Row(
        web_language,
        anonymous=302,
        recorder=302,
        outsider=302,
        leader=302,
        reviewer=302,
        registrar=302,
        admin=302,
    ),
    ("GET", "/"): Row(
        web_expeditions,
        anonymous=302,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/expeditions/<code>"): Row(
        web_dashboard,
        anonymous=302,
        recorder=200,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/expeditions/<code>/surveys/<survey_uuid>"): Row(
        web_survey,
        anonymous=302,
        recorder=200,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/finds/<uuid>"): Row(
        web_find,
        anonymous=302,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/photos/<sha256>"): Row(
        web_photo,
        anonymous=302,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/photos/<sha256>/thumb"): Row(
        web_thumbnail,
        anonymous=302,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/admin/users"): Row(
        web_users,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
    ("POST", "/admin/users"): Row(
        web_create_user,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=403,
        admin=303,
    ),
    ("POST", "/admin/users/<username>"): Row(
        web_change_user,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=403,
        admin=303,
    ),
    ("GET", "/expeditions/<code>/team"): Row(
        web_team,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=200,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
    ("POST", "/expeditions/<code>/team"): Row(
        web_add_member,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=303,
        reviewer=403,
        registrar=403,
        admin=303,
    ),
    ("GET", "/expeditions/<code>/phones"): Row(
        web_phone_keys,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=200,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
    ("POST", "/expeditions/<code>/phones"): Row(
        web_issue_phone_key,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=200,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
    ("POST", "/expeditions/<code>/phones/<int:key_id>/revoke"): Row(
        web_revoke_phone_key,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=303,
        reviewer=403,
        registrar=403,
        admin=303,
    ),
    ("GET", "/expeditions/<code>/phones/submissions"): Row(
        web_phone_submissions,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("GET", "/expeditions/<code>/phones/submissions/<int:submission_id>.xml"): Row(
        web_phone_submission_xml,
        anonymous=302,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/expeditions/<code>/phones/submissions/<int:submission_id>/correct"): Row(
        web_correct_phone_submission,
        anonymous=302,
        recorder=403,
        outsider=404,
        leader=303,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("GET", "/static/web/<path:filename>"): Row(
        web_stylesheet,
        anonymous=200,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/static/vendor/leaflet/<path:filename>"): Row(
        web_leaflet,
        anonymous=200,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    # the review UI's decisions: the same roles as the API's routes, refusals as pages
    ("GET", "/expeditions/<code>/duplicates"): Row(
        web_duplicates,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("POST", "/expeditions/<code>/duplicates/detect"): Row(
        web_detect_duplicates,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("POST", "/duplicates/<int:candidate_id>/merge"): Row(
        web_merge,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("POST", "/duplicates/<int:candidate_id>/dismiss"): Row(
        web_dismiss,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("POST", "/expeditions/<code>/surveys/<survey_uuid>/review"): Row(
        web_review_selected,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("POST", "/finds/<uuid>/review"): Row(
        web_review_find,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("POST", "/finds/<uuid>/correct"): Row(
        web_correct_find,
        anonymous=302,
        recorder=403,
        outsider=404,
        leader=403,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("POST", "/finds/<uuid>/conflicts/<int:conflict_id>/resolve"): Row(
        web_resolve_conflict,
        anonymous=302,
        recorder=403,
        outsider=404,  # another expedition's find does not exist for them
        leader=303,
        reviewer=303,
        registrar=403,
        admin=303,
    ),
    ("GET", "/register"): Row(
        web_register,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/register/new"): Row(
        web_new_act,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=200,
        admin=200,
    ),
    ("POST", "/register/preview"): Row(
        web_preview_act,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=200,
        admin=200,
    ),
    ("POST", "/register/acts"): Row(
        web_create_act,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=303,
        admin=303,
    ),
    ("GET", "/register/acts/<fund>/<int:number>"): Row(
        web_act,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/register/acts/<fund>/<int:number>/<document>.<fmt>"): Row(
        web_act_document,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/register/entries/<fund>/<int:act_number>/<int:item>"): Row(
        web_entry,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/register/entries/<fund>/<int:act_number>/<int:item>"): Row(
        web_amend_entry,
        anonymous=302,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=303,
        admin=303,
    ),
    ("GET", "/expeditions/<code>/exports"): Row(
        web_exports,
        anonymous=302,
        recorder=200,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/expeditions/<code>/exports/download"): Row(
        web_export_download,
        anonymous=302,
        recorder=200,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    # the register belongs to the museum: no recorder, leader or not, reads or writes it
    ("POST", "/api/v1/register/acts"): Row(
        create_act,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=201,
        admin=201,
    ),
    ("GET", "/api/v1/register/acts/<fund>/<number>"): Row(
        read_act,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/api/v1/register/acts/<fund>/<number>/<document>"): Row(
        read_inventory,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/api/v1/register/entries"): Row(
        list_entries,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/api/v1/register/entries/<fund>/<act_number>/<item>/amendments"): Row(
        amend_entry,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=403,
        registrar=201,
        admin=201,
    ),
    ("GET", "/api/v1/expeditions/<code>/duplicates"): Row(
        duplicate_queue,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("POST", "/api/v1/expeditions/<code>/duplicates/detect"): Row(
        detect_duplicates,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("POST", "/api/v1/duplicates/<int:candidate_id>/merge"): Row(
        merge_duplicates,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("POST", "/api/v1/duplicates/<int:candidate_id>/dismiss"): Row(
        dismiss_duplicates,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    # a stranger to the expedition is told the find does not exist
    ("GET", "/api/v1/finds/<uuid>"): Row(
        read_find,
        anonymous=401,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("POST", "/api/v1/finds/<uuid>/review"): Row(
        review_find,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("PATCH", "/api/v1/finds/<uuid>"): Row(
        correct_find,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=403,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("POST", "/api/v1/finds/<uuid>/conflicts/<int:conflict_id>/resolve"): Row(
        resolve_conflict,
        anonymous=401,
        recorder=403,
        outsider=404,  # another expedition's find does not exist for them
        leader=200,
        reviewer=200,
        registrar=403,
        admin=200,
    ),
    ("POST", "/api/v1/expeditions/<code>/collect-keys"): Row(
        issue_collect_key,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=201,
        reviewer=403,
        registrar=403,
        admin=201,
    ),
    ("GET", "/api/v1/expeditions/<code>/collect-keys"): Row(
        list_collect_keys,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=200,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
    ("DELETE", "/api/v1/collect-keys/<int:key_id>"): Row(
        revoke_collect_key,
        anonymous=401,
        recorder=403,
        outsider=403,
        leader=204,
        reviewer=403,
        registrar=403,
        admin=204,
    ),
    ("GET", "/odk/key/<key>/<code>/formList"): Row(
        phone_form_list,
        anonymous=200,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/odk/key/<key>/<code>/forms/<form_file>"): Row(
        phone_form,
        anonymous=200,
        recorder=200,
        outsider=200,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("HEAD", "/odk/key/<key>/<code>/submission"): Row(
        phone_submission_limits,
        anonymous=204,
        recorder=204,
        outsider=204,
        leader=204,
        reviewer=204,
        registrar=204,
        admin=204,
    ),
    ("POST", "/odk/key/<key>/<code>/submission"): Row(
        phone_submission,
        anonymous=201,
        recorder=201,
        outsider=201,
        leader=201,
        reviewer=201,
        registrar=201,
        admin=201,
    ),
    ("GET", "/api/v1/expeditions/<code>/collect-submissions"): Row(
        list_phone_submissions,
        anonymous=401,
        recorder=200,
        outsider=403,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
    ("GET", "/api/v1/collect-submissions/<int:submission_id>.xml"): Row(
        phone_submission_xml,
        anonymous=401,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    ),
}


def outcome(response: TestResponse) -> Outcome:
    """The status, or a description of how a refusal broke the problem contract."""
    status = response.status_code
    if status in (401, 403) and response.request.path.startswith("/api/"):
        body = response.get_json(silent=True) or {}
        # an answer to HEAD carries no body, only the problem's headers
        if response.request.method == "HEAD":
            body = {"status": status, "code": "forbidden" if status == 403 else None}
        if response.mimetype != PROBLEM or body.get("status") != status:
            return f"{status} without a problem document"
        if status == 401 and not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            return "401 without WWW-Authenticate: Bearer"
        if status == 403 and body.get("code") != "forbidden":
            return f"403 with code {body.get('code')!r}"
    if response.request.path == "/api/v1/sync/push" and status == 200:
        [result] = response.get_json()["results"]
        return f"200 {result['status']}"
    return status


def declared_methods(rule: Any) -> set[str]:
    """The methods a route declares: not the HEAD that GET brings, nor Flask's own OPTIONS."""
    methods = set(rule.methods or ())
    if "GET" in methods:
        methods.discard("HEAD")
    if rule.provide_automatic_options:
        methods.discard("OPTIONS")
    return methods


def app_routes(app: Any) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in declared_methods(rule)
    }


def test_the_matrix_has_a_row_for_every_route_of_the_app(tmp_path: Path) -> None:
    app = create_app(
        ServerConfig(
            data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/q.db", secret_key="matrix"
        )
    )
    assert set(MATRIX) == app_routes(app)


@pytest.mark.parametrize("route", list(MATRIX), ids=" ".join)
def test_every_caller_gets_the_answer_the_matrix_gives_for(
    world: World, route: tuple[str, str]
) -> None:
    row = MATRIX[route]
    assert answers_to(world, row) == row.expected()


def answers_to(world: World, row: Row) -> dict[str, Outcome]:
    """What each caller gets from the row's request."""
    return {who: outcome(row.call(world, None if who == "anonymous" else who)) for who in CALLERS}


# -- the photo-possession rule (DESIGN §4) -----------------------------------------------------
# The photo routes again, for a digest that a record of ZHZ-2026 names too: the outsider's
# expedition names it but none of its members sent the bytes, so it holds nothing.


def claimed_photo(world: World) -> str:
    digest = recorded_photo(world)
    survey = media_factory.survey_record("ZHZ-2026")
    claim = media_factory.photo_record(survey["uuid"], MATRIX_PHOTO)
    world.pushed("outsider", [survey, claim])
    return digest


def held_by_uly(call: Call, anonymous: Outcome) -> Row:
    """The answers for a photo ULY-2026 holds and ZHZ-2026 merely names."""
    return Row(
        call,
        anonymous=anonymous,
        recorder=200,
        outsider=404,
        leader=200,
        reviewer=200,
        registrar=200,
        admin=200,
    )


POSSESSION: dict[str, Row] = {
    "GET /api/v1/photos/<sha256>": held_by_uly(
        lambda world, who: world.client.get(
            f"/api/v1/photos/{claimed_photo(world)}", headers=world.headers(who), buffered=True
        ),
        anonymous=401,
    ),
    "GET /api/v1/photos/<sha256>/thumb": held_by_uly(
        lambda world, who: world.client.get(
            f"/api/v1/photos/{claimed_photo(world)}/thumb", headers=world.headers(who)
        ),
        anonymous=401,
    ),
    "GET /photos/<sha256>/thumb": held_by_uly(
        lambda world, who: browser(world, who).get(f"/photos/{claimed_photo(world)}/thumb"),
        anonymous=302,
    ),
    "POST /api/v1/photos/missing": Row(
        lambda world, who: world.client.post(
            "/api/v1/photos/missing",
            headers=world.headers(who),
            json={"sha256": [claimed_photo(world)]},
        ),
        anonymous=401,
        recorder=200,
        outsider=200,  # answered, with the digest listed as missing (test_photo_possession)
        leader=200,
        reviewer=403,
        registrar=403,
        admin=200,
    ),
}


@pytest.mark.parametrize("route", list(POSSESSION))
def test_a_photo_another_expeditions_record_names_is_read_only_where_it_is_held(
    world: World, route: str
) -> None:
    row = POSSESSION[route]
    assert answers_to(world, row) == row.expected()


# -- reading: which records and expeditions each caller sees ------------------------------


def test_a_recorder_pulls_only_the_expeditions_it_is_a_member_of(world: World) -> None:
    uly, zhz = sample_batch("ULY-2026"), sample_batch("ZHZ-2026")
    world.pushed("admin", uly)
    world.pushed("admin", zhz)
    uly_uuids, zhz_uuids = {r["uuid"] for r in uly}, {r["uuid"] for r in zhz}

    def seen_by(who: str) -> set[str]:
        changes, _ = world.pull_all(who)
        return {change["uuid"] for change in changes}

    assert seen_by("recorder") == uly_uuids
    assert seen_by("outsider") == zhz_uuids
    for museum in ("reviewer", "registrar", "admin"):
        assert seen_by(museum) == uly_uuids | zhz_uuids


def test_the_reference_lists_only_the_expeditions_a_caller_may_read(world: World) -> None:
    def expeditions_for(who: str) -> set[str]:
        response = world.client.get("/api/v1/reference", headers=world.headers(who))
        return {e["code"] for e in response.get_json()["expeditions"]}

    def site_expeditions_for(who: str) -> set[str]:
        response = world.client.get("/api/v1/reference", headers=world.headers(who))
        return {s["expedition_code"] for s in response.get_json()["sites"]}

    everything = {e["code"] for e in samples.expeditions()}
    assert expeditions_for("recorder") == site_expeditions_for("recorder") == {"ULY-2026"}
    assert expeditions_for("outsider") == site_expeditions_for("outsider") == {"ZHZ-2026"}
    for museum in ("reviewer", "registrar", "admin"):
        assert expeditions_for(museum) == site_expeditions_for(museum) == everything


def test_a_refused_push_writes_nothing(world: World) -> None:
    for who in ("outsider", "reviewer", "registrar"):
        assert outcome(push_a_survey(world, who)) == "200 rejected"
    changes, _ = world.pull_all("admin")
    assert changes == []


def test_a_leader_manages_only_the_expedition_it_leads(world: World) -> None:
    headers = world.headers("leader")
    member = world.client.post(
        "/api/v1/expeditions/ZHZ-2026/members", headers=headers, json={"username": "reviewer"}
    )
    site = world.client.post(
        "/api/v1/expeditions/ZHZ-2026/sites",
        headers=headers,
        json={"code": "NEW", "name": "—", "boundary": NEAR_BASKAMYR},
    )
    assert (outcome(member), outcome(site)) == (403, 403)


# -- tokens that no longer open anything -------------------------------------------------


def assert_unauthenticated(response: TestResponse) -> None:
    assert outcome(response) == 401, response.get_data(as_text=True)
    assert response.get_json()["code"] == "unauthenticated"


def test_an_expired_token_is_refused(world: World) -> None:
    headers = world.headers("recorder")
    assert reference(world, "recorder").status_code == 200
    token = headers["Authorization"].removeprefix("Bearer ")
    with world.runtime.uow.engine.begin() as connection:
        connection.execute(
            update(access_tokens)
            .where(access_tokens.c.token_hash == token_digest(token))
            .values(expires_at=now_utc() - timedelta(minutes=1))
        )
    assert_unauthenticated(reference(world, "recorder"))


def test_a_revoked_token_is_refused_while_the_same_users_other_devices_stay_logged_in(
    world: World,
) -> None:
    other_device = log_in(world, "recorder").get_json()["token"]
    headers = world.headers("recorder")
    assert world.client.delete("/api/v1/auth/token", headers=headers).status_code == 204

    assert_unauthenticated(world.client.get("/api/v1/reference", headers=headers))
    assert_unauthenticated(world.client.delete("/api/v1/auth/token", headers=headers))
    still = world.client.get(
        "/api/v1/reference", headers={"Authorization": f"Bearer {other_device}"}
    )
    assert still.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-token-the-server-issued",
        "Bearer ",
        "Basic cmVjb3JkZXI6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5",
        "bearer",
    ],
)
def test_a_malformed_or_unknown_credential_is_refused(world: World, authorization: str) -> None:
    response = world.client.get("/api/v1/reference", headers={"Authorization": authorization})
    assert_unauthenticated(response)


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(world: World) -> None:
    def attempt(username: str, password: str) -> TestResponse:
        return world.client.post(
            "/api/v1/auth/token",
            json={"username": username, "password": password, "device_name": "tablet"},
        )

    wrong_password = attempt("recorder", PASSWORD + "!")
    unknown_user = attempt("nobody-here", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert_unauthenticated(response)
    assert wrong_password.get_json() == unknown_user.get_json()
    assert wrong_password.headers["WWW-Authenticate"] == unknown_user.headers["WWW-Authenticate"]
