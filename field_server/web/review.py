"""The history department's decisions in the review UI: approve or reject finds (one from its
page, or many from a survey's table), correct a find's fields and settle its conflicts.

Every form carries the server revision of each find it shows; the services refuse a decision
about a find that changed since the page was loaded (``stale``), and nothing changes.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from field_server.domain.access import Actor
from field_server.domain.conflict_resolution import Resolution
from field_server.runtime import runtime
from field_server.services import review
from field_server.services.errors import InvalidInput
from field_server.web.blueprint import blueprint
from field_server.web.forms import CORRECTABLE, find_value
from field_server.web.signed_in import back
from field_server.web.signed_in import signed_in as page

SIDES = ("server", "device")
RESOLUTIONS = tuple(r.value for r in Resolution)


def _revision(text: str | None, name: str = "expected_rev") -> int:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 10:
        raise InvalidInput("the form lost its revision", [{"field": name, "message": "missing"}])
    return int(text)


def _decision() -> str:
    decision = request.form.get("decision", "")
    if decision not in review.DECISIONS:
        raise InvalidInput(
            "approve or reject", [{"field": "decision", "message": "approve or reject"}]
        )
    return decision


def _find_page(uuid: str) -> Response:
    return redirect(url_for("web.find", uuid=uuid), 303)


@blueprint.route("/expeditions/<code>/surveys/<survey_uuid>/review", methods=["POST"])
@page
def review_selected(actor: Actor, code: str, survey_uuid: str) -> Response:
    chosen = request.form.getlist("find")
    finds = [(uuid, _revision(request.form.get(f"rev.{uuid}"), uuid)) for uuid in chosen]
    reason = request.form.get("reason", "").strip() or None
    review.review_finds(runtime().uow, actor, finds, _decision(), reason)
    return back(url_for("web.survey", code=code, survey_uuid=survey_uuid), 303)


@blueprint.route("/finds/<uuid>/review", methods=["POST"])
@page
def review_one(actor: Actor, uuid: str) -> Response:
    reason = request.form.get("reason", "").strip() or None
    expected = _revision(request.form.get("expected_rev"))
    review.review_find(runtime().uow, actor, uuid, _decision(), reason, expected)
    return _find_page(uuid)


@blueprint.route("/finds/<uuid>/correct", methods=["POST"])
@page
def correct(actor: Actor, uuid: str) -> Response:
    expected = _revision(request.form.get("expected_rev"))
    reason = request.form.get("reason", "").strip()
    if not reason:
        raise InvalidInput("a correction says why", [{"field": "reason", "message": "required"}])
    current = review.find_details(runtime().uow, actor, uuid)["data"]
    fields: dict[str, Any] = {}
    for name in CORRECTABLE:
        if name in request.form:
            value = find_value(name, request.form[name])
            if value != current.get(name):
                fields[name] = value
    # nothing changed is refused by the service too ("name at least one field")
    review.correct_find(runtime().uow, actor, uuid, fields, reason, expected)
    return _find_page(uuid)


@blueprint.route("/finds/<uuid>/conflicts/<int:conflict_id>/resolve", methods=["POST"])
@page
def resolve(actor: Actor, uuid: str, conflict_id: int) -> Response:
    expected = _revision(request.form.get("expected_rev"))
    resolution = request.form.get("resolution", "")
    if resolution not in RESOLUTIONS:
        raise InvalidInput(
            "choose how to settle the conflict",
            [{"field": "resolution", "message": "keep_server, keep_device or fields"}],
        )
    chosen = None
    if resolution == Resolution.FIELDS:
        # the values themselves come from the server, the form only says whose each is
        details = review.find_details(runtime().uow, actor, uuid)
        conflict = next((c for c in details["conflicts"]["open"] if c["id"] == conflict_id), None)
        if conflict is not None:
            chosen = {}
            for name in conflict["fields"]:
                side = request.form.get(f"field.{name}")
                if side not in SIDES:
                    raise InvalidInput(
                        "choose a value for every clashing field",
                        [{"field": name, "message": "server or device"}],
                    )
                source = details["data"] if side == "server" else conflict["data"]
                chosen[name] = source.get(name)
    reason = request.form.get("reason", "").strip() or None
    review.resolve_conflict(
        runtime().uow, actor, uuid, conflict_id, resolution, chosen, reason, expected
    )
    return _find_page(uuid)
