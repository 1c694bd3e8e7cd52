"""The JSON Schema files, the marshmallow schemas and the fast validator give the same verdicts."""

from __future__ import annotations

import copy
import datetime
import json
import random
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from field_core.contract import (
    LANGUAGES,
    MATERIAL_CODES,
    SCHEMA_NAMES,
    load_schema,
    material_label,
)
from jsonschema import Draft202012Validator, FormatChecker
from marshmallow import Schema, ValidationError

from field_core import wire
from field_core.collect.submission import MAX_SUBMISSION_BYTES
from field_core.validation import _fast, _to_draft07, validate_record, validate_record_data

RECORD_TYPES = ("survey", "find", "track", "photo", "submission")
MARSHMALLOW: dict[str, type[Schema]] = {
    "survey": wire.SurveyData,
    "find": wire.FindData,
    "track": wire.TrackData,
    "photo": wire.PhotoData,
    "submission": wire.SubmissionData,
    "record": wire.RecordEnvelope,
    "push_request": wire.PushRequest,
    "push_response": wire.PushResponse,
    "pull_response": wire.PullResponse,
    "problem": wire.Problem,
}

SURVEY_UUID = "0190f2a4-7c1e-7a3b-9d2e-4f5a6b7c8d9e"
FIND_UUID = "6f1c2b9e-3d4a-4e8f-9a1b-2c3d4e5f6a7b"
SHA_A = "a3f5" * 16
SHA_B = "0b1c" * 16
AT = "2026-07-14T10:32:05+05:00"

SURVEY = {
    "expedition_code": "ULY-2026",
    "title": "Ұлытау өңірін барлау / Разведка в Улытауском районе",
    "team": ["Әйгерім Сәрсенова", "Иван Петров", "Jane Smith"],
    "started_on": "2026-07-01",
    "ended_on": "2026-08-15",
    "notes": "Қазба жұмыстары жоспар бойынша. Работы по плану.",
}
FIND = {
    "survey_uuid": SURVEY_UUID,
    "expedition_code": "ULY-2026",
    "site_code": "BSK-1",
    "trench": "Қ-2",
    "context": "C104",
    "find_number": "ULY-26-0042",
    "kind": "small_find",
    "material": "copper_alloy",
    "object_name": "Қола жебе ұшы",
    "description": "Трёхлопастной втульчатый наконечник стрелы.",
    "quantity": 1,
    "weight_g": 4.2,
    "length_mm": 38.5,
    "width_mm": 11,
    "height_mm": 9.1,
    "condition": "жақсы / хорошее",
    "position": {
        "lon": 67.7142,
        "lat": 47.8031,
        "elevation_m": 412.3,
        "depth_m": 0.45,
        "horizontal_accuracy_m": 0.02,
        "vertical_accuracy_m": 0.03,
        "method": "total_station",
    },
    "found_on": "2026-07-14",
    "recorded_at": AT,
    "recorded_by": "Әйгерім Сәрсенова",
    "photos": [SHA_A, SHA_B],
    "notes": None,
}
FIND_REQUIRED = {key: FIND[key] for key in load_schema("find")["required"] if key != "position"} | {
    "position": {"lon": 67.7142, "lat": 47.8031, "method": "gnss"}
}
TRACK = {
    "survey_uuid": SURVEY_UUID,
    "kind": "track",
    "name": "Күнделікті маршрут 14.07",
    "source_file": "Маршрут_2026-07-14.gpx",
    "points": [
        [67.71, 47.80, 412.0, "2026-07-14T05:32:05Z", None],
        [67.72, 47.81, None, "2026-07-14T05:33:05.125Z"],
        [67.73, 47.82, 415.5],
        [67.74, 47.83],
        [67.75, 47.84, None, None, "Обо"],
    ],
}
PHOTO = {
    "survey_uuid": SURVEY_UUID,
    "sha256": SHA_A,
    "bytes": 2_483_112,
    "media_type": "image/jpeg",
    "width": 4000,
    "height": 3000,
    "taken_at": "2026-07-14T10:31:40+05:00",
    "position": {
        "lon": 67.7142,
        "lat": 47.8031,
        "elevation_m": 410.0,
        "horizontal_accuracy_m": 4.5,
    },
    "position_source": "exif",
    "caption": "Жебе ұшы, жоғарыдан / Наконечник, вид сверху",
    "find_uuids": [FIND_UUID],
}
PHOTO_REQUIRED = {key: PHOTO[key] for key in load_schema("photo")["required"]}
INSTANCE_ID = "3c9d2e1f-8a7b-4c6d-9e0f-1a2b3c4d5e6f"
INSTANCE_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<data id="qazba_find" version="2026071401">'
    "<object_name>Қола жебе ұшы</object_name><material>copper_alloy</material>"
    f"<meta><instanceID>uuid:{INSTANCE_ID}</instanceID></meta></data>"
)
SUBMISSION = {
    "expedition_code": "ULY-2026",
    "survey_uuid": SURVEY_UUID,
    "instance_id": INSTANCE_ID,
    "find_uuid": INSTANCE_ID,
    "received_at": AT,
    "xml": INSTANCE_XML,
}
RECORD = {"type": "find", "uuid": FIND_UUID, "base_rev": 0, "rev": 1, "data": FIND}
PUSH_REQUEST = {"device_id": "tablet-7", "batch_id": "b-2026-07-14-01", "records": [RECORD]}
FLAG = {
    "code": "outside_site",
    "detail": "2.40 m outside site BSK-1's boundary",
    "distance_m": 2.4,
    "other_uuid": None,
}
PUSH_RESPONSE = {
    "batch_id": "b-2026-07-14-01",
    "results": [
        {
            "uuid": FIND_UUID,
            "status": "created",
            "server_rev": 1,
            "problems": None,
            "flags": [FLAG],
        },
        {
            "uuid": "not a uuid",
            "status": "rejected",
            "server_rev": 0,
            "problems": [{"field": "uuid", "message": "must be a UUID"}],
        },
    ],
    "cursor": 118,
}
STATE = {
    "status": "accessioned",
    "register_number": "КП 12/3",
    "merged_into": None,
    "flags": [FLAG],
    "conflicts": [
        {
            "id": 7,
            "server_rev": 2,
            "fields": ["object_name", "position.lat"],
            "data": FIND,
            "device_id": "tablet-7",
            "received_at": "2026-07-15T08:00:00Z",
        }
    ],
}
PULL_RESPONSE = {
    "changes": [
        {
            "seq": 119,
            "type": "find",
            "uuid": FIND_UUID,
            "server_rev": 3,
            "data": FIND,
            "state": STATE,
        }
    ],
    "cursor": 119,
    "more": False,
}
PROBLEM = {
    "type": "urn:qazba:problem:validation_failed",
    "title": "Invalid input",
    "status": 422,
    "detail": "2 fields are invalid",
    "instance": "/api/v1/sync/push",
    "code": "validation_failed",
    "errors": [{"field": "data.position.lat", "message": "must be at most 90"}],
}
VALID = {
    "survey": SURVEY,
    "find": FIND,
    "track": TRACK,
    "photo": PHOTO,
    "submission": SUBMISSION,
    "record": RECORD,
    "push_request": PUSH_REQUEST,
    "push_response": PUSH_RESPONSE,
    "pull_response": PULL_RESPONSE,
    "problem": PROBLEM,
}

DELETE = object()


def changed(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy with members replaced (or removed with DELETE); "__" walks into objects/lists."""
    result = copy.deepcopy(document)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
    return result


@dataclass(frozen=True)
class Case:
    says: str
    schema: str
    document: Any
    valid: bool


def ok(schema: str, says: str, document: Any = None, **changes: Any) -> Case:
    """A document the contract accepts: VALID[schema] with changes, or the document given."""
    return Case(says, schema, _document(schema, document, changes), True)


def bad(schema: str, says: str, document: Any = None, **changes: Any) -> Case:
    """A document the contract rejects: VALID[schema] with changes, or the document given."""
    return Case(says, schema, _document(schema, document, changes), False)


def _document(schema: str, document: Any, changes: dict[str, Any]) -> Any:
    return changed(VALID[schema], **changes) if document is None else document


CASES = [
    # survey
    ok("survey", "a survey in Kazakh, Russian and English is valid"),
    ok("survey", "a survey without ended_on and notes is valid", ended_on=DELETE, notes=DELETE),
    ok("survey", "a survey with null ended_on and notes is valid", ended_on=None, notes=None),
    ok("survey", "a survey with an empty team is valid", team=[]),
    bad("survey", "a survey without a title is rejected", title=DELETE),
    bad("survey", "a survey with a null title is rejected", title=None),
    bad("survey", "a survey with an empty title is rejected", title=""),
    bad("survey", "a lower-case expedition code is rejected", expedition_code="uly-2026"),
    bad("survey", "a Cyrillic expedition code is rejected", expedition_code="ҰЛЫ-2026"),
    bad(
        "survey",
        "an expedition code with a trailing newline is rejected",
        expedition_code="ULY-2026\n",
    ),
    bad("survey", "an expedition code of 33 characters is rejected", expedition_code="U" * 33),
    ok("survey", "an expedition code of 32 characters is valid", expedition_code="U" * 32),
    bad("survey", "a team given as one string is rejected", team="Әйгерім"),
    bad("survey", "a team member with an empty name is rejected", team=[""]),
    bad("survey", "a team of 101 people is rejected", team=[f"p{i}" for i in range(101)]),
    bad("survey", "started_on 2026-02-30 is rejected", started_on="2026-02-30"),
    ok("survey", "started_on 2024-02-29 (a leap day) is valid", started_on="2024-02-29"),
    bad("survey", "started_on 2100-02-29 (not a leap year) is rejected", started_on="2100-02-29"),
    ok("survey", "started_on 2000-02-29 (a leap year) is valid", started_on="2000-02-29"),
    bad("survey", "started_on without leading zeros is rejected", started_on="2026-7-1"),
    bad("survey", "started_on in Arabic-Indic digits is rejected", started_on="٢٠٢٦-٠٧-٠١"),
    bad("survey", "started_on as a date-time is rejected", started_on=AT),
    bad("survey", "started_on with a trailing newline is rejected", started_on="2026-07-01\n"),
    bad("survey", "started_on in year 0000 is rejected", started_on="0000-01-01"),
    ok("survey", "notes of exactly 10000 characters are valid", notes="Қ" * 10_000),
    bad("survey", "notes over 10000 characters are rejected", notes="Қ" * 10_001),
    bad("survey", "a title holding U+0000 is rejected", title="Ұлытау\x00"),
    bad("survey", "an unknown member in a survey is rejected", leader="Әйгерім"),
    bad("survey", "survey data that is an array is rejected", document=[SURVEY]),
    # find
    ok("find", "a complete find is valid"),
    ok("find", "a find with only the required members is valid", document=FIND_REQUIRED),
    ok(
        "find",
        "a find with every optional member null is valid",
        **dict.fromkeys([key for key in FIND if key not in load_schema("find")["required"]], None),
    ),
    bad("find", "a find without a position is rejected", position=DELETE),
    bad("find", "a find with a null position is rejected", position=None),
    bad("find", "a position without a method is rejected", position__method=DELETE),
    bad("find", "quantity as the string '1' is rejected", quantity="1"),
    bad("find", "quantity true is rejected", quantity=True),
    bad("find", "quantity 1.5 is rejected", quantity=1.5),
    ok("find", "quantity 2.0 counts as an integer", quantity=2.0),
    bad("find", "quantity 0 is rejected", quantity=0),
    bad("find", "quantity over a million is rejected", quantity=1_000_001),
    bad("find", "quantity null is rejected", quantity=None),
    bad("find", "a latitude given as a string is rejected", position__lat="47.8"),
    bad("find", "a latitude of 90.0001 is rejected", position__lat=90.0001),
    bad("find", "a latitude of true is rejected", position__lat=True),
    ok("find", "a longitude of exactly -180 is valid", position__lon=-180),
    bad("find", "a longitude of 180.5 is rejected", position__lon=180.5),
    bad("find", "a huge integer longitude is rejected", position__lon=10**400),
    bad("find", "an elevation of -501 m is rejected", position__elevation_m=-501),
    ok("find", "a null depth is valid", position__depth_m=None),
    bad("find", "a negative accuracy is rejected", position__horizontal_accuracy_m=-1),
    bad("find", "an unknown position method is rejected", position__method="gps"),
    bad("find", "an unknown member in a position is rejected", position__crs="EPSG:4326"),
    bad("find", "a weight given as a string is rejected", weight_g="4.2"),
    bad("find", "a weight of false is rejected", weight_g=False),
    ok("find", "a weight of 0 is valid", weight_g=0),
    bad("find", "a negative length is rejected", length_mm=-0.1),
    bad("find", "the material 'bronze' is rejected", material="bronze"),
    bad("find", "a material in the wrong case is rejected", material="Ceramic"),
    bad("find", "an unknown kind is rejected", kind="single"),
    bad("find", "recorded_at without an offset is rejected", recorded_at="2026-07-14T10:32:05"),
    ok("find", "recorded_at in UTC with Z is valid", recorded_at="2026-07-14T05:32:05Z"),
    ok(
        "find",
        "recorded_at with fractional seconds is valid",
        recorded_at="2026-07-14T10:32:05.123456+05:00",
    ),
    bad(
        "find",
        "recorded_at with a +0500 offset is rejected",
        recorded_at="2026-07-14T10:32:05+0500",
    ),
    bad("find", "recorded_at with a lower-case t is rejected", recorded_at="2026-07-14t10:32:05Z"),
    bad("find", "recorded_at at 24:00 is rejected", recorded_at="2026-07-14T24:00:00Z"),
    bad("find", "recorded_at on a leap second is rejected", recorded_at="2026-06-30T23:59:60Z"),
    bad("find", "recorded_at on 2026-02-30 is rejected", recorded_at="2026-02-30T10:00:00Z"),
    bad("find", "recorded_at given as a date is rejected", recorded_at="2026-07-14"),
    bad("find", "found_on 2026-02-30 is rejected", found_on="2026-02-30"),
    bad("find", "an upper-case survey uuid is rejected", survey_uuid=SURVEY_UUID.upper()),
    bad(
        "find",
        "a survey uuid without hyphens is rejected",
        survey_uuid=SURVEY_UUID.replace("-", ""),
    ),
    bad("find", "a survey uuid in braces is rejected", survey_uuid="{" + SURVEY_UUID + "}"),
    bad("find", "a survey uuid given as a number is rejected", survey_uuid=12345),
    bad("find", "an upper-case photo sha256 is rejected", photos=[SHA_A.upper()]),
    bad("find", "a photo sha256 of 63 digits is rejected", photos=[SHA_A[:63]]),
    bad("find", "the same photo listed twice is rejected", photos=[SHA_A, SHA_A]),
    bad("find", "201 photos are rejected", photos=[f"{i:064x}" for i in range(201)]),
    ok("find", "no photos is valid", photos=[]),
    bad("find", "a find without photos is rejected", photos=DELETE),
    bad("find", "an unknown member in a find is rejected", colour="green"),
    ok("find", "an object name of 500 Kazakh letters is valid", object_name="Ә" * 500),
    bad("find", "an object name of 501 letters is rejected", object_name="Ә" * 501),
    bad("find", "an object name with an unpaired surrogate is rejected", object_name="жебе\ud800"),
    ok("find", "an object name with an emoji is valid", object_name="жебе 🏹"),
    bad("find", "an empty site code is rejected", site_code=""),
    bad("find", "a trench of 65 characters is rejected", trench="T" * 65),
    ok("find", "an empty description is valid", description=""),
    # track
    ok("track", "a track with points of 2 to 5 items is valid"),
    ok("track", "a track without points is valid", points=[]),
    ok("track", "a track without a name is valid", name=DELETE),
    ok(
        "track",
        "a point with every optional item null is valid",
        points=[[1.5, 2.5, None, None, None]],
    ),
    bad("track", "a point of 1 item is rejected", points=[[67.71]]),
    bad("track", "a point of 6 items is rejected", points=[[67.71, 47.8, 1.0, AT, "a", 1]]),
    bad("track", "a point with a string longitude is rejected", points=[["67.71", 47.8]]),
    bad("track", "a point with a null longitude is rejected", points=[[None, 47.8]]),
    bad("track", "a point with latitude 91 is rejected", points=[[67.71, 91]]),
    bad("track", "a point with a boolean elevation is rejected", points=[[67.71, 47.8, True]]),
    bad(
        "track",
        "a point time without an offset is rejected",
        points=[[67.71, 47.8, None, "2026-07-14T10:32:05"]],
    ),
    bad(
        "track",
        "a point name over 500 characters is rejected",
        points=[[67.71, 47.8, None, None, "x" * 501]],
    ),
    bad("track", "a point given as an object is rejected", points=[{"lon": 67.71, "lat": 47.8}]),
    bad("track", "a bad point after good ones is rejected", points__3__0="67.74"),
    bad("track", "an unknown track kind is rejected", kind="trail"),
    bad("track", "a track without a source file is rejected", source_file=DELETE),
    # photo
    ok("photo", "a geotagged photo is valid"),
    ok("photo", "a photo with only the required members is valid", document=PHOTO_REQUIRED),
    ok("photo", "a photo with a null position is valid", position=None, position_source="none"),
    bad("photo", "a photo position with a method is rejected", position__method="gnss"),
    bad("photo", "a photo position without a latitude is rejected", position__lat=DELETE),
    bad("photo", "a photo of 0 bytes is rejected", bytes=0),
    bad("photo", "a photo of 1.5 bytes is rejected", bytes=1.5),
    bad("photo", "a photo size beyond 2**53 - 1 is rejected", bytes=2**53),
    bad("photo", "a width given as a string is rejected", width="4000"),
    bad("photo", "a height of true is rejected", height=True),
    bad("photo", "a GIF photo is rejected", media_type="image/gif"),
    bad("photo", "the same find listed twice is rejected", find_uuids=[FIND_UUID, FIND_UUID]),
    bad("photo", "an upper-case find uuid is rejected", find_uuids=[FIND_UUID.upper()]),
    bad("photo", "taken_at without an offset is rejected", taken_at="2026-07-14T10:31:40"),
    bad("photo", "an unknown position source is rejected", position_source="gps"),
    bad("photo", "an upper-case photo sha256 is rejected by photo", sha256=SHA_A.upper()),
    # submission
    ok("submission", "a phone's submission with its find is valid"),
    ok("submission", "a submission that made no find is valid", find_uuid=None),
    ok("submission", "an XML of exactly 1048576 characters is valid", xml="x" * 1_048_576),
    bad("submission", "an XML of 1048577 characters is rejected", xml="x" * 1_048_577),
    bad("submission", "an empty XML is rejected", xml=""),
    bad("submission", "an XML given as base64 bytes in a list is rejected", xml=[60, 100]),
    bad("submission", "an XML holding U+0000 is rejected", xml=INSTANCE_XML + "\x00"),
    bad("submission", "an XML with an unpaired surrogate is rejected", xml="<a>\udc80</a>"),
    bad(
        "submission",
        "an instance id with Collect's uuid: prefix is rejected",
        instance_id=f"uuid:{INSTANCE_ID}",
    ),
    bad("submission", "an upper-case instance id is rejected", instance_id=INSTANCE_ID.upper()),
    bad("submission", "a submission without find_uuid is rejected", find_uuid=DELETE),
    bad("submission", "a find uuid given as a number is rejected", find_uuid=7),
    bad(
        "submission",
        "received_at without an offset is rejected",
        received_at="2026-07-14T10:32:05",
    ),
    bad("submission", "a lower-case expedition code is rejected", expedition_code="uly-2026"),
    bad("submission", "a submission without a survey is rejected", survey_uuid=DELETE),
    bad("submission", "an unknown member in a submission is rejected", key_id=3),
    # record envelope
    ok("record", "a record envelope is valid"),
    ok(
        "record",
        "a submission record is valid",
        type="submission",
        uuid=INSTANCE_ID,
        data=SUBMISSION,
    ),
    ok("record", "a record whose rev is 3.0 is valid", rev=3.0),
    bad("record", "a negative base_rev is rejected", base_rev=-1),
    bad("record", "rev 0 is rejected", rev=0),
    bad("record", "rev beyond 2**31 - 1 is rejected", rev=2**31),
    bad("record", "base_rev as a string is rejected", base_rev="0"),
    bad("record", "an unknown record type is rejected", type="note"),
    bad("record", "record data that is an array is rejected", data=[]),
    bad("record", "an upper-case record uuid is rejected", uuid=FIND_UUID.upper()),
    bad("record", "an envelope with an extra member is rejected", server_rev=1),
    bad("record", "an envelope without data is rejected", data=DELETE),
    # push request
    ok("push_request", "a push request is valid"),
    ok(
        "push_request",
        "a push request holding a broken record is valid (the record is rejected alone)",
        records=[{"uuid": 5}],
    ),
    bad("push_request", "a push request without records is rejected", records=[]),
    bad("push_request", "a push request of 1001 records is rejected", records=[{}] * 1001),
    bad("push_request", "a push request whose record is a string is rejected", records=["find"]),
    bad("push_request", "an empty device id is rejected", device_id=""),
    bad("push_request", "a device id of 129 characters is rejected", device_id="d" * 129),
    bad("push_request", "a push request without a batch id is rejected", batch_id=DELETE),
    # push response
    ok("push_response", "a push response with a flag and a rejection is valid"),
    ok(
        "push_response",
        "a result without problems and flags is valid",
        results__0__problems=DELETE,
        results__0__flags=DELETE,
    ),
    ok(
        "push_response",
        "a flag with members of its own is valid",
        results__0__flags__0__site_code="BSK-1",
    ),
    bad("push_response", "an unknown result status is rejected", results__0__status="accepted"),
    bad("push_response", "a negative server_rev is rejected", results__0__server_rev=-1),
    bad(
        "push_response", "a flag without a detail is rejected", results__0__flags__0__detail=DELETE
    ),
    bad(
        "push_response",
        "a flag code that is not snake_case is rejected",
        results__0__flags__0__code="Outside Site",
    ),
    bad(
        "push_response",
        "a flag distance given as a string is rejected",
        results__0__flags__0__distance_m="2.4",
    ),
    bad(
        "push_response",
        "a problem item with an extra member is rejected",
        results__1__problems__0__code="x",
    ),
    bad("push_response", "a push response without a cursor is rejected", cursor=DELETE),
    # pull response
    ok("pull_response", "a pull response with an accessioned find is valid"),
    ok("pull_response", "a pull response without changes is valid", changes=[], more=False),
    ok(
        "pull_response",
        "a state with null status and number is valid",
        changes__0__state__status=None,
        changes__0__state__register_number=None,
    ),
    bad(
        "pull_response",
        "a state without a status member is rejected",
        changes__0__state__status=DELETE,
    ),
    bad("pull_response", "an unknown find status is rejected", changes__0__state__status="deleted"),
    bad("pull_response", "more given as the string 'true' is rejected", more="true"),
    bad("pull_response", "more given as 1 is rejected", more=1),
    bad("pull_response", "seq 0 is rejected", changes__0__seq=0),
    bad(
        "pull_response",
        "a conflict received without an offset is rejected",
        changes__0__state__conflicts__0__received_at="2026-07-15T08:00:00",
    ),
    bad(
        "pull_response",
        "an upper-case merged_into is rejected",
        changes__0__state__merged_into=FIND_UUID.upper(),
    ),
    # problem
    ok("problem", "a problem with per-field errors is valid"),
    ok(
        "problem",
        "a problem without detail, instance and errors is valid",
        detail=DELETE,
        instance=DELETE,
        errors=DELETE,
    ),
    ok("problem", "a problem with null detail and errors is valid", detail=None, errors=None),
    ok("problem", "a problem of type about:blank is valid", type="about:blank"),
    bad("problem", "a problem with status 200 is rejected", status=200),
    bad("problem", "a problem with status 600 is rejected", status=600),
    bad("problem", "a problem type that is not a URI is rejected", type="not a uri"),
    bad("problem", "a problem code with spaces is rejected", code="Bad Request"),
    bad("problem", "a problem without a title is rejected", title=DELETE),
    bad("problem", "a problem with an extra member is rejected", retry=True),
]


@cache
def reference(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name), format_checker=FormatChecker())


def marshmallow_accepts(name: str, document: Any) -> bool:
    try:
        MARSHMALLOW[name]().load(document)
    except ValidationError:
        return False
    return True


def test_the_table_covers_every_message_with_valid_and_invalid_documents() -> None:
    assert len(CASES) >= 60
    for name in MARSHMALLOW:
        verdicts = {case.valid for case in CASES if case.schema == name}
        assert verdicts == {True, False}, name


@pytest.mark.parametrize("case", CASES, ids=[case.says for case in CASES])
def test_json_schema_and_marshmallow_agree(case: Case) -> None:
    assert reference(case.schema).is_valid(case.document) is case.valid
    assert marshmallow_accepts(case.schema, case.document) is case.valid


FAST_CASES = [case for case in CASES if case.schema in (*RECORD_TYPES, "record")]


@pytest.mark.parametrize("case", FAST_CASES, ids=[case.says for case in FAST_CASES])
def test_the_compiled_fast_path_agrees(case: Case) -> None:
    before = copy.deepcopy(case.document)
    assert (_fast(case.schema)(case.document) is not None) is case.valid
    assert case.document == before


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case.schema in RECORD_TYPES],
    ids=[case.says for case in CASES if case.schema in RECORD_TYPES],
)
def test_validate_record_data_agrees_and_normalises_like_marshmallow(case: Case) -> None:
    data, problems = validate_record_data(case.schema, case.document)
    assert (data is not None) is case.valid
    if case.valid:
        assert problems == []
        assert data == MARSHMALLOW[case.schema]().load(case.document)
        assert json.dumps(data, allow_nan=False)
    else:
        assert problems
        assert all(p["field"] == "data" or p["field"].startswith("data.") for p in problems)
        assert all(p["message"] for p in problems)


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case.schema == "record"],
    ids=[case.says for case in CASES if case.schema == "record"],
)
def test_validate_record_agrees_on_the_envelope(case: Case) -> None:
    record, problems = validate_record(case.document)
    assert (record is not None) is case.valid
    assert bool(problems) is not case.valid


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type", ())
    return {kind} if isinstance(kind, str) else set(kind)


def _assert_mirrors(schema: Schema, node: dict[str, Any], path: str) -> None:
    """The marshmallow schema names the same members, in order, with the same rules."""
    assert list(schema.fields) == list(node["properties"]), path
    unknown = "include" if node.get("additionalProperties") is True else "raise"
    assert schema.unknown == unknown, path
    for name, field in schema.fields.items():
        prop = node["properties"][name]
        where = f"{path}.{name}"
        assert field.required is (name in node.get("required", [])), where
        assert field.allow_none is ("null" in _types(prop)), where
        _assert_field_mirrors(field, prop, where)


def _assert_field_mirrors(field: Any, prop: dict[str, Any], where: str) -> None:
    types = _types(prop) - {"null"}
    if isinstance(field, wire.Nested):
        assert types == {"object"}, where
        _assert_mirrors(field.schema, prop, where)
    elif isinstance(field, wire.List):
        assert types == {"array"}, where
        assert field.min_items == prop.get("minItems", 0), where
        assert field.max_items == prop.get("maxItems"), where
        assert field.unique is prop.get("uniqueItems", False), where
        _assert_field_mirrors(field.inner, prop["items"], f"{where}[]")
    elif isinstance(field, wire.Points):
        assert types == {"array"} and field.max_items == prop["maxItems"], where
        point = prop["items"]
        assert (point["minItems"], point["maxItems"], len(point["items"])) == (2, 5, 5), where
    elif isinstance(field, wire.String):
        assert types == {"string"}, where
        assert field.min_length == prop.get("minLength", 0), where
        assert field.max_length == prop.get("maxLength"), where
        pattern = field.pattern.pattern if field.pattern is not None else None
        assert pattern == prop.get("pattern"), where
    elif isinstance(field, wire.Enum):
        assert types == {"string"}, where
        assert list(field.choices) == [value for value in prop["enum"] if value is not None], where
    elif isinstance(field, wire.Number | wire.Integer):
        assert types == ({"number"} if isinstance(field, wire.Number) else {"integer"}), where
        assert (field.minimum, field.maximum) == (prop["minimum"], prop["maximum"]), where
    elif isinstance(field, wire.Boolean):
        assert types == {"boolean"}, where
    elif isinstance(field, wire.JsonObject):
        assert types == {"object"} and "properties" not in prop, where
    elif isinstance(field, wire.AnyString):
        assert types == {"string"} and set(prop) == {"description", "type"}, where
    else:
        raise AssertionError(f"{where}: no mirror check for {type(field).__name__}")


@pytest.mark.parametrize("name", list(MARSHMALLOW))
def test_every_marshmallow_field_mirrors_its_contract_property(name: str) -> None:
    # The table above samples the verdicts; this compares every bound, length, pattern and enum.
    _assert_mirrors(MARSHMALLOW[name](), _to_draft07(load_schema(name)), name)


@pytest.mark.parametrize("name", list(MARSHMALLOW))
def test_dumping_a_loaded_message_gives_the_same_json(name: str) -> None:
    schema = MARSHMALLOW[name]()
    loaded = schema.load(VALID[name])
    assert json.dumps(schema.dump(loaded), sort_keys=True) == json.dumps(loaded, sort_keys=True)


def test_a_flag_keeps_its_own_members_through_load_and_dump() -> None:
    flag = {**FLAG, "site_code": "BSK-1", "threshold_m": 5}
    loaded = wire.Flag().load(flag)
    assert loaded == flag
    assert wire.Flag().dump(loaded) == flag


_ODD_VALUES = [
    None, True, False, 0, -1, 1.0, 1.5, 2**53, 10**30, "", "Қ", "1", "\x00", "\ud800",
    "2026-02-30", "2026-07-14", AT, SURVEY_UUID, SHA_A, [], {}, [1], [[1], [1]], [{}, {}],
    ["a", "a"], [1, 2, None, None, None], "x" * 501, 180, -90.5, 1e308, "ceramic", "gnss",
]  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        found += _paths(value, (*prefix, key))
    return found


def _break(document: Any, rng: random.Random) -> Any:
    """The document with one to three members replaced by odd values, removed or added."""
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        *parents, last = rng.choice(_paths(document))
        node = document
        for key in parents:
            node = node[key]
        roll = rng.random()
        if roll < 0.15 and isinstance(node, dict):
            del node[last]
        elif roll < 0.2 and isinstance(node, dict):
            node[f"extra_{rng.randint(0, 9)}"] = 1
        else:
            node[last] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return document


def test_randomly_broken_documents_get_one_verdict_from_every_validator() -> None:
    rng = random.Random(20260714)
    for _ in range(100):
        name = rng.choice(list(MARSHMALLOW))
        document = _break(VALID[name], rng)
        verdicts = {reference(name).is_valid(document), marshmallow_accepts(name, document)}
        if name in (*RECORD_TYPES, "record"):
            verdicts.add(_fast(name)(document) is not None)
        if name in RECORD_TYPES:
            verdicts.add(validate_record_data(name, document)[0] is not None)
        assert len(verdicts) == 1, (name, document)


# -- what validation returns -----------------------------------------------------------------


def test_absent_optional_members_come_back_as_none_in_contract_order() -> None:
    data, _ = validate_record_data("find", FIND_REQUIRED)
    assert data is not None
    assert list(data) == list(load_schema("find")["properties"])
    assert data["description"] is None and data["notes"] is None
    assert list(data["position"]) == list(load_schema("find")["$defs"]["position"]["properties"])
    assert data["position"]["elevation_m"] is None


def test_an_integral_float_in_an_integer_member_comes_back_as_an_int() -> None:
    data, _ = validate_record_data("find", changed(FIND, quantity=2.0))
    assert data is not None and data["quantity"] == 2 and type(data["quantity"]) is int
    loaded = wire.FindData().load(changed(FIND, quantity=2.0))
    assert type(loaded["quantity"]) is int


def test_validation_leaves_the_callers_data_unchanged() -> None:
    document = copy.deepcopy(FIND_REQUIRED)
    data, _ = validate_record_data("find", document)
    assert document == FIND_REQUIRED and "notes" not in document
    assert data is not document and data["position"] is not document["position"]


def test_dates_stay_strings_in_their_wire_form() -> None:
    data, _ = validate_record_data("find", FIND)
    assert data is not None
    assert (data["found_on"], data["recorded_at"]) == ("2026-07-14", AT)


def test_problems_name_every_bad_field_with_a_data_path() -> None:
    document = changed(FIND, position__lat="47.8", quantity=True, photos=[SHA_A, "x"], colour=1)
    data, problems = validate_record_data("find", document)
    assert data is None
    assert {p["field"] for p in problems} == {
        "data.position.lat",
        "data.quantity",
        "data.photos.1",
        "data.colour",
    }


def test_a_bad_track_point_is_named_by_point_and_item() -> None:
    _, problems = validate_record_data("track", changed(TRACK, points__3__0="67.74"))
    assert problems == [{"field": "data.points.3.0", "message": "must be a number"}]


def test_data_that_is_not_an_object_is_one_problem_on_data() -> None:
    assert validate_record_data("find", [FIND]) == (
        None,
        [{"field": "data", "message": "must be an object"}],
    )


def test_an_unknown_record_type_is_a_problem_on_type() -> None:
    data, problems = validate_record_data("note", {})
    assert data is None and [p["field"] for p in problems] == ["type"]


@pytest.mark.parametrize(
    ("record_type", "document"),
    [
        ("find", changed(FIND, position__lat=float("nan"))),
        ("find", changed(FIND, weight_g=float("inf"))),
        ("photo", changed(PHOTO, position__lon=float("nan"))),
        ("track", changed(TRACK, points=[[67.7, 47.8, float("nan")]])),
    ],
    ids=["NaN latitude", "infinite weight", "NaN photo longitude", "NaN track elevation"],
)
def test_nan_and_infinity_from_python_callers_are_rejected(record_type: str, document: Any) -> None:
    data, problems = validate_record_data(record_type, document)
    assert data is None and problems


def test_validate_record_reports_envelope_and_data_problems_together() -> None:
    document = changed(RECORD, uuid="ABC", data__quantity=0)
    record, problems = validate_record(document)
    assert record is None
    assert {p["field"] for p in problems} == {"uuid", "data.quantity"}


def test_validate_record_returns_the_envelope_with_normalised_data() -> None:
    record, problems = validate_record(changed(RECORD, data=FIND_REQUIRED, rev=2.0))
    assert problems == [] and record is not None
    assert record["rev"] == 2 and type(record["rev"]) is int
    assert record["data"]["notes"] is None


def test_every_sample_survey_record_is_valid() -> None:
    from tests.samples import surveys

    records = [record for s in surveys() for record in (s.survey, *s.finds)]
    assert records
    for record in records:
        assert validate_record(record)[1] == [], record.get("uuid")


# -- the contract files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_contract_file_is_a_valid_2020_12_schema_with_its_urn(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:qazba:schema:{name}"


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key not in ("enum", "required", "default", "materials"):
                yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_no_contract_file_refers_outside_itself(name: str) -> None:
    for path, node in _walk(load_schema(name)):
        ref = node.get("$ref")
        assert ref is None or ref.startswith("#/$defs/"), (path, ref)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_is_described_and_only_optional_ones_default_to_null(name: str) -> None:
    for path, node in _walk(load_schema(name)):
        properties = node.get("properties")
        if not isinstance(properties, dict) or path.endswith("/properties"):
            continue
        for key, prop in properties.items():
            assert prop.get("description"), f"{path}/{key}"
            if key in node.get("required", []):
                assert "default" not in prop, f"{path}/{key}: required, so no default"
            else:
                assert "default" in prop and prop["default"] is None, f"{path}/{key}"


def test_every_format_in_the_contract_is_backed_by_a_pattern() -> None:
    for name in SCHEMA_NAMES:
        for path, node in _walk(load_schema(name)):
            if "format" in node:
                assert "pattern" in node, f"{name}{path}"


def test_the_date_pattern_accepts_exactly_the_real_calendar_dates() -> None:
    pattern = re.compile(load_schema("find")["$defs"]["date"]["pattern"])
    # Leap years are where a calendar regex goes wrong, so every year's 29 February is tried.
    samples = [f"{year:04d}-02-29" for year in range(10_000)]
    samples += [
        f"{y:04d}-{m:02d}-{d:02d}"
        for y in (1, 1900, 2000, 2024, 2026, 2100, 9999)
        for m in range(14)
        for d in range(33)
    ]
    for text in samples:
        try:
            real = bool(datetime.date.fromisoformat(text))
        except ValueError:
            real = False
        assert bool(pattern.search(text)) is real, text


def test_the_fast_path_refuses_keywords_it_cannot_check_exactly() -> None:
    for keyword in ({"oneOf": [{"type": "string"}]}, {"unevaluatedProperties": False}):
        with pytest.raises(ValueError, match="cannot check exactly"):
            _to_draft07({"type": "object", **keyword})


def test_the_fast_path_refuses_references_outside_the_file() -> None:
    with pytest.raises(ValueError, match="only local"):
        _to_draft07({"properties": {"a": {"$ref": "https://example.org/schema.json"}}})


def test_the_fast_path_turns_prefix_items_into_draft_07_tuple_items() -> None:
    point = _to_draft07(load_schema("track"))["properties"]["points"]["items"]
    assert "prefixItems" not in point and len(point["items"]) == 5


# -- the material vocabulary -----------------------------------------------------------------


def test_the_find_material_enum_equals_the_vocabulary_codes() -> None:
    vocabulary = load_schema("materials")
    codes = [material["code"] for material in vocabulary["materials"]]
    assert load_schema("find")["properties"]["material"]["enum"] == codes
    assert vocabulary["enum"] == codes
    assert list(MATERIAL_CODES) == codes
    assert wire.FindData().fields["material"].choices == tuple(codes)  # type: ignore[attr-defined]


def test_the_vocabulary_holds_the_nineteen_codes_of_the_design_in_order() -> None:
    assert MATERIAL_CODES == (
        "ceramic", "copper_alloy", "iron", "precious_metal", "stone", "flint", "bone", "antler",
        "shell", "leather", "wood", "textile", "glass", "slag", "ore_mineral", "paleontological",
        "charcoal", "soil_sample", "other",
    )  # fmt: skip


def test_every_material_has_a_kazakh_a_russian_and_an_english_label() -> None:
    cyrillic = re.compile(r"^[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі ,.-]+$")
    for material in load_schema("materials")["materials"]:
        labels = material["labels"]
        assert set(labels) == set(LANGUAGES)
        assert cyrillic.match(labels["kk"]) and cyrillic.match(labels["ru"]), labels
        assert labels["en"].isascii() and labels["en"].strip(), labels


def test_material_label_gives_the_label_in_the_asked_language() -> None:
    assert material_label("copper_alloy", "kk") == "Мыс қорытпасы"
    assert material_label("copper_alloy", "ru") == "Медный сплав"
    assert material_label("slag", "en") == "Slag"


@pytest.mark.parametrize(("code", "lang"), [("bronze", "kk"), ("iron", "de")])
def test_material_label_refuses_an_unknown_code_or_language(code: str, lang: str) -> None:
    with pytest.raises(KeyError):
        material_label(code, lang)


def test_a_submission_record_carrying_find_data_is_rejected_on_its_data() -> None:
    record, problems = validate_record(changed(RECORD, type="submission"))
    assert record is None and "data.instance_id" in {p["field"] for p in problems}


def test_the_submission_xml_bound_is_the_bound_a_phone_is_held_to() -> None:
    # In characters it admits every instance the server can take in bytes; the server checks the
    # bytes when it reads the XML, as it does for a phone.
    assert load_schema("submission")["properties"]["xml"]["maxLength"] == MAX_SUBMISSION_BYTES


def test_a_submission_xml_travels_as_text_that_encodes_back_to_the_phones_bytes() -> None:
    sent = INSTANCE_XML.encode("utf-8")
    data, problems = validate_record_data("submission", {**SUBMISSION, "xml": sent.decode()})
    assert problems == [] and data is not None
    assert data["xml"].encode("utf-8") == sent


def test_load_schema_refuses_a_name_outside_the_contract() -> None:
    with pytest.raises(KeyError):
        load_schema("../pyproject")


def test_a_long_unknown_member_name_is_shortened_in_its_problem() -> None:
    _, problems = validate_record_data("survey", changed(SURVEY, **{"x" * 5000: 1}))
    assert problems == [{"field": "data." + "x" * 63 + "…", "message": "is not a field here"}]
