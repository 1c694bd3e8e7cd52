"""The review pages over the synced data: expeditions, a dashboard each, a survey with its map
and finds table, and a find with its photos and history."""

from __future__ import annotations

import math

from field_core.contract import MATERIAL_CODES, load_schema
from flask import render_template, request, session, url_for
from werkzeug.wrappers import Response

from field_server.domain.access import Actor
from field_server.domain.find_query import PAGE_SIZES, SORT_KEYS, FindQuery
from field_server.runtime import runtime
from field_server.services import auth, dashboard, find_detail, survey_view
from field_server.services.errors import Unauthenticated
from field_server.services.sign_in_throttle import TooManyAttempts
from field_server.web import csrf, signed_in
from field_server.web.blueprint import blueprint
from field_server.web.forms import CORRECTABLE
from field_server.web.i18n import LANGUAGES
from field_server.web.signed_in import signed_in as page

# a find's fields in the contract's order, as the field inventory lists them
FIND_FIELDS: tuple[str, ...] = tuple(load_schema("find")["properties"])
POSITION_FIELDS: tuple[str, ...] = tuple(load_schema("find")["$defs"]["position"]["properties"])
KINDS: tuple[str, ...] = tuple(load_schema("find")["properties"]["kind"]["enum"])


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int, dict[str, str]]:
    target = signed_in.local_target(request.values.get("next"), url_for("web.expeditions"))
    if request.method == "GET":
        return render_template("login.html", next=target, failed=False, username="")
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    config = runtime().config
    try:
        sign_in = auth.sign_in(
            runtime().uow,
            username,
            password,
            cost=config.scrypt_cost,
            address=request.remote_addr or "",
            lifetimes=config.session_lifetimes,
        )
    except TooManyAttempts as refused:
        page = render_template(
            "login.html",
            next=target,
            failed=False,
            username=username,
            wait_minutes=math.ceil(refused.retry_after / 60),
        )
        return page, 429, {"Retry-After": str(refused.retry_after)}
    except Unauthenticated:
        page = render_template("login.html", next=target, failed=True, username=username)
        return page, 401, {}
    signed_in.start(sign_in)
    return signed_in.back(target)


@blueprint.route("/logout", methods=["POST"])
def logout() -> Response:
    """This browser's session ends; with ``everywhere``, every session of the person does, so
    a browser left signed in elsewhere is shut out too."""
    token = signed_in.session_token()
    actor = signed_in.current_actor() if request.form.get("everywhere") else None
    if actor is not None:
        auth.sign_out_everywhere(runtime().uow, actor)
    elif token is not None:
        auth.sign_out(runtime().uow, token)
    signed_in.forget()
    csrf.renew()
    return signed_in.back(url_for("web.login"))


@blueprint.route("/language", methods=["POST"])
def language() -> Response:
    chosen = request.form.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return signed_in.back(url_for("web.expeditions"))


@blueprint.route("/")
@page
def expeditions(actor: Actor) -> str:
    found = survey_view.readable_expeditions(runtime().uow, actor)
    return render_template("expeditions.html", expeditions=found)


@blueprint.route("/expeditions/<code>")
@page
def expedition_dashboard(actor: Actor, code: str) -> str:
    return render_template("dashboard.html", board=dashboard.dashboard(runtime().uow, actor, code))


@blueprint.route("/expeditions/<code>/surveys/<survey_uuid>")
@page
def survey(actor: Actor, code: str, survey_uuid: str) -> str:
    query = FindQuery.from_args(request.args)
    view = survey_view.survey_view(runtime().uow, actor, code, survey_uuid, query)
    return render_template(
        "survey.html",
        view=view,
        sort_keys=SORT_KEYS,
        page_sizes=PAGE_SIZES,
        tile_url=runtime().config.tile_url or "",
    )


@blueprint.route("/finds/<uuid>")
@page
def find(actor: Actor, uuid: str) -> str:
    detail = find_detail.find_detail(runtime().uow, runtime().photos.store, actor, uuid)
    return render_template(
        "find.html",
        find=detail,
        fields=FIND_FIELDS,
        position_fields=POSITION_FIELDS,
        correctable=CORRECTABLE,
        materials=MATERIAL_CODES,
        kinds=KINDS,
    )
