"""Marshmallow schemas of every wire message, with the same verdicts as the JSON Schema files."""

# load() returns the JSON-ready, normalised dict: values keep their wire form (dates and
# date-times stay validated strings), absent optional fields come back as None, keys follow the
# contract's property order, and an integral float in an integer field (JSON Schema counts 2.0 as
# an integer) comes back as an int. The string patterns are read from the contract files so that
# the two cannot drift apart; lengths, bounds and enums are spelled out here, and the tests
# compare every one of them with the contract and run a table of documents through both.

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, post_dump
from marshmallow import fields as mf

from field_core.contract import MATERIAL_CODES, RECORD_TYPES, load_schema

__all__ = [
    "JSON_SAFE_MAX",
    "RECORD_DATA_SCHEMAS",
    "REV_MAX",
    "Change",
    "ChangeState",
    "Conflict",
    "FindData",
    "Flag",
    "PhotoData",
    "PhotoPosition",
    "Position",
    "Problem",
    "ProblemItem",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "PushResult",
    "RecordEnvelope",
    "SubmissionData",
    "SurveyData",
    "TrackData",
    "problems_from_messages",
]

REV_MAX = 2_147_483_647
"""base_rev and rev fit a 32-bit INTEGER column."""
JSON_SAFE_MAX = 9_007_199_254_740_991
"""2**53 - 1: the largest integer every JSON reader (JavaScript too) holds exactly."""


def _pattern(schema: str, name: str) -> re.Pattern[str]:
    return re.compile(load_schema(schema)["$defs"][name]["pattern"])


TEXT = _pattern("find", "text")
UUID = _pattern("find", "uuid")
SHA256 = _pattern("find", "sha256")
CODE = _pattern("find", "code")
DATE = _pattern("find", "date")
DATE_TIME = _pattern("find", "date_time")
PROBLEM_TYPE = re.compile(load_schema("problem")["properties"]["type"]["pattern"])
SNAKE_CODE = re.compile(load_schema("problem")["properties"]["code"]["pattern"])

_PATTERN_MESSAGES = {
    TEXT: "must not contain U+0000 or unpaired surrogates",
    UUID: "must be a UUID in canonical form: lowercase hex, 8-4-4-4-12",
    SHA256: "must be a SHA-256 digest: 64 lowercase hex digits",
    CODE: "must be 1 to 32 ASCII capitals, digits, '_' or '-', starting with a capital or digit",
    DATE: "must be a date YYYY-MM-DD that exists",
    DATE_TIME: "must be an RFC 3339 date-time with an offset, e.g. 2026-07-14T10:32:05+05:00",
    PROBLEM_TYPE: "must be an absolute URI",
    SNAKE_CODE: "must be a snake_case code",
}

_FIELD_MESSAGES = {"required": "is required", "null": "may not be null"}


class _Field(mf.Field):
    """A field that accepts exactly the JSON type its contract property names.

    Each subclass also derives from the marshmallow field of its JSON type, only so that apispec
    gives the OpenAPI document the right type; it replaces the loading, and dumps values as they
    are. Its rules go into metadata in JSON Schema words, which apispec copies too.
    """

    default_error_messages: ClassVar[dict[str, str]] = _FIELD_MESSAGES

    def _rules(self, **rules: Any) -> None:
        self.metadata = {
            **self.metadata,
            **{key: value for key, value in rules.items() if value is not None},
        }

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class String(_Field, mf.String):
    """A JSON string, returned as sent; length counts code points, as JSON Schema does."""

    def __init__(
        self,
        *,
        min_length: int = 0,
        max_length: int | None = None,
        pattern: re.Pattern[str] | None = TEXT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self._rules(
            minLength=min_length or None,
            maxLength=max_length,
            pattern=pattern.pattern if pattern is not None else None,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        if len(value) < self.min_length:
            unit = "character" if self.min_length == 1 else "characters"
            raise ValidationError(f"must be at least {self.min_length} {unit} long")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters long")
        if self.pattern is not None and not self.pattern.search(value):
            raise ValidationError(_PATTERN_MESSAGES[self.pattern])
        return value


class Enum(_Field, mf.String):
    """A JSON string from a fixed list."""

    def __init__(self, choices: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices)
        self._choice_set = frozenset(self.choices)
        self._rules(enum=list(self.choices))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or value not in self._choice_set:
            raise ValidationError(f"must be one of: {', '.join(self.choices)}")
        return value


def _number_problem(value: Any, minimum: float, maximum: float) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "must be a number"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (NaN and Infinity are not JSON)"
    if value < minimum:
        return f"must be at least {minimum}"
    if value > maximum:
        return f"must be at most {maximum}"
    return None


class Number(_Field, mf.Float):
    """A JSON number: int or float, never a bool or a string; NaN and ±Infinity are not JSON."""

    def __init__(self, *, minimum: float, maximum: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum
        self._rules(minimum=minimum, maximum=maximum)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        problem = _number_problem(value, self.minimum, self.maximum)
        if problem is not None:
            raise ValidationError(problem)
        return value


class Integer(_Field, mf.Integer):
    """A JSON integer. 2.0 counts, as in JSON Schema, and comes back as 2; 1.5 and true do not."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum
        self._rules(minimum=minimum, maximum=maximum)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError("must be an integer")
        if value < self.minimum:
            raise ValidationError(f"must be at least {self.minimum}")
        if value > self.maximum:
            raise ValidationError(f"must be at most {self.maximum}")
        return value


class Boolean(_Field, mf.Boolean):
    """A JSON true or false, never 0, 1 or a string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class JsonObject(_Field, mf.Dict):
    """A JSON object whose members another schema checks; returned as sent."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise ValidationError("must be an object")
        return value


class AnyString(_Field, mf.String):
    """Any JSON string, unchecked (an echo of what a device sent)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        return value


class List(mf.List):
    """A JSON array (a list, not any iterable) with item-count bounds and optional uniqueness."""

    default_error_messages: ClassVar[dict[str, str]] = {
        **_FIELD_MESSAGES,
        "invalid": "must be an array",
    }

    def __init__(
        self,
        inner: mf.Field,
        *,
        min_items: int = 0,
        max_items: int | None = None,
        unique: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(inner, **kwargs)
        self.min_items = min_items
        self.max_items = max_items
        self.unique = unique
        self.metadata = {
            **self.metadata,
            **({"minItems": min_items} if min_items else {}),
            **({"maxItems": max_items} if max_items is not None else {}),
            **({"uniqueItems": True} if unique else {}),
        }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        if len(value) < self.min_items:
            raise ValidationError(f"must have at least {self.min_items} items")
        if self.max_items is not None and len(value) > self.max_items:
            raise ValidationError(f"must have at most {self.max_items} items")
        result = super()._deserialize(value, attr, data, **kwargs)
        if self.unique and len(set(result)) != len(result):
            raise ValidationError("must not list the same item twice")
        return result


class Nested(mf.Nested):
    """A nested object; its schema rejects unknown members."""

    default_error_messages: ClassVar[dict[str, str]] = {
        **_FIELD_MESSAGES,
        "type": "must be an object",
    }


_POINT_OPENAPI = {
    "type": "array",
    "description": "[lon, lat, ele, time, name]; the last three may be null or left off",
    "minItems": 2,
    "maxItems": 5,
    "prefixItems": [
        {"type": "number", "minimum": -180, "maximum": 180},
        {"type": "number", "minimum": -90, "maximum": 90},
        {"type": ["number", "null"], "minimum": -100_000, "maximum": 100_000},
        {"type": ["string", "null"], "format": "date-time", "pattern": DATE_TIME.pattern},
        {"type": ["string", "null"], "maxLength": 500},
    ],
}


def _point_item_problem(index: int, item: Any) -> str | None:
    if index == 0:
        return _number_problem(item, -180, 180)
    if index == 1:
        return _number_problem(item, -90, 90)
    if item is None:
        return None
    if index == 2:
        return _number_problem(item, -100_000, 100_000)
    if not isinstance(item, str):
        return "must be a string or null"
    if index == 3:
        return None if DATE_TIME.search(item) else _PATTERN_MESSAGES[DATE_TIME]
    if len(item) > 500:
        return "must be at most 500 characters long"
    return None if TEXT.search(item) else _PATTERN_MESSAGES[TEXT]


def _point_problems(point: Any) -> list[str] | dict[int, list[str]] | None:
    if not isinstance(point, list):
        return ["must be an array [lon, lat, ele, time, name]"]
    if not 2 <= len(point) <= 5:
        return ["must have 2 to 5 items: [lon, lat, ele, time, name]"]
    errors = {}
    for index, item in enumerate(point):
        problem = _point_item_problem(index, item)
        if problem is not None:
            errors[index] = [problem]
    return errors or None


class Points(_Field):
    """Track points, each [lon, lat, ele, time, name]: 2 to 5 items, the last three nullable.

    Checked in plain code rather than as a List of a field per item: a rejected track of
    500,000 points must not pay marshmallow's per-field overhead two and a half million times.
    """

    def __init__(self, *, max_items: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_items = max_items
        self._rules(type="array", maxItems=max_items, items=_POINT_OPENAPI)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise ValidationError("must be an array")
        if len(value) > self.max_items:
            raise ValidationError(f"must have at most {self.max_items} items")
        errors = {}
        for index, point in enumerate(value):
            problems = _point_problems(point)
            if problems is not None:
                errors[index] = problems
        if errors:
            raise ValidationError(errors)  # type: ignore[arg-type]
        # A new outer list, as a List field returns; the points themselves are returned as sent.
        return list(value)


def _opt(field: mf.Field) -> mf.Field:
    """Make a field optional: it may be absent or null, and load() gives None when it is absent."""
    field.required = False
    field.allow_none = True
    field.load_default = None
    return field


def _req(field: mf.Field, *, nullable: bool = False) -> mf.Field:
    """Make a field required; with nullable=True it must be present but may be null."""
    field.required = True
    field.allow_none = nullable
    return field


def _text(min_length: int, max_length: int) -> String:
    return String(min_length=min_length, max_length=max_length)


def _uuid() -> String:
    return String(pattern=UUID)


class _Strict(Schema):
    """A JSON object that rejects members the contract does not name."""

    class Meta:
        unknown = RAISE

    error_messages: ClassVar[dict[str, str]] = {
        "unknown": "is not a field here",
        "type": "must be an object",
    }


# --------------------------------------------------------------------------- record data


class SurveyData(_Strict):
    """data of a survey record (schemas/survey.json)."""

    expedition_code = _req(String(pattern=CODE))
    title = _req(_text(1, 500))
    team = _req(List(_text(1, 200), max_items=100))
    started_on = _req(String(pattern=DATE))
    ended_on = _opt(String(pattern=DATE))
    notes = _opt(_text(0, 10_000))


class Position(_Strict):
    """position of a find (schemas/find.json $defs/position)."""

    lon = _req(Number(minimum=-180, maximum=180))
    lat = _req(Number(minimum=-90, maximum=90))
    elevation_m = _opt(Number(minimum=-500, maximum=9000))
    depth_m = _opt(Number(minimum=-100, maximum=1000))
    horizontal_accuracy_m = _opt(Number(minimum=0, maximum=100_000))
    vertical_accuracy_m = _opt(Number(minimum=0, maximum=100_000))
    method = _req(Enum(["gnss", "total_station", "tape", "map", "unknown"]))


class FindData(_Strict):
    """data of a find record (schemas/find.json)."""

    survey_uuid = _req(_uuid())
    expedition_code = _req(String(pattern=CODE))
    site_code = _opt(_text(1, 32))
    trench = _opt(_text(1, 64))
    context = _opt(_text(1, 64))
    find_number = _req(_text(1, 64))
    kind = _req(Enum(["small_find", "bulk", "sample"]))
    material = _req(Enum(MATERIAL_CODES))
    object_name = _req(_text(1, 500))
    description = _opt(_text(0, 10_000))
    quantity = _req(Integer(minimum=1, maximum=1_000_000))
    weight_g = _opt(Number(minimum=0, maximum=100_000_000))
    length_mm = _opt(Number(minimum=0, maximum=1_000_000))
    width_mm = _opt(Number(minimum=0, maximum=1_000_000))
    height_mm = _opt(Number(minimum=0, maximum=1_000_000))
    condition = _opt(_text(1, 500))
    position = _req(Nested(Position))
    found_on = _req(String(pattern=DATE))
    recorded_at = _req(String(pattern=DATE_TIME))
    recorded_by = _req(_text(1, 200))
    photos = _req(List(String(pattern=SHA256), max_items=200, unique=True))
    notes = _opt(_text(0, 10_000))


class TrackData(_Strict):
    """data of a track record (schemas/track.json)."""

    survey_uuid = _req(_uuid())
    kind = _req(Enum(["track", "route", "waypoints"]))
    name = _opt(_text(1, 500))
    source_file = _req(_text(1, 500))
    points = _req(Points(max_items=500_000))


class PhotoPosition(_Strict):
    """position of a photo (schemas/photo.json $defs/photo_position)."""

    lon = _req(Number(minimum=-180, maximum=180))
    lat = _req(Number(minimum=-90, maximum=90))
    elevation_m = _opt(Number(minimum=-500, maximum=9000))
    horizontal_accuracy_m = _opt(Number(minimum=0, maximum=100_000))


class PhotoData(_Strict):
    """data of a photo record (schemas/photo.json)."""

    survey_uuid = _req(_uuid())
    sha256 = _req(String(pattern=SHA256))
    bytes = _req(Integer(minimum=1, maximum=JSON_SAFE_MAX))
    media_type = _req(Enum(["image/jpeg", "image/png", "image/tiff", "image/webp", "image/heic"]))
    width = _req(Integer(minimum=1, maximum=1_000_000))
    height = _req(Integer(minimum=1, maximum=1_000_000))
    taken_at = _opt(String(pattern=DATE_TIME))
    position = _opt(Nested(PhotoPosition))
    position_source = _req(Enum(["exif", "track", "manual", "none"]))
    caption = _opt(_text(0, 10_000))
    find_uuids = _req(List(_uuid(), max_items=1000, unique=True))


class SubmissionData(_Strict):
    """data of a submission record (schemas/submission.json): a phone's form instance as the
    camp laptop received it. xml is the instance's UTF-8 bytes decoded as text; its bound is in
    characters here, and the server checks the byte bound when it reads the XML."""

    expedition_code = _req(String(pattern=CODE))
    survey_uuid = _req(_uuid())
    instance_id = _req(_uuid())
    find_uuid = _req(_uuid(), nullable=True)
    received_at = _req(String(pattern=DATE_TIME))
    xml = _req(_text(1, 1_048_576))  # field_core.collect.submission.MAX_SUBMISSION_BYTES


RECORD_DATA_SCHEMAS: dict[str, Schema] = {
    "survey": SurveyData(),
    "find": FindData(),
    "track": TrackData(),
    "photo": PhotoData(),
    "submission": SubmissionData(),
}
"""One shared instance per record type: reuse them, as building a Schema costs more than a load."""


# --------------------------------------------------------------------------- messages


class RecordEnvelope(_Strict):
    """A record on the wire (schemas/record.json); data is checked by its type's schema."""

    type = _req(Enum(RECORD_TYPES))
    uuid = _req(_uuid())
    base_rev = _req(Integer(minimum=0, maximum=REV_MAX))
    rev = _req(Integer(minimum=1, maximum=REV_MAX))
    data = _req(JsonObject())


class PushRequest(_Strict):
    """Body of POST /api/v1/sync/push (schemas/push_request.json).

    records holds raw objects: each is checked on its own (field_core.validation.validate_record)
    so that one bad record is rejected in its result and never fails the batch.
    """

    device_id = _req(_text(1, 128))
    batch_id = _req(_text(1, 128))
    records = _req(List(JsonObject(), min_items=1, max_items=1000))


class ProblemItem(_Strict):
    """One problem with one field: {field, message}."""

    field = _req(String(max_length=500, pattern=None))
    message = _req(String(min_length=1, max_length=2000, pattern=None))


class Flag(Schema):
    """A warning that does not reject; members beyond the named ones pass through unchecked."""

    class Meta:
        unknown = INCLUDE

    error_messages: ClassVar[dict[str, str]] = {"type": "must be an object"}

    code = _req(String(min_length=1, max_length=64, pattern=SNAKE_CODE))
    detail = _req(_text(0, 2000))
    distance_m = _opt(Number(minimum=0, maximum=100_000_000))
    other_uuid = _opt(_uuid())

    @post_dump(pass_original=True)
    def _keep_extra_members(self, data: dict, original: Any, **kwargs: Any) -> dict:
        # dump() writes only declared fields; a flag's own members must survive it, as in load().
        if isinstance(original, Mapping):
            return {**data, **{k: v for k, v in original.items() if k not in data}}
        return data


class PushResult(_Strict):
    """What became of one pushed record."""

    uuid = _req(AnyString())
    status = _req(Enum(["created", "updated", "unchanged", "merged", "conflict", "rejected"]))
    server_rev = _req(Integer(minimum=0, maximum=JSON_SAFE_MAX))
    problems = _opt(List(Nested(ProblemItem)))
    flags = _opt(List(Nested(Flag)))


class PushResponse(_Strict):
    """Answer to POST /api/v1/sync/push (schemas/push_response.json)."""

    batch_id = _req(_text(1, 128))
    results = _req(List(Nested(PushResult), min_items=1, max_items=1000))
    cursor = _req(Integer(minimum=0, maximum=JSON_SAFE_MAX))


class Conflict(_Strict):
    """An open conflicting revision in a change's state."""

    id = _req(Integer(minimum=1, maximum=JSON_SAFE_MAX))
    server_rev = _req(Integer(minimum=0, maximum=JSON_SAFE_MAX))
    fields = _req(List(_text(1, 200)))
    data = _req(JsonObject())
    device_id = _req(_text(1, 128), nullable=True)
    received_at = _req(String(pattern=DATE_TIME))


class ChangeState(_Strict):
    """What the museum adds to a record; every member present, null where it does not apply."""

    status = _req(
        Enum(["synced", "approved", "rejected", "merged", "accessioned"]),
        nullable=True,
    )
    register_number = _req(_text(1, 64), nullable=True)
    merged_into = _req(_uuid(), nullable=True)
    flags = _req(List(Nested(Flag)))
    conflicts = _req(List(Nested(Conflict)))


class Change(_Strict):
    """One record as it now stands, in a pull response."""

    seq = _req(Integer(minimum=1, maximum=JSON_SAFE_MAX))
    type = _req(Enum(RECORD_TYPES))
    uuid = _req(_uuid())
    server_rev = _req(Integer(minimum=1, maximum=JSON_SAFE_MAX))
    data = _req(JsonObject())
    state = _req(Nested(ChangeState))


class PullResponse(_Strict):
    """Answer to GET /api/v1/sync/pull (schemas/pull_response.json)."""

    changes = _req(List(Nested(Change)))
    cursor = _req(Integer(minimum=0, maximum=JSON_SAFE_MAX))
    more = _req(Boolean())


class Problem(_Strict):
    """An application/problem+json body (RFC 9457, schemas/problem.json)."""

    type = _req(String(min_length=0, pattern=PROBLEM_TYPE))
    title = _req(_text(1, 500))
    status = _req(Integer(minimum=400, maximum=599))
    detail = _opt(_text(0, 10_000))
    instance = _opt(_text(0, 2000))
    code = _req(String(min_length=1, max_length=64, pattern=SNAKE_CODE))
    errors = _opt(List(Nested(ProblemItem)))


def problems_from_messages(messages: Mapping[Any, Any] | list[Any], prefix: str) -> list[dict]:
    """Flatten marshmallow's nested error messages into [{field, message}] with dotted paths.

    List indexes become path segments (data.photos.0); a whole-object error (marshmallow's
    "_schema") belongs to the object's own path.
    """
    problems: list[dict] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, sub in node.items():
                # An unknown member's name comes from the sender: keep it short in the answer.
                name = str(key) if len(str(key)) <= 64 else f"{str(key)[:63]}…"
                walk(sub, path if key == "_schema" else f"{path}.{name}" if path else name)
        elif isinstance(node, list | tuple):
            for sub in node:
                walk(sub, path)
        else:
            problems.append({"field": path, "message": str(node)})

    walk(messages, prefix)
    return problems
