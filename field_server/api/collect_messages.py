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


class CollectSubmission(_Strict):
    id = fields.Integer(required=True)
    instance_id = fields.String(required=True)
    deprecated_id = fields.String(allow_none=True)
    key_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null when relayed"}
    )
    relayed_by_device = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the camp laptop's device id, when it relayed the submission"},
    )
    recorded_by = fields.String(
        required=True, allow_none=True, metadata={"description": "the member's user name"}
    )
    form_version = fields.String(allow_none=True)
    received_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "filed | needs_review"})
    find_uuid = fields.String(allow_none=True)
    problems = fields.List(fields.Dict(), required=True)
    attachments_named = fields.List(fields.String(), required=True)
    attachments_received = fields.Dict(keys=fields.String(), values=fields.String())
    attachments_missing = fields.List(fields.String(), required=True)


class CollectSubmissionPage(_Strict):
    submissions = fields.List(fields.Nested(CollectSubmission), required=True)
    after = fields.Integer(required=True, metadata={"description": "pass as after for the next"})
    more = fields.Boolean(required=True)
