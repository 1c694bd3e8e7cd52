"""The exports page: an expedition's finds, sites, trenches and tracks as a GIS file or a map
figure, downloaded with the browser's session through services.exports (streamed where the
format allows), with the API's reading rules."""

from __future__ import annotations

from field_core.contract import MATERIAL_CODES
from flask import Response, render_template, request

from field_server.api.exports import export_response
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import exports, survey_view
from field_server.web.blueprint import blueprint
from field_server.web.i18n import current_language
from field_server.web.signed_in import signed_in as page

# the systems a report author in the region asks for; any other EPSG code may be typed
CRS_CHOICES = ("EPSG:4326", "EPSG:32642", "EPSG:28412", "EPSG:2502")


@blueprint.route("/expeditions/<code>/exports")
@page
def exports_page(actor: Actor, code: str) -> str:
    choices = survey_view.export_choices(runtime().uow, actor, code)
    return render_template(
        "exports.html",
        expedition=choices.expedition,
        surveys=choices.surveys,
        sites=choices.sites,
        formats=exports.FORMATS,
        statuses=exports.STATUSES,
        materials=MATERIAL_CODES,
        crs_choices=CRS_CHOICES,
        languages=exports.LANGUAGES,
        lang=current_language(),
    )


@blueprint.route("/expeditions/<code>/exports/download")
@page
def export_download(actor: Actor, code: str) -> Response:
    fmt = request.args.get("format", "")
    # the form sends every box; an empty one is no filter, and the CRS and BOM only where
    # the format takes them
    query = {
        name: value.strip()
        for name, value in request.args.items()
        if name != "format" and value.strip()
    }
    if fmt not in exports.FIGURE_FORMATS:
        query.pop("lang", None)
    if fmt != "csv":
        query.pop("bom", None)
    if fmt in exports.WGS84_ONLY:
        query.pop("crs", None)
    plan = exports.plan_export(
        runtime().uow, actor, code, fmt, query, photo_base_url=request.host_url.rstrip("/")
    )
    return export_response(plan)
