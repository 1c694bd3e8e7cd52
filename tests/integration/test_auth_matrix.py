"""Who may call what: every route against every kind of caller, and tokens that stop working."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from werkzeug.test import TestResponse

from field_server.adapters.tables import access_tokens
from field_server.app import create_app
from field_server.config import ServerConfig
from field_server.services import auth
from field_server.services.auth import now_utc, token_digest
from tests import media_factory, samples
from tests.integration import tus_client as tus
from tests.integration.conftest import PASSWORD, TEST_SCRYPT_COST, World, sample_batch

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
}


def outcome(response: TestResponse) -> Outcome:
    """The status, or a description of how a refusal broke the problem contract."""
    status = response.status_code
    if status in (401, 403):
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
    answers = {
        who: outcome(row.call(world, None if who == "anonymous" else who)) for who in CALLERS
    }
    assert answers == row.expected()


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
