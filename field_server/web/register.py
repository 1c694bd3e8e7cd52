"""The registrar's pages: choose an expedition's approved finds for a fund, preview the numbers,
confirm the acceptance act, download its documents; browse the register and amend an entry.

Thin over services.register, services.act_preview and services.register_documents: the same
roles as the API (registrars and admins write; reviewers read too) and the same documents.
"""

from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for

from field_server.api.exports import content_disposition
from field_server.domain.access import Actor
from field_server.domain.find_query import PAGE_SIZES, SORT_KEYS, FindQuery
from field_server.domain.register_numbers import Fund, RegisterError, act_label, parse_fund
from field_server.runtime import runtime
from field_server.services import act_preview, register, register_documents, survey_view
from field_server.services.errors import Forbidden, InvalidInput, NotFound
from field_server.web.blueprint import blueprint
from field_server.web.forms import typed
from field_server.web.i18n import current_language
from field_server.web.signed_in import signed_in as page

FUNDS = tuple(fund.value for fund in Fund)


def _fund(text: str | None) -> Fund:
    try:
        return parse_fund(text or "")
    except RegisterError:
        raise NotFound(f"no fund {text!r}") from None


def may_read_register(actor: Actor) -> bool:
    """Whether the register's pages are offered: the service's own rule, asked."""
    try:
        register.require_reader(actor)
    except Forbidden:
        return False
    return True


def may_write_register(actor: Actor) -> bool:
    try:
        register.require_registrar(actor)
    except Forbidden:
        return False
    return True


@blueprint.route("/register")
@page
def register_entries(actor: Actor) -> str:
    fund = _fund(request.args.get("fund") or Fund.KP.value)
    page_of_entries = register.list_entries(
        runtime().uow, actor, fund.value, after=request.args.get("after") or None
    )
    acts: dict[int, list[register.Entry]] = {}
    for entry in page_of_entries.entries:
        acts.setdefault(entry.number.receipt, []).append(entry)
    return render_template(
        "register.html",
        fund=fund,
        funds=FUNDS,
        acts=acts,
        labels={n: act_label(fund, n) for n in acts},
        may_write=may_write_register(actor),
        next_after=page_of_entries.next_after,
    )


@blueprint.route("/register/new")
@page
def new_act(actor: Actor) -> str:
    register.require_registrar(actor)
    expeditions = survey_view.readable_expeditions(runtime().uow, actor)
    code = request.args.get("expedition") or (expeditions[0].code if expeditions else "")
    fund = _fund(request.args.get("fund") or Fund.KP.value)
    query = FindQuery.from_args(request.args)
    chosen = act_preview.approved_finds(runtime().uow, actor, code, query) if code else None
    return render_template(
        "act_new.html",
        expeditions=expeditions,
        code=code,
        fund=fund,
        funds=FUNDS,
        chosen=chosen,
        sort_keys=SORT_KEYS,
        page_sizes=PAGE_SIZES,
    )


def _act_form() -> tuple[str, str, list[str]]:
    return (
        request.form.get("expedition_code", ""),
        request.form.get("fund", ""),
        request.form.getlist("find"),
    )


@blueprint.route("/register/preview", methods=["POST"])
@page
def preview_act(actor: Actor) -> str:
    code, fund, uuids = _act_form()
    preview = act_preview.preview_act(runtime().uow, actor, code, fund, uuids)
    return render_template(
        "act_preview.html",
        preview=preview,
        received_by=request.form.get("received_by", ""),
        storage_location=request.form.get("storage_location", ""),
    )


@blueprint.route("/register/acts", methods=["POST"])
@page
def create_act(actor: Actor) -> Response:
    code, fund, uuids = _act_form()
    created = register.create_act(
        runtime().uow,
        actor,
        register.ActRequest(
            expedition_code=code,
            fund=fund,
            find_uuids=uuids,
            received_by=request.form.get("received_by"),
            storage_location=request.form.get("storage_location"),
        ),
    )
    previewed = request.form.get("previewed_receipt", "")
    taken = previewed.isascii() and previewed.isdigit() and int(previewed) != created.act_number
    target = url_for(
        "web.act",
        fund=created.fund.value,
        number=created.act_number,
        **({"previewed": previewed} if taken else {}),
    )
    return redirect(target, 303)


@blueprint.route("/register/acts/<fund>/<int:number>")
@page
def act(actor: Actor, fund: str, number: int) -> str:
    found = register.read_act(runtime().uow, actor, _fund(fund).value, number)
    previewed = request.args.get("previewed", "")
    taken = previewed.isascii() and previewed.isdigit() and int(previewed) != number
    return render_template(
        "act.html",
        act=found,
        taken=act_label(found.fund, int(previewed)) if taken else None,
        lang=current_language(),
    )


@blueprint.route("/register/acts/<fund>/<int:number>/<document>.<fmt>")
@page
def act_document(actor: Actor, fund: str, number: int, document: str, fmt: str) -> Response:
    if document not in register_documents.DOCUMENTS or fmt not in register_documents.FORMATS:
        raise NotFound(f"no document {document}.{fmt}")
    rendered = register_documents.act_document(
        runtime().uow,
        actor,
        _fund(fund).value,
        number,
        document=document,
        fmt=fmt,
        lang=current_language(),
        bom=request.args.get("bom") == "1",
    )
    response = Response(rendered.content)
    response.headers["Content-Type"] = rendered.media_type
    response.headers["Content-Disposition"] = content_disposition(
        rendered.filename, "inline" if fmt == "html" else "attachment"
    )
    if fmt == "html":
        # the printable sheet carries its own stylesheet inline and no script
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
        )
    return response


@blueprint.route("/register/entries/<fund>/<int:act_number>/<int:item>")
@page
def entry(actor: Actor, fund: str, act_number: int, item: int) -> str:
    found = register.read_entry(runtime().uow, actor, _fund(fund).value, act_number, item)
    return render_template(
        "entry.html",
        entry=found,
        amendable=register.AMENDABLE,
        may_write=may_write_register(actor),
    )


@blueprint.route("/register/entries/<fund>/<int:act_number>/<int:item>", methods=["POST"])
@page
def amend_entry(actor: Actor, fund: str, act_number: int, item: int) -> Response:
    register.require_registrar(actor)
    name = request.form.get("field", "")
    field = register.AMENDABLE.get(name)
    if field is None:
        raise InvalidInput(
            "not a field an amendment changes", [{"field": "field", "message": name}]
        )
    value = typed(request.form.get("new", ""), field.kind, "new", field.nullable)
    register.amend_entry(
        runtime().uow,
        actor,
        _fund(fund).value,
        act_number,
        item,
        name,
        value,
        request.form.get("reason", ""),
    )
    return redirect(
        url_for("web.entry", fund=_fund(fund).value, act_number=act_number, item=item), 303
    )
