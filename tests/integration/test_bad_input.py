"""Bad input gets a precise 4xx problem, or inside a push a rejected record, and never a 500."""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import jsonschema
from field_core.contract import load_schema
from werkzeug.test import TestResponse

from tests import samples
from tests.integration.conftest import PASSWORD, World, sample_batch

PROBLEM = "application/problem+json"
PUSH = "/api/v1/sync/push"


# -- what a refusal looks like -----------------------------------------------------------


def assert_problem(
    response: TestResponse, status: int, code: str, fields: set[str] | None = None
) -> dict[str, Any]:
    """A problem document (RFC 9457) of ``status`` and ``code`` naming at least ``fields``."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == PROBLEM
    body = response.get_json()
    jsonschema.validate(body, load_schema("problem"))
    assert (body["type"], body["status"], body["code"]) == (
        f"urn:qazba:problem:{code}",
        status,
        code,
    )
    if fields is not None:
        assert fields <= {item["field"] for item in body.get("errors") or []}, body
    return body


def raw_push(
    world: World, body: bytes, who: str = "recorder", content_type: str = "application/json"
) -> TestResponse:
    return world.client.post(PUSH, data=body, content_type=content_type, headers=world.headers(who))


def push_body(records: list[Any], **frame: Any) -> dict[str, Any]:
    return {"device_id": "tablet-7", "batch_id": str(uuid.uuid4()), "records": records, **frame}


def stored(world: World) -> dict[str, dict[str, Any]]:
    """Every record on the server as the museum pulls it, by uuid."""
    changes, _ = world.pull_all("admin")
    return {change["uuid"]: change for change in changes}


# -- records, good and bad ----------------------------------------------------------------

FIND_TEMPLATE = samples.survey_of("ULY-2026").finds[0]


def a_survey(code: str = "ULY-2026") -> dict[str, Any]:
    record = copy.deepcopy(sample_batch(code)[0])
    record["uuid"] = str(uuid.uuid4())
    return record


def a_find(survey_uuid: str, **data: Any) -> dict[str, Any]:
    return samples.fresh_find(FIND_TEMPLATE, survey_uuid=survey_uuid, **data)


def a_find_at(survey_uuid: str, lon: float, lat: float) -> dict[str, Any]:
    return with_position(a_find(survey_uuid), lon=lon, lat=lat)


def with_envelope(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**record, **changes}


def with_position(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    record["data"]["position"].update(changes)
    return record


def revision_of(record: dict[str, Any], base_rev: int, **data: Any) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    changed.update(base_rev=base_rev, rev=record["rev"] + 1)
    changed["data"].update(data)
    return changed


def a_stored_survey(world: World) -> dict[str, Any]:
    survey = a_survey()
    assert world.pushed("recorder", [survey])["results"][0]["status"] == "created"
    return survey


def a_survey_of_an_unknown_expedition(world: World, survey_uuid: str) -> dict[str, Any]:
    record = a_survey()
    record["data"]["expedition_code"] = "NOPE-2026"
    return record


def a_find_whose_survey_is_a_find(world: World, survey_uuid: str) -> dict[str, Any]:
    find = a_find(a_stored_survey(world)["uuid"])
    world.pushed("recorder", [find])
    return a_find(find["uuid"])


# Each case makes its bad record (storing whatever it needs first); ``s`` is the uuid of a good
# survey that travels in the same batch, ahead of every bad record.
BadRecord = Callable[[World, str], Any]

BASKAMYR_LON, BASKAMYR_LAT = 67.0497588, 48.20010703

BAD_RECORDS: dict[str, tuple[BadRecord, str]] = {
    "a record that is not an object": (lambda w, s: 42, ""),
    "an unknown envelope field": (lambda w, s: with_envelope(a_find(s), colour="red"), "colour"),
    "an unknown data field": (lambda w, s: a_find(s, colour="red"), "data.colour"),
    "an unknown position field": (
        lambda w, s: with_position(a_find(s), datum="WGS84"),
        "data.position.datum",
    ),
    "an unknown record type": (lambda w, s: with_envelope(a_find(s), type="sherd"), "type"),
    "an uppercase uuid": (
        lambda w, s: with_envelope(a_find(s), uuid=str(uuid.uuid4()).upper()),
        "uuid",
    ),
    "a base_rev that is a string": (
        lambda w, s: with_envelope(a_find(s), base_rev="0"),
        "base_rev",
    ),
    "a rev of 0": (lambda w, s: with_envelope(a_find(s), rev=0), "rev"),
    "data that is a list": (lambda w, s: with_envelope(a_find(s), data=[]), "data"),
    "a quantity that is a string": (lambda w, s: a_find(s, quantity="3"), "data.quantity"),
    "a fractional quantity": (lambda w, s: a_find(s, quantity=1.5), "data.quantity"),
    "a quantity that is a boolean": (lambda w, s: a_find(s, quantity=True), "data.quantity"),
    "a quantity of 0": (lambda w, s: a_find(s, quantity=0), "data.quantity"),
    "a weight with its unit": (lambda w, s: a_find(s, weight_g="31 g"), "data.weight_g"),
    "photos that are not a list": (lambda w, s: a_find(s, photos="IMG_0042.JPG"), "data.photos"),
    "a material outside the vocabulary": (
        lambda w, s: a_find(s, material="plastic"),
        "data.material",
    ),
    "a date in local notation": (lambda w, s: a_find(s, found_on="29.07.2026"), "data.found_on"),
    "a date that does not exist": (lambda w, s: a_find(s, found_on="2026-02-30"), "data.found_on"),
    "a time without an offset": (
        lambda w, s: a_find(s, recorded_at="2026-07-29T10:11:53"),
        "data.recorded_at",
    ),
    "no position": (lambda w, s: a_find(s, position=None), "data.position"),
    "a latitude that is a string": (
        lambda w, s: with_position(a_find(s), lat="48.2"),
        "data.position.lat",
    ),
    "a one megabyte object name": (
        lambda w, s: a_find(s, object_name="ж" * 1_000_000),
        "data.object_name",
    ),
    "a longitude out of range": (
        lambda w, s: a_find_at(s, 200.0, BASKAMYR_LAT),
        "data.position.lon",
    ),
    "a latitude out of range": (
        lambda w, s: a_find_at(s, BASKAMYR_LON, -95.0),
        "data.position.lat",
    ),
    "longitude and latitude swapped near Baskamyr": (
        lambda w, s: a_find_at(s, BASKAMYR_LAT, BASKAMYR_LON),
        "data.position",
    ),
    "a position of 0, 0": (lambda w, s: a_find_at(s, 0.0, 0.0), "data.position"),
    "a survey of an unknown expedition": (
        a_survey_of_an_unknown_expedition,
        "data.expedition_code",
    ),
    "a find of an unknown expedition": (
        lambda w, s: a_find(s, expedition_code="NOPE-2026"),
        "data.expedition_code",
    ),
    "a survey of an expedition the recorder is not in": (
        lambda w, s: a_survey("ZHZ-2026"),
        "data.expedition_code",
    ),
    "a find whose survey was never pushed": (
        lambda w, s: a_find(str(uuid.uuid4())),
        "data.survey_uuid",
    ),
    "a find whose survey is a find": (a_find_whose_survey_is_a_find, "data.survey_uuid"),
    "a base_rev ahead of the server": (
        lambda w, s: revision_of(a_stored_survey(w), 2, title="Ahead"),
        "base_rev",
    ),
    "a new record with a base_rev": (
        lambda w, s: with_envelope(a_survey(), base_rev=3),
        "base_rev",
    ),
}


def verdict(result: dict[str, Any], field: str) -> str:
    """``field`` when the rejection names it, else what happened instead."""
    if result["status"] != "rejected":
        return f"{result['status']}, not rejected"
    named = [problem["field"] for problem in result["problems"]]
    return field if field in named else f"rejected naming {named}"


def test_each_bad_record_is_rejected_by_name_while_the_good_records_of_its_batch_apply(
    world: World,
) -> None:
    survey = a_survey()
    bad = {name: make(world, survey["uuid"]) for name, (make, _) in BAD_RECORDS.items()}
    good_finds = [a_find(survey["uuid"]) for _ in bad]
    records: list[Any] = [survey]
    for record, find in zip(bad.values(), good_finds, strict=True):
        records += [record, find]
    before = stored(world)

    response = world.push("recorder", records)

    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    answer = response.get_json()
    jsonschema.validate(answer, load_schema("push_response"))
    results = answer["results"]
    assert {r["status"] for r in [results[0], *results[2::2]]} == {"created"}
    bad_results = dict(zip(bad, results[1::2], strict=True))
    assert {
        name: verdict(bad_results[name], field) for name, (_, field) in BAD_RECORDS.items()
    } == {name: field for name, (_, field) in BAD_RECORDS.items()}
    for name, record in bad.items():
        sent = record.get("uuid") if isinstance(record, dict) else None
        assert bad_results[name]["uuid"] == (sent if isinstance(sent, str) else ""), name
        if sent not in before:
            assert bad_results[name]["server_rev"] == 0, name
    after = stored(world)
    assert set(after) - set(before) == {survey["uuid"]} | {f["uuid"] for f in good_finds}
    assert {u: after[u] for u in before} == before


def test_a_rejected_revision_answers_the_server_rev_the_record_stands_at(world: World) -> None:
    # push_response.json: server_rev is "the record's server revision now; the device's next
    # base_rev. 0 when a new record was rejected" - a device that took 0 would lose its place.
    survey = a_stored_survey(world)

    answer = world.pushed("recorder", [revision_of(survey, 2, title="Ahead")])

    [result] = answer["results"]
    assert (result["status"], result["server_rev"]) == ("rejected", 1)


def test_a_survey_moving_to_another_expedition_is_rejected_naming_its_expedition_code(
    world: World,
) -> None:
    survey = a_stored_survey(world)
    before = stored(world)
    moved = revision_of(survey, 1, expedition_code="ZHZ-2026")

    # the admin records for both expeditions, so only the move itself is at fault
    [result] = world.pushed("admin", [moved])["results"]

    assert verdict(result, "data.expedition_code") == "data.expedition_code"
    assert stored(world) == before


def test_a_find_whose_survey_is_rejected_in_the_same_batch_is_rejected_too(world: World) -> None:
    never_stored = with_envelope(a_survey(), base_rev=3)
    orphan = a_find(never_stored["uuid"])

    results = world.pushed("recorder", [never_stored, orphan])["results"]

    assert verdict(results[0], "base_rev") == "base_rev"
    assert verdict(results[1], "data.survey_uuid") == "data.survey_uuid"
    assert stored(world) == {}


# -- the push request itself -------------------------------------------------------------
#
# Each table below is one test: its keys read as the cases, and a failure lists exactly the
# cases whose answer differs, with what came instead.

AS_EXPECTED = "as expected"


def refusal(response: TestResponse, status: int, code: str, fields: set[str] | None = None) -> str:
    """AS_EXPECTED when ``response`` is the problem assert_problem wants, else what it is."""
    try:
        assert_problem(response, status, code, fields)
    except AssertionError:
        body = response.get_json(silent=True) or {}
        named = sorted(item.get("field") for item in body.get("errors") or [])
        return f"{response.status_code} {response.mimetype} {body.get('code')} naming {named}"
    return AS_EXPECTED


def all_as_expected(verdicts: dict[str, str]) -> dict[str, str]:
    return dict.fromkeys(verdicts, AS_EXPECTED)


BAD_FRAMES: dict[str, tuple[Any, set[str]]] = {
    "an unknown field": (push_body([a_survey()], colour="red"), {"colour"}),
    "fields of the wrong types": (
        {"device_id": 7, "batch_id": None, "records": {"0": a_survey()}},
        {"device_id", "batch_id", "records"},
    ),
    "missing fields": ({"records": [a_survey()]}, {"device_id", "batch_id"}),
    "no records": (push_body([]), {"records"}),
    "too many records": (push_body([a_survey()] * 1001), {"records"}),
    "a one megabyte device id": (push_body([a_survey()], device_id="ж" * 1_000_000), {"device_id"}),
    "a list instead of an object": ([a_survey()], {""}),
}


def test_a_bad_push_request_is_refused_whole_with_a_422_naming_its_fields(world: World) -> None:
    verdicts = {
        name: refusal(
            world.client.post(PUSH, json=body, headers=world.headers("recorder")),
            422,
            "invalid_input",
            fields,
        )
        for name, (body, fields) in BAD_FRAMES.items()
    }
    assert verdicts == all_as_expected(verdicts)
    assert stored(world) == {}


MALFORMED_JSON: dict[str, bytes] = {
    "truncated": b'{"device_id": "tablet-7", "batch_id": "b1", "records": [{"type": "sur',
    "NaN": b'{"device_id": "tablet-7", "batch_id": "b1", "records": [{"rev": NaN}]}',
    "Infinity": b'{"device_id": "tablet-7", "batch_id": "b1", "records": [{"rev": -Infinity}]}',
    "a number beyond a double": (
        b'{"device_id": "tablet-7", "batch_id": "b1", "records": [{"rev": 1e400}]}'
    ),
    "trailing garbage": b'{"device_id": "tablet-7", "batch_id": "b1", "records": []} {"x": 1}',
    "invalid UTF-8": '{"device_id": "планшет", "batch_id": "b1", "records": []}'.encode("cp1251"),
    "a duplicate key": b'{"device_id": "a", "device_id": "b", "batch_id": "b1", "records": []}',
    "an unpaired surrogate escape": b'{"device_id": "\\ud800", "batch_id": "b1", "records": []}',
    "nesting 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "an empty body": b"",
}


def test_a_push_body_that_is_not_strict_json_is_a_400_problem(world: World) -> None:
    verdicts = {
        name: refusal(raw_push(world, body), 400, "malformed_json")
        for name, body in MALFORMED_JSON.items()
    }
    assert verdicts == all_as_expected(verdicts)
    assert stored(world) == {}


def test_every_json_endpoint_refuses_malformed_json_with_a_400_problem(world: World) -> None:
    callers = {
        "/api/v1/auth/token": None,
        "/api/v1/expeditions": "admin",
        "/api/v1/expeditions/ULY-2026/members": "admin",
        "/api/v1/expeditions/ULY-2026/sites": "admin",
        "/api/v1/expeditions/ULY-2026/number-blocks": "recorder",
    }
    verdicts = {
        path: refusal(
            world.client.post(
                path,
                data=b'{"username": "recorder", ',
                content_type="application/json",
                headers=world.headers(who),
            ),
            400,
            "malformed_json",
        )
        for path, who in callers.items()
    }
    assert verdicts == all_as_expected(verdicts)


def test_a_push_body_not_declared_as_json_is_a_415_problem(world: World) -> None:
    body = json.dumps(push_body([a_survey()])).encode()
    verdicts = {
        content_type or "no Content-Type": refusal(
            raw_push(world, body, content_type=content_type), 415, "unsupported_media_type"
        )
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        )
    }
    assert verdicts == all_as_expected(verdicts)
    assert stored(world) == {}


def test_json_with_a_charset_parameter_is_still_json(world: World) -> None:
    body = json.dumps(push_body([a_survey()])).encode()

    response = raw_push(world, body, content_type="application/json; charset=utf-8")

    assert response.status_code == 200, response.get_data(as_text=True)


# -- bodies over the limit ---------------------------------------------------------------


def test_a_body_announced_over_the_limit_is_a_413_problem_and_is_not_read(world: World) -> None:
    world.app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    stream = io.BytesIO(json.dumps(push_body([a_survey()])).encode())

    # The test client measures a stream it is given, so the claim goes into the environ.
    response = world.client.post(
        PUSH,
        content_type="application/json",
        headers=world.headers("recorder"),
        environ_overrides={"wsgi.input": stream, "CONTENT_LENGTH": str(2 * 1024**3)},
    )

    assert_problem(response, 413, "payload_too_large")
    assert stream.tell() == 0
    assert stored(world) == {}


def test_a_body_over_the_limit_is_a_413_problem(world: World) -> None:
    world.app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    big = a_find(str(uuid.uuid4()), description="ж" * 40_000)  # 80 kB of UTF-8

    response = world.push("recorder", [big])

    assert_problem(response, 413, "payload_too_large")
    assert stored(world) == {}


# -- the other endpoints -----------------------------------------------------------------

BOUNDARY = {
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


def ring(*corners: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[*corners, corners[0]]]}


def refusals_of(
    world: World, path: str, who: str | None, cases: dict[str, tuple[dict[str, Any], set[str]]]
) -> dict[str, str]:
    return {
        name: refusal(
            world.client.post(path, json=body, headers=world.headers(who)),
            422,
            "invalid_input",
            fields,
        )
        for name, (body, fields) in cases.items()
    }


def test_a_bad_login_is_a_422_problem_naming_the_fields(world: World) -> None:
    verdicts = refusals_of(
        world,
        "/api/v1/auth/token",
        None,
        {
            "a numeric username and no device name": (
                {"username": 42, "password": PASSWORD},
                {"username", "device_name"},
            ),
            "an unknown field": (
                {
                    "username": "recorder",
                    "password": PASSWORD,
                    "device_name": "tablet",
                    "remember": True,
                },
                {"remember"},
            ),
        },
    )
    assert verdicts == all_as_expected(verdicts)


def test_a_bad_expedition_is_a_422_problem_naming_the_fields(world: World) -> None:
    good = {"code": "NEW-2027", "title": "Жаңа барлау", "year": 2027}
    verdicts = refusals_of(
        world,
        "/api/v1/expeditions",
        "admin",
        {
            "fields of the wrong types": (
                {"code": 26, "title": [], "year": "2026"},
                {"code", "title", "year"},
            ),
            "an unknown field": (good | {"leader": "admin"}, {"leader"}),
            "a code with a space": (good | {"code": "NEW 2027"}, {"code"}),
            "a find number format without {n}": (
                good | {"find_number_format": "N-{m}"},
                {"find_number_format"},
            ),
            "an accuracy threshold that is a string": (
                good | {"accuracy_threshold_m": "5"},
                {"accuracy_threshold_m"},
            ),
        },
    )
    assert verdicts == all_as_expected(verdicts)


def test_a_bad_member_is_a_422_problem_naming_the_fields(world: World) -> None:
    verdicts = refusals_of(
        world,
        "/api/v1/expeditions/ULY-2026/members",
        "admin",
        {
            "a username that is a list": ({"username": ["reviewer"]}, {"username"}),
            "a leader flag that is a string": (
                {"username": "reviewer", "leader": "yes"},
                {"leader"},
            ),
            "a leader flag that is a number": ({"username": "registrar", "leader": 1}, {"leader"}),
        },
    )
    assert verdicts == all_as_expected(verdicts)


def test_a_bad_number_block_request_is_a_422_problem_naming_the_fields(world: World) -> None:
    verdicts = refusals_of(
        world,
        "/api/v1/expeditions/ULY-2026/number-blocks",
        "recorder",
        {
            "a count that is a string": ({"device_id": "tablet-7", "count": "10"}, {"count"}),
            "a count of 0": ({"device_id": "tablet-7", "count": 0}, {"count"}),
            "a count over the block size": ({"device_id": "tablet-7", "count": 10_001}, {"count"}),
            "no device id": ({"count": 10}, {"device_id"}),
        },
    )
    assert verdicts == all_as_expected(verdicts)


def test_a_bad_site_is_a_422_problem_naming_the_fields(world: World) -> None:
    good = {"code": "NEW", "name": "Жаңа қоныс", "boundary": BOUNDARY}
    verdicts = refusals_of(
        world,
        "/api/v1/expeditions/ULY-2026/sites",
        "admin",
        {
            "a code with a space": (good | {"code": "NEW SITE"}, {"code"}),
            "a boundary in WKT": (
                good | {"boundary": "POLYGON((67 48, 67.1 48, 67 48.1, 67 48))"},
                {"boundary"},
            ),
            "a boundary that is a point": (
                good | {"boundary": {"type": "Point", "coordinates": [67.04, 48.19]}},
                {"boundary"},
            ),
            "a boundary outside WGS 84": (
                good | {"boundary": ring([48.19, 167.04], [48.19, 167.05], [48.2, 167.05])},
                {"boundary"},
            ),
            "a boundary with a coordinate too big for a double": (
                good | {"boundary": ring([10**400, 48.19], [67.05, 48.19], [67.05, 48.2])},
                {"boundary"},
            ),
            "a boundary whose coordinates are strings": (
                good
                | {"boundary": ring(["67.04", "48.19"], ["67.05", "48.19"], ["67.05", "48.2"])},
                {"boundary"},
            ),
        },
    )
    assert verdicts == all_as_expected(verdicts)


def test_an_unknown_expedition_or_user_is_a_404_problem(world: World) -> None:
    cases = {
        "members of an unknown expedition": (
            "/api/v1/expeditions/NOPE-2026/members",
            {"username": "reviewer"},
        ),
        "a site of an unknown expedition": (
            "/api/v1/expeditions/NOPE-2026/sites",
            {"code": "NEW", "name": "Жаңа қоныс", "boundary": BOUNDARY},
        ),
        "numbers of an unknown expedition": (
            "/api/v1/expeditions/NOPE-2026/number-blocks",
            {"device_id": "tablet-7"},
        ),
        "an unknown member": ("/api/v1/expeditions/ULY-2026/members", {"username": "nobody"}),
    }
    verdicts = {
        name: refusal(
            world.client.post(path, json=body, headers=world.headers("admin")), 404, "not_found"
        )
        for name, (path, body) in cases.items()
    }
    assert verdicts == all_as_expected(verdicts)


def test_a_second_expedition_with_the_same_code_is_a_409_problem(world: World) -> None:
    body = {"code": "ULY-2026", "title": "Again", "year": 2026}

    response = world.client.post("/api/v1/expeditions", json=body, headers=world.headers("admin"))

    assert_problem(response, 409, "already_exists")


# -- pull ---------------------------------------------------------------------------------

BAD_PULL_QUERIES: dict[str, str] = {
    "since=-1": "since",
    "since=abc": "since",
    "since=1.5": "since",
    "since=99999999999999999999999": "since",
    "limit=0": "limit",
    "limit=abc": "limit",
    "limit=-5": "limit",
    "limit=5001": "limit",
    "limit=%C2%B2": "limit",  # "²": str.isdigit() says yes, int() says no
}


def test_a_bad_pull_query_is_a_400_problem_naming_the_parameter(world: World) -> None:
    headers = world.headers("recorder")
    verdicts = {
        query: refusal(
            world.client.get(f"/api/v1/sync/pull?{query}", headers=headers),
            400,
            "invalid_query",
            {field},
        )
        for query, field in BAD_PULL_QUERIES.items()
    }
    assert verdicts == all_as_expected(verdicts)
