"""marshmallow schemas of the phones' keys and their submissions (DESIGN §9)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields

from field_core.wire import UUID, String


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CollectKeyRequest(_Strict):
    username = String(required=True, min_length=1, max_length=150)
    device_name = String(required=True, min_length=1, max_length=200)
    survey_uuid = String(pattern=UUID, allow_none=True, load_default=None)


class IssuedCollectKey(_Strict):
    id = fields.Integer(required=True)
    key = fields.String(required=True, metadata={"description": "shown once, never again"})
    path = fields.String(required=True, metadata={"description": "/odk/key/<key>/<CODE>"})
    server_url = fields.String(required=True, metadata={"description": "what Collect is given"})
    settings = fields.String(
        required=True,
        metadata={"description": "Collect's configuration-QR payload: base64 of zlib JSON"},
    )
    survey_uuid = fields.String(required=True)


class CollectKey(_Strict):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    device_name = fields.String(required=True)
    survey_uuid = fields.String(required=True)
    created_at = fields.String(required=True)
    revoked_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True)


class CollectKeyList(_Strict):
    keys = fields.List(fields.Nested(CollectKey), required=True)
