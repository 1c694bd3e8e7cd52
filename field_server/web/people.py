"""Users, their roles and expedition teams, for the admin (and a team for its leader)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from field_server.domain.access import Actor, Role
from field_server.runtime import runtime
from field_server.services import auth, expeditions
from field_server.web.blueprint import blueprint
from field_server.web.signed_in import signed_in as page

ROLES = tuple(role.value for role in Role)


@blueprint.route("/admin/users")
@page
def users(actor: Actor) -> str:
    return render_template("users.html", users=auth.list_users(runtime().uow, actor), roles=ROLES)


@blueprint.route("/admin/users", methods=["POST"])
@page
def create_user(actor: Actor) -> Response:
    auth.create_user(
        runtime().uow,
        request.form.get("username", "").strip(),
        request.form.get("password", ""),
        request.form.getlist("roles"),
        cost=runtime().config.scrypt_cost,
        actor=actor,
    )
    return redirect(url_for("web.users"), 303)


@blueprint.route("/admin/users/<username>", methods=["POST"])
@page
def change_user(actor: Actor, username: str) -> Response:
    auth.change_user(
        runtime().uow,
        actor,
        username,
        request.form.getlist("roles"),
        active=request.form.get("active") == "on",
    )
    return redirect(url_for("web.users"), 303)


@blueprint.route("/expeditions/<code>/team")
@page
def team(actor: Actor, code: str) -> str:
    found = expeditions.team(runtime().uow, actor, code)
    return render_template("team.html", team=found)


@blueprint.route("/expeditions/<code>/team", methods=["POST"])
@page
def add_member(actor: Actor, code: str) -> Response:
    expeditions.add_member(
        runtime().uow,
        actor,
        code,
        # a name typed in full wins over the list of colleagues
        (request.form.get("exact_username") or request.form.get("username") or "").strip(),
        leader=request.form.get("leader") == "on",
    )
    return redirect(url_for("web.team", code=code), 303)
