"""The accession register's routes (DESIGN §6): acts, their documents, entries, amendments.

An act or its field inventory comes as JSON, HTML, PDF or CSV: by the suffix of the last path
segment (``/register/acts/KP/12.pdf``, ``…/12/inventory.csv``), else by the Accept header,
else JSON. ``<fund>`` is KP, NVF, КП or НВФ.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from field_server.api import register_messages as messages
from field_server.api.endpoint import endpoint, json_response
from field_server.api.exports import content_disposition
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import register as service
from field_server.services import register_documents as documents
from field_server.services.errors import InvalidInput, NotFound

blueprint = Blueprint("register", __name__, url_prefix="/api/v1")

READERS = "registrar, reviewer, admin"
WRITERS = "registrar, admin"
DOCUMENT_QUERY = (
    ("lang", "string", "kk (default), ru or en"),
    ("bom", "boolean", "CSV only: start with a UTF-8 byte-order mark (for spreadsheets)"),
)
_SUFFIXED = re.compile(r"^(?P<stem>[^.]+)(?:\.(?P<suffix>json|html|pdf|csv))?$")
_POSITIVE = re.compile(r"^[1-9][0-9]{0,8}$", re.ASCII)
_MEDIA = {
    "application/json": "json",
    "text/html": "html",
    "application/pdf": "pdf",
    "text/csv": "csv",
}


def _positive(text: str, what: str) -> int:
    if not _POSITIVE.match(text):
        raise NotFound(f"no {what} {text!r}")
    return int(text)


def _split(segment: str) -> tuple[str, str | None]:
    match = _SUFFIXED.match(segment)
    if match is None:
        raise NotFound(f"no document {segment!r}")
    return match.group("stem"), match.group("suffix")


def _format(suffix: str | None) -> str:
    if suffix is not None:
        return suffix
    best = request.accept_mimetypes.best_match(list(_MEDIA), default="application/json")
    return _MEDIA.get(best or "application/json", "json")


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def _amendment(amendment: service.Amendment) -> dict[str, Any]:
    return {
        "field": amendment.field,
        "old": amendment.old,
        "new": amendment.new,
        "reason": amendment.reason,
        "by": amendment.by,
        "at": amendment.at.isoformat(),
        "find_server_rev": amendment.find_server_rev,
    }


def _entry(entry: service.Entry) -> dict[str, Any]:
    current = entry.current
    return {
        "fund": entry.number.fund.value,
        "act_number": entry.number.receipt,
        "item": entry.number.item,
        "register_number": entry.number.cyrillic,
        "register_number_ascii": entry.number.ascii,
        "find_uuid": entry.find_uuid,
        "expedition_code": entry.expedition_code,
        "accessioned_at": entry.accessioned_at.isoformat(),
        "storage_location": current.get("storage_location"),
        "values": current,
        "amendments": [_amendment(a) for a in entry.amendments],
    }


def _document(actor: Actor, fund: str, number: int, document: str, fmt: str) -> Response:
    lang = documents.check_language(request.args.get("lang", "kk"))
    uow = runtime().uow
    if fmt == "json":
        act = service.read_act(uow, actor, fund, number)
        if document == "act":
            return json_response(_act(act))
        sheet = documents.inventory_sheet(act, lang)
        return json_response(
            {
                "fund": act.fund.value,
                "act_number": act.act_number,
                "lang": lang,
                "columns": [c.title for c in sheet.columns],
                "rows": sheet.rows,
            }
        )
    rendered = documents.act_document(
        uow, actor, fund, number, document=document, fmt=fmt, lang=lang, bom=_flag("bom")
    )
    response = Response(rendered.content, mimetype=rendered.media_type.split(";")[0])
    response.headers["Content-Type"] = rendered.media_type
    response.headers["Content-Disposition"] = content_disposition(
        rendered.filename, "attachment" if fmt == "csv" else "inline"
    )
    response.headers["Vary"] = "Accept"
    return response


def _act(act: service.Act) -> dict[str, Any]:
    return {
        "fund": act.fund.value,
        "act_number": act.act_number,
        "label": act.label,
        "expedition_code": act.expedition_code,
        "created_at": act.created_at.isoformat(),
        "created_by": act.created_by,
        "received_by": act.received_by,
        "handed_over_by": act.handed_over_by,
        "storage_location": act.storage_location,
        "entries": [_entry(e) for e in act.entries],
    }


@endpoint(
    blueprint,
    "/register/acts",
    "POST",
    summary="Accession approved finds of one expedition into one fund by an acceptance act",
    tag="register",
    body=messages.ActCreate,
    response=messages.ActCreated,
    status=201,
    roles=WRITERS,
    permitted=service.require_registrar,
)
def create_act(actor: Actor, body: dict[str, Any]) -> Response:
    created = service.create_act(
        runtime().uow,
        actor,
        service.ActRequest(
            expedition_code=body["expedition_code"],
            fund=body["fund"],
            find_uuids=body["find_uuids"],
            received_by=body["received_by"],
            storage_location=body["storage_location"],
        ),
    )
    return json_response(
        {
            "act_number": created.act_number,
            "fund": created.fund.value,
            "entries": [
                {
                    "item": number.item,
                    "find_uuid": uuid,
                    "register_number": number.cyrillic,
                    "register_number_ascii": number.ascii,
                }
                for uuid, number in created.entries
            ],
        },
        201,
    )


@endpoint(
    blueprint,
    "/register/acts/<fund>/<number>",
    "GET",
    summary="An acceptance act: JSON, or .html, .pdf, .csv by suffix or Accept",
    tag="register",
    response=messages.Act,
    query=DOCUMENT_QUERY,
    roles=READERS,
    permitted=service.require_reader,
)
def read_act(actor: Actor, fund: str, number: str) -> Response:
    stem, suffix = _split(number)
    return _document(actor, fund, _positive(stem, "act"), "act", _format(suffix))


@endpoint(
    blueprint,
    "/register/acts/<fund>/<number>/<document>",
    "GET",
    summary="The act's field inventory (document 'inventory', or inventory.html|pdf|csv)",
    tag="register",
    query=DOCUMENT_QUERY,
    roles=READERS,
    permitted=service.require_reader,
)
def read_inventory(actor: Actor, fund: str, number: str, document: str) -> Response:
    stem, suffix = _split(document)
    if stem != "inventory":
        raise NotFound(f"no document {document!r} of an act; there is 'inventory'")
    return _document(actor, fund, _positive(number, "act"), "inventory", _format(suffix))


@endpoint(
    blueprint,
    "/register/entries",
    "GET",
    summary="Register entries in register order, with their amendments, a page at a time; "
    'when more follow, the Link header names the next page (rel="next")',
    tag="register",
    query=(
        ("fund", "string", "KP or NVF (КП, НВФ); both when absent"),
        ("act", "integer", "only the entries of this act of the fund"),
        (
            "limit",
            "integer",
            f"entries in the page, 1..{service.MAX_ENTRIES_PAGE} (default {service.ENTRIES_PAGE})",
        ),
        (
            "after",
            "string",
            "the register number the page starts after (KP 12/3 or КП 12/3): the last "
            "entry of the page before",
        ),
    ),
    roles=READERS,
    permitted=service.require_reader,
)
def list_entries(actor: Actor) -> Response:
    fund = request.args.get("fund")
    act_text = request.args.get("act")
    act_number = None
    if act_text is not None:
        if not _POSITIVE.match(act_text):
            raise InvalidInput(
                "act is a receipt number of the fund given",
                [{"field": "act", "message": "a positive whole number, with fund"}],
            )
        act_number = int(act_text)
    limit_text = request.args.get("limit")
    limit = service.ENTRIES_PAGE
    if limit_text is not None:
        if not _POSITIVE.match(limit_text):
            raise InvalidInput(
                "limit is a positive whole number",
                [{"field": "limit", "message": f"from 1 to {service.MAX_ENTRIES_PAGE}"}],
            )
        limit = int(limit_text)
    page = service.list_entries(
        runtime().uow, actor, fund, act_number, after=request.args.get("after"), limit=limit
    )
    response = json_response([_entry(e) for e in page.entries])
    if page.next_after is not None:
        query = {**request.args.to_dict(), "after": page.next_after.ascii, "limit": str(limit)}
        response.headers["Link"] = f'<{request.path}?{urlencode(query)}>; rel="next"'
    return response


@endpoint(
    blueprint,
    "/register/entries/<fund>/<act_number>/<item>/amendments",
    "POST",
    summary="Amend one field of a register entry (the entry itself is never changed)",
    tag="register",
    body=messages.AmendmentCreate,
    response=messages.Amendment,
    status=201,
    roles=WRITERS,
    permitted=service.require_registrar,
)
def amend_entry(
    actor: Actor, body: dict[str, Any], fund: str, act_number: str, item: str
) -> Response:
    amendment = service.amend_entry(
        runtime().uow,
        actor,
        fund,
        _positive(act_number, "act"),
        _positive(item, "item"),
        body["field"],
        body["new"],
        body["reason"],
    )
    return json_response(_amendment(amendment), 201)
