"""marshmallow schemas of the duplicate queue and the review of finds."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields
from marshmallow.validate import Length

from field_core.wire import REV_MAX, UUID, Enum, Integer, JsonObject, String

REV = {"minimum": 1, "maximum": REV_MAX}


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DuplicateCandidate(_Strict):
    id = fields.Integer(required=True)
    find_uuids = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "a pair's two finds, or every find of a number's group"},
    )
    find_number = fields.String(
        allow_none=True, metadata={"description": "the number a group's finds share; null: a pair"}
    )
    score = fields.Float(required=True, metadata={"description": "0..1"})
    rules = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "same_find_number, shared_photo, near_match and its evidence"},
    )
    distance_m = fields.Float(allow_none=True)
    state = fields.String(
        required=True, metadata={"description": "open merged dismissed withdrawn"}
    )
    kept_uuid = fields.String(allow_none=True)
    merged_uuids = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "its finds merged into kept_uuid through it"},
    )
    reason = fields.String(allow_none=True)


class DuplicatePage(_Strict):
    candidates = fields.List(fields.Nested(DuplicateCandidate), required=True)
    next = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the after of the next page; null on the last"},
    )


class DetectionReport(_Strict):
    expedition_code = fields.String(required=True)
    finds = fields.Integer(required=True)
    open = fields.Integer(required=True)
    added = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    withdrawn = fields.Integer(required=True)


class MergeRequest(_Strict):
    keep = String(required=True, pattern=UUID, metadata={"description": "the find to keep"})
    others = fields.List(
        String(pattern=UUID),
        validate=Length(min=1, max=100_000),
        load_default=None,
        allow_none=True,
        metadata={"description": "the finds to merge into keep; default: every other one"},
    )
    reason = String(min_length=1, max_length=2000, load_default=None, allow_none=True)


class MergedFind(_Strict):
    uuid = fields.String(required=True)
    server_rev = fields.Integer(required=True)


class MergeResult(DuplicateCandidate):
    kept = fields.Nested(MergedFind, required=True)
    merged = fields.List(fields.Nested(MergedFind), required=True)
    photos_added = fields.List(fields.String(), required=True)
    candidates_moved = fields.List(fields.Integer(), required=True)
    candidates_withdrawn = fields.List(fields.Integer(), required=True)


class DismissRequest(_Strict):
    reason = String(min_length=1, max_length=2000, load_default=None, allow_none=True)


class ReviewRequest(_Strict):
    decision = Enum(["approve", "reject"], required=True)
    reason = String(
        min_length=1,
        max_length=2000,
        load_default=None,
        allow_none=True,
        metadata={"description": "required to reject"},
    )
    expected_rev = Integer(load_default=None, allow_none=True, **REV)


class ReviewResult(_Strict):
    uuid = fields.String(required=True)
    status = fields.String(required=True)
    server_rev = fields.Integer(required=True)


class FindCorrection(_Strict):
    """Documented shape; the view checks the body itself (its other members are find fields)."""

    reason = String(required=True, min_length=1, max_length=2000)
    expected_rev = Integer(load_default=None, allow_none=True, **REV)


class CorrectionResult(_Strict):
    uuid = fields.String(required=True)
    server_rev = fields.Integer(required=True)
    changed = fields.List(fields.String(), required=True)


class ConflictResolution(_Strict):
    resolution = Enum(["keep_server", "keep_device", "fields"], required=True)
    fields = JsonObject(
        load_default=None,
        allow_none=True,
        metadata={"description": "with resolution 'fields': a value for every clashing field"},
    )
    reason = String(min_length=1, max_length=2000, load_default=None, allow_none=True)
    expected_rev = Integer(load_default=None, allow_none=True, **REV)


class ConflictResolved(_Strict):
    uuid = fields.String(required=True)
    conflict = fields.Integer(required=True)
    resolution = fields.String(required=True)
    server_rev = fields.Integer(required=True)


class FindDetails(_Strict):
    uuid = fields.String(required=True)
    expedition_code = fields.String(required=True)
    find_number = fields.String(allow_none=True)
    server_rev = fields.Integer(required=True)
    data = fields.Dict(required=True)
    state = fields.Dict(required=True)
    revisions = fields.List(fields.Dict(), required=True)
    conflicts = fields.Dict(required=True, metadata={"description": "open and resolved"})
    aliases = fields.List(fields.Dict(), required=True)
    duplicates = fields.List(fields.Nested(DuplicateCandidate), required=True)
    audit = fields.List(fields.Dict(), required=True)
