"""The duplicate queue in the review UI, a page at a time: the two finds of a pair side by
side, the finds of a number group one under another, merged (one kept) or dismissed by a
reviewer; and a whole expedition compared on demand."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import duplicate_queue, duplicates, find_merges
from field_server.web.blueprint import blueprint
from field_server.web.forms import CORRECTABLE
from field_server.web.signed_in import back
from field_server.web.signed_in import signed_in as page

# the fields a reviewer compares, in the order the two columns show them
COMPARED = (*CORRECTABLE[: CORRECTABLE.index("recorded_by")], "recorded_at", "recorded_by", "notes")


@blueprint.route("/expeditions/<code>/duplicates")
@page
def duplicate_candidates(actor: Actor, code: str) -> str:
    after = request.args.get("after") or None
    queue = duplicate_queue.duplicate_queue(runtime().uow, actor, code, after)
    return render_template(
        "duplicates.html", queue=queue, compared=COMPARED, detected=request.args.get("detected")
    )


@blueprint.route("/expeditions/<code>/duplicates/detect", methods=["POST"])
@page
def detect_duplicates(actor: Actor, code: str) -> Response:
    report = duplicates.detect_expedition(runtime().uow, actor, code)
    return redirect(url_for("web.duplicate_candidates", code=code, detected=report.open), 303)


@blueprint.route("/duplicates/<int:candidate_id>/merge", methods=["POST"])
@page
def merge_duplicate(actor: Actor, candidate_id: int) -> Response:
    reason = request.form.get("reason", "").strip() or None
    find_merges.merge_candidate(
        runtime().uow, actor, candidate_id, request.form.get("keep", ""), reason
    )
    return back(url_for("web.expeditions"), 303)


@blueprint.route("/duplicates/<int:candidate_id>/dismiss", methods=["POST"])
@page
def dismiss_duplicate(actor: Actor, candidate_id: int) -> Response:
    reason = request.form.get("reason", "").strip() or None
    duplicates.dismiss_candidate(runtime().uow, actor, candidate_id, reason)
    return back(url_for("web.expeditions"), 303)
