"""The review UI's blueprint, its error pages and the checks every request of it passes."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from field_server.services.errors import ServiceError
from field_server.web import csrf
from field_server.web.signed_in import local_target

blueprint = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)

blueprint.before_request(csrf.check)


@blueprint.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> Response | tuple[str, int]:
    if error.status == 401:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    # the services' details are in English: the page says what happened in the reader's
    # language and names the fields that were refused
    fields = sorted({e.get("field", "") for e in error.errors} - {""})
    # a form filled in on an older revision of a find: say so, and lead back to reload it
    kind = "stale" if error.code == "stale" else None
    back = local_target(request.form.get("next"), "") if request.method == "POST" else ""
    page = render_template("error.html", status=error.status, kind=kind, fields=fields, back=back)
    return page, error.status


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    kind = "csrf" if status == 400 and error.description == "csrf" else None
    return render_template("error.html", status=status, kind=kind, fields=[], back=""), status
