"""marshmallow schemas of the API's own messages (the field records live in field_core.wire)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields

from field_core.wire import CODE, SHA256, Boolean, Integer, JsonObject, List, Number, String


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class Health(_Strict):
    status = fields.String(required=True)
    version = fields.String(required=True)


class TokenRequest(_Strict):
    username = String(required=True, min_length=1, max_length=150)
    password = String(required=True, min_length=1, max_length=1024)
    device_name = String(required=True, min_length=1, max_length=200)


class UserSummary(_Strict):
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


class TokenResponse(_Strict):
    token = fields.String(required=True)
    expires_at = fields.String(required=True)
    user = fields.Nested(UserSummary, required=True)


class ExpeditionCreate(_Strict):
    code = String(required=True, min_length=1, max_length=32, pattern=CODE)
    title = String(required=True, min_length=1, max_length=500)
    year = Integer(required=True, minimum=1900, maximum=2200)
    find_number_format = String(min_length=1, max_length=100, load_default=None)
    accuracy_threshold_m = Number(minimum=0, maximum=10_000, allow_none=True, load_default=None)


class Expedition(_Strict):
    code = fields.String(required=True)
    title = fields.String(required=True)
    year = fields.Integer(required=True)
    find_number_format = fields.String(required=True)
    accuracy_threshold_m = fields.Float(allow_none=True)


class MemberAdd(_Strict):
    username = String(required=True, min_length=1, max_length=150)
    leader = Boolean(load_default=False)


class Member(_Strict):
    expedition_code = fields.String(required=True)
    username = fields.String(required=True)
    leader = fields.Boolean(required=True)
    added = fields.Boolean(required=True)


class SiteCreate(_Strict):
    code = String(required=True, min_length=1, max_length=32, pattern=CODE)
    name = String(required=True, min_length=1, max_length=500)
    boundary = JsonObject(
        required=True, metadata={"description": "GeoJSON Polygon or MultiPolygon, WGS 84"}
    )


class Site(_Strict):
    expedition_code = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    boundary = fields.Dict(required=True)


class ReferenceExpedition(Expedition):
    member = fields.Boolean(required=True)


class MaterialTerm(_Strict):
    code = fields.String(required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class Reference(_Strict):
    expeditions = fields.List(fields.Nested(ReferenceExpedition), required=True)
    sites = fields.List(fields.Nested(Site), required=True)
    materials = fields.List(fields.Nested(MaterialTerm), required=True)


class NumberBlockRequest(_Strict):
    device_id = String(required=True, min_length=1, max_length=128)
    count = Integer(minimum=1, maximum=10_000, load_default=100)


class NumberBlock(_Strict):
    expedition_code = fields.String(required=True)
    device_id = fields.String(required=True)
    first = fields.Integer(required=True)
    last = fields.Integer(required=True)
    find_number_format = fields.String(required=True)
    first_number = fields.String(required=True)
    last_number = fields.String(required=True)


class PhotosMissingRequest(_Strict):
    sha256 = List(
        String(pattern=SHA256),
        required=True,
        max_items=10_000,
        metadata={"description": "SHA-256 digests (64 lowercase hex digits), at most 10,000"},
    )


class PhotosMissing(_Strict):
    missing = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "the digests the server has no file for, in the order asked"},
    )
