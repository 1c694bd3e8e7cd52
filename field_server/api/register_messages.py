"""marshmallow schemas of the register's API messages (DESIGN §6)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields

from field_core.wire import CODE, UUID, Enum, List, String
from field_server.domain.register_numbers import Fund
from field_server.services.register import MAX_ACT_ITEMS

# the ASCII codes, then the Cyrillic names: KP, NVF, КП, НВФ
FUND_NAMES = (*(fund.ascii for fund in Fund), *(fund.cyrillic for fund in Fund))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ActCreate(_Strict):
    expedition_code = String(required=True, min_length=1, max_length=32, pattern=CODE)
    fund = Enum(FUND_NAMES, required=True)
    find_uuids = List(
        String(pattern=UUID),
        required=True,
        min_items=1,
        max_items=MAX_ACT_ITEMS,
        metadata={"description": "approved finds of the expedition, in item order"},
    )
    received_by = String(max_length=200, allow_none=True, load_default=None)
    storage_location = String(max_length=500, allow_none=True, load_default=None)


class ActEntry(_Strict):
    item = fields.Integer(required=True)
    find_uuid = fields.String(required=True)
    register_number = fields.String(required=True, metadata={"description": "КП 12/3"})
    register_number_ascii = fields.String(required=True, metadata={"description": "KP 12/3"})


class ActCreated(_Strict):
    act_number = fields.Integer(required=True)
    fund = fields.String(required=True)
    entries = fields.List(fields.Nested(ActEntry), required=True)


class AmendmentCreate(_Strict):
    field = String(required=True, min_length=1, max_length=40)
    new = fields.Raw(
        required=True, allow_none=True, metadata={"description": "the value, typed by field"}
    )
    reason = String(required=True, min_length=1, max_length=2000)


class Amendment(_Strict):
    field = fields.String(required=True)
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)
    at = fields.String(required=True)
    find_server_rev = fields.Integer(allow_none=True)


class Entry(_Strict):
    fund = fields.String(required=True)
    act_number = fields.Integer(required=True)
    item = fields.Integer(required=True)
    register_number = fields.String(required=True)
    register_number_ascii = fields.String(required=True)
    find_uuid = fields.String(required=True)
    expedition_code = fields.String(required=True)
    accessioned_at = fields.String(required=True)
    storage_location = fields.String(allow_none=True)
    values = fields.Dict(required=True, metadata={"description": "as amended"})
    amendments = fields.List(fields.Nested(Amendment), required=True)


class Act(_Strict):
    fund = fields.String(required=True)
    act_number = fields.Integer(required=True)
    label = fields.String(required=True)
    expedition_code = fields.String(required=True)
    created_at = fields.String(required=True)
    created_by = fields.String(required=True)
    received_by = fields.String(allow_none=True)
    handed_over_by = fields.String(allow_none=True)
    storage_location = fields.String(allow_none=True)
    entries = fields.List(fields.Nested(Entry), required=True)
