"""marshmallow schemas of the API's own messages (the field records live in field_core.wire)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class Health(_Strict):
    status = fields.String(required=True)
    version = fields.String(required=True)


class TokenRequest(_Strict):
    username = fields.String(required=True, validate=validate.Length(1, 150))
    password = fields.String(required=True, validate=validate.Length(1, 1024))
    device_name = fields.String(required=True, validate=validate.Length(1, 200))


class UserSummary(_Strict):
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


class TokenResponse(_Strict):
    token = fields.String(required=True)
    expires_at = fields.String(required=True)
    user = fields.Nested(UserSummary, required=True)


class ExpeditionCreate(_Strict):
    code = fields.String(required=True, validate=validate.Length(1, 32))
    title = fields.String(required=True, validate=validate.Length(1, 500))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(1900, 2200))
    find_number_format = fields.String(validate=validate.Length(1, 100), load_default=None)
    accuracy_threshold_m = fields.Float(
        allow_none=True, load_default=None, validate=validate.Range(0, 10_000)
    )


class Expedition(_Strict):
    code = fields.String(required=True)
    title = fields.String(required=True)
    year = fields.Integer(required=True)
    find_number_format = fields.String(required=True)
    accuracy_threshold_m = fields.Float(allow_none=True)


class MemberAdd(_Strict):
    username = fields.String(required=True, validate=validate.Length(1, 150))
    leader = fields.Boolean(load_default=False)


class Member(_Strict):
    expedition_code = fields.String(required=True)
    username = fields.String(required=True)
    leader = fields.Boolean(required=True)
    added = fields.Boolean(required=True)


class SiteCreate(_Strict):
    code = fields.String(required=True, validate=validate.Length(1, 32))
    name = fields.String(required=True, validate=validate.Length(1, 500))
    boundary = fields.Dict(required=True, metadata={"description": "GeoJSON Polygon or MultiPolygon, WGS 84"})


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
    device_id = fields.String(required=True, validate=validate.Length(1, 128))
    count = fields.Integer(strict=True, load_default=100, validate=validate.Range(1, 10_000))


class NumberBlock(_Strict):
    expedition_code = fields.String(required=True)
    device_id = fields.String(required=True)
    first = fields.Integer(required=True)
    last = fields.Integer(required=True)
    find_number_format = fields.String(required=True)
    first_number = fields.String(required=True)
    last_number = fields.String(required=True)
