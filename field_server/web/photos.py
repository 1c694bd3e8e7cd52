"""Photos for the signed-in reviewer's browser: the same reading rules as the API's."""

from __future__ import annotations

from flask import Response, abort, request, send_from_directory
from werkzeug.wsgi import wrap_file

from field_server.adapters.photo_store import SHA256_HEX
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.web.blueprint import blueprint
from field_server.web.signed_in import signed_in as page

A_YEAR = 365 * 24 * 3600


@blueprint.route("/photos/<sha256>")
@page
def photo(actor: Actor, sha256: str) -> Response:
    if not SHA256_HEX.fullmatch(sha256):
        abort(404)
    opened = runtime().photos.open(actor, sha256)
    response = Response(
        wrap_file(request.environ, opened.stream),
        mimetype=opened.blob.media_type,
        direct_passthrough=True,
    )
    response.content_length = opened.size
    return _immutable(response, sha256, opened.size)


@blueprint.route("/photos/<sha256>/thumb")
@page
def thumbnail(actor: Actor, sha256: str) -> Response:
    if not SHA256_HEX.fullmatch(sha256):
        abort(404)
    data = runtime().photos.thumbnail(actor, sha256)
    return _immutable(Response(data, mimetype="image/jpeg"), f"{sha256}-thumb", len(data))


@blueprint.route("/static/vendor/leaflet/<path:filename>")
def leaflet(filename: str) -> Response:
    """Leaflet as npm installed it: the app serves its own map library, never a CDN's."""
    return send_from_directory(runtime().config.vendor_dir / "leaflet" / "dist", filename)


def _immutable(response: Response, etag: str, size: int) -> Response:
    """A blob never changes under its digest; bytes from the field are shown as the type the
    server sniffed, never as a browser guesses, and can run nothing."""
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.max_age = A_YEAR
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response.make_conditional(request, accept_ranges=True, complete_length=size)
