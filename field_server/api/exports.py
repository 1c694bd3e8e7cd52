"""Exports of an expedition as files, and its finds checked again against its sites."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

from flask import Blueprint, Response, request, stream_with_context
from werkzeug.wsgi import wrap_file

from field_server.api.endpoint import endpoint, json_response
from field_server.api.problems import ApiProblem
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import exports as service
from field_server.services.spatial_checks import check_expedition

blueprint = Blueprint("exports", __name__, url_prefix="/api/v1")

READERS = "reviewers, registrars and admins; recorders of the expedition"


@endpoint(
    blueprint,
    "/expeditions/<code>/export.<fmt>",
    "GET",
    summary="An expedition's finds, sites, trenches and tracks as a GIS file or a map figure",
    tag="exports",
    roles=READERS,
    query=(
        ("crs", "string", "EPSG code for csv, gpkg and the figure (e.g. EPSG:32642)"),
        ("survey", "string", "only the finds of this survey (uuid)"),
        ("site", "string", "only this site's finds (site code)"),
        ("status", "string", "synced, approved, rejected, merged or accessioned"),
        ("material", "string", "a material code"),
        ("from", "string", "found on or after this date (YYYY-MM-DD)"),
        ("to", "string", "found on or before this date (YYYY-MM-DD)"),
        ("bom", "string", "csv: 1 starts the file with a UTF-8 byte order mark"),
        ("lang", "string", "the figure's language: kk (default), ru or en"),
    ),
)
def export(actor: Actor, code: str, fmt: str) -> Response:
    query = {}
    for name, values in request.args.lists():
        if len(values) != 1:
            raise ApiProblem(
                422,
                "invalid_input",
                f"{name} is given more than once",
                [{"field": name, "message": "once"}],
            )
        query[name] = values[0]
    plan = service.plan_export(
        runtime().uow, actor, code, fmt, query, photo_base_url=request.root_url.rstrip("/")
    )
    return export_response(plan)


def export_response(plan: service.ExportPlan) -> Response:
    """A checked export as a download: streamed where the format allows, else sent from a
    file of its own under the data folder (the API and the web page answer alike)."""
    fmt = plan.request.fmt
    headers = {"Content-Disposition": content_disposition(plan.filename)}
    if fmt in service.STREAMED_FORMATS:
        return Response(
            stream_with_context(plan.stream()), headers=headers, content_type=plan.media_type
        )
    # a GeoPackage is a database file and a figure is drawn whole: both go through a file
    # under the data folder, removed from disk as soon as it is open for sending; the random
    # name keeps two downloads of the same export apart
    scratch = runtime().config.data_dir / "exports"
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / f"export-{uuid.uuid4().hex}.{fmt}"
    try:
        if fmt in service.FILE_FORMATS:
            plan.write_file(path)
        else:
            with path.open("wb") as out:
                plan.write_figure(out)
        stream = path.open("rb")
    finally:
        path.unlink(missing_ok=True)
    size = os.fstat(stream.fileno()).st_size
    response = Response(
        wrap_file(request.environ, stream),
        headers=headers,
        content_type=plan.media_type,
        direct_passthrough=True,
    )
    response.content_length = size
    return response


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """An ASCII ``filename`` for old clients and the exact name by RFC 5987 / 6266; an
    ``inline`` disposition lets the browser show what it can."""
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename
    )
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@endpoint(
    blueprint,
    "/expeditions/<code>/spatial-checks",
    "GET",
    summary="Check every find of an expedition against its sites and accuracy threshold again",
    tag="exports",
    roles=READERS,
)
def spatial_checks(actor: Actor, code: str) -> Response:
    return json_response(check_expedition(runtime().uow, actor, code))
