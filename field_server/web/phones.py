"""Phones with ODK Collect in the review UI (DESIGN §9): the keys an expedition's leader issues
and revokes, with the configuration QR code a phone scans, and the submissions that could not
make a find, which a reviewer or the leader corrects into one.

A key's secret is in the address the phone keeps, so it is shown exactly once: in the page
that answers the form issuing it. Only the key's hash is stored; no later page, cache or
link can show it again (the answer is ``no-store`` like every page).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import segno
from field_core.contract import MATERIAL_CODES
from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from field_server.api.collect import public_base
from field_server.api.openrosa import collect as collect_service
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import collect, collect_keys
from field_server.services.collect_keys import IssuedKey
from field_server.services.errors import InvalidInput
from field_server.web.blueprint import blueprint
from field_server.web.forms import CORRECTABLE, find_value
from field_server.web.pages import FIND_FIELDS, KINDS, POSITION_FIELDS
from field_server.web.signed_in import signed_in as page

# Collect reads a QR code from a phone screen or paper: medium error correction survives a
# crease or a glare, and the payload (compressed settings) stays a small code
QR_ERROR = "m"
QR_SCALE = 5


def qr_image(settings: str) -> str:
    """The configuration QR code as an SVG data URI: an image the page's policy allows
    (``img-src data:``) without a script or a second request that would need the secret."""
    code = segno.make(settings, error=QR_ERROR, micro=False)
    return str(code.svg_data_uri(scale=QR_SCALE, border=4, dark="#000", light="#fff"))


def _dated(key: dict[str, Any]) -> dict[str, Any]:
    """A listed key with its times as times, for the pages' ``when``."""
    times = ("created_at", "last_used_at", "revoked_at")
    return {**key, **{t: datetime.fromisoformat(key[t]) if key[t] else None for t in times}}


def _keys_page(actor: Actor, code: str, issued: IssuedKey | None = None, device: str = "") -> str:
    keys = [_dated(key) for key in collect_keys.list_keys(runtime().uow, actor, code)]
    members, surveys = collect.key_choices(runtime().uow, actor, code)
    return render_template(
        "phone_keys.html",
        code=code,
        keys=keys,
        members=members,
        surveys=surveys,
        issued=issued,
        issued_device=device,
        qr=qr_image(issued.settings) if issued else None,
    )


@blueprint.route("/expeditions/<code>/phones")
@page
def phone_keys(actor: Actor, code: str) -> str:
    return _keys_page(actor, code)


@blueprint.route("/expeditions/<code>/phones", methods=["POST"])
@page
def issue_phone_key(actor: Actor, code: str) -> str:
    # answered with the page itself, not a redirect: the secret is in this answer only
    issued = collect_keys.issue_key(
        runtime().uow,
        actor,
        code,
        request.form.get("username", "").strip(),
        request.form.get("device_name", ""),
        request.form.get("survey_uuid", "").strip() or None,
        public_base(),
    )
    return _keys_page(actor, code, issued, request.form.get("device_name", "").strip())


@blueprint.route("/expeditions/<code>/phones/<int:key_id>/revoke", methods=["POST"])
@page
def revoke_phone_key(actor: Actor, code: str, key_id: int) -> Response:
    # a phone in the field stops sending at once: the leader ticks that they mean it
    if request.form.get("confirm") != "yes":
        raise InvalidInput("tick to confirm", [{"field": "confirm", "message": "required"}])
    collect_keys.revoke_key(runtime().uow, actor, key_id)
    return redirect(url_for("web.phone_keys", code=code), 303)


# the correction form offers the find page's fields but the member: a phone's find is recorded
# by its key's member, whoever corrects it
SUBMISSION_FIELDS = tuple(name for name in CORRECTABLE if name in collect.CORRECTED)


def waiting(expedition_id: int) -> int:
    """Submissions of the expedition waiting for a person, for the dashboard's link."""
    return collect.attention_count(runtime().uow, expedition_id)


def _submissions_page(
    actor: Actor,
    code: str,
    refused: dict[int, list[dict[str, str]]] | None = None,
    typed: dict[int, dict[str, str]] | None = None,
) -> str:
    expedition, found = collect.needing_attention(runtime().uow, actor, code)
    return render_template(
        "phone_submissions.html",
        e=expedition,
        submissions=found,
        may_correct=actor.may_review() or actor.may_manage_team(expedition.id),
        correctable=SUBMISSION_FIELDS,
        find_fields=FIND_FIELDS,
        position_fields=POSITION_FIELDS,
        materials=MATERIAL_CODES,
        kinds=KINDS,
        refused=refused or {},
        typed=typed or {},
    )


@blueprint.route("/expeditions/<code>/phones/submissions")
@page
def phone_submissions(actor: Actor, code: str) -> str:
    return _submissions_page(actor, code)


@blueprint.route("/expeditions/<code>/phones/submissions/<int:submission_id>.xml")
@page
def phone_submission_xml(actor: Actor, code: str, submission_id: int) -> Response:
    text = collect.submission_xml(runtime().uow, actor, submission_id)
    return Response(
        text.encode("utf-8"),
        mimetype="application/xml",
        # saved as a file, never shown as a page the browser might run
        headers={"Content-Disposition": f'attachment; filename="submission-{submission_id}.xml"'},
    )


@blueprint.route(
    "/expeditions/<code>/phones/submissions/<int:submission_id>/correct", methods=["POST"]
)
@page
def correct_submission(actor: Actor, code: str, submission_id: int) -> Response | tuple[str, int]:
    typed = {name: request.form[name] for name in SUBMISSION_FIELDS if name in request.form}
    try:
        fields = {name: find_value(name, text) for name, text in typed.items()}
        find_uuid = collect_service().correct(
            actor,
            submission_id,
            fields,
            request.form.get("reason", ""),
            request.form.get("expected_updated_at", ""),
        )
    except InvalidInput as refused:
        # the same page again with the problems beside the form and what was typed kept
        page_text = _submissions_page(
            actor, code, {submission_id: refused.errors}, {submission_id: typed}
        )
        return page_text, 422
    return redirect(url_for("web.find", uuid=find_uuid), 303)
