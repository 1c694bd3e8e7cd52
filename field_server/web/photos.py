"""Photos for the signed-in reviewer's browser: the same reading rules as the API's."""

from __future__ import annotations

from pathlib import Path

from flask import Response, send_from_directory

from field_server.api.photos import photo_file_response, thumbnail_response
from field_server.domain.access import Actor
from field_server.web.blueprint import blueprint
from field_server.web.signed_in import signed_in as page

LEAFLET_DIR = Path(__file__).resolve().parent / "static" / "vendor" / "leaflet"


@blueprint.route("/photos/<sha256>")
@page
def photo(actor: Actor, sha256: str) -> Response:
    return photo_file_response(actor, sha256)


@blueprint.route("/photos/<sha256>/thumb")
@page
def thumbnail(actor: Actor, sha256: str) -> Response:
    return thumbnail_response(actor, sha256)


@blueprint.route("/static/vendor/leaflet/<path:filename>")
def leaflet(filename: str) -> Response:
    """Leaflet's released files, shipped inside the package: the app serves its own map
    library, never a CDN's, and needs no npm where it is installed."""
    return send_from_directory(LEAFLET_DIR, filename)
