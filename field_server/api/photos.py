"""Photos: which ones the server still needs, and reading a stored one or its thumbnail."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from werkzeug.wsgi import wrap_file

from field_server.adapters.photo_store import SHA256_HEX
from field_server.api import messages
from field_server.api.endpoint import endpoint, json_response
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services.errors import NotFound

blueprint = Blueprint("photos", __name__, url_prefix="/api/v1")

READERS = (
    "reviewers, registrars and admins; anyone whose expedition has a photo record naming it; "
    "the person who uploaded it"
)
A_YEAR = 365 * 24 * 3600


@endpoint(
    blueprint,
    "/photos/missing",
    "POST",
    summary="Which photos the server has no file for",
    tag="photos",
    body=messages.PhotosMissingRequest,
    response=messages.PhotosMissing,
    roles="admin, the recorders of an expedition",
)
def photos_missing(actor: Actor, body: dict[str, Any]) -> Response:
    return json_response({"missing": runtime().photos.missing(actor, body["sha256"])})


@endpoint(
    blueprint,
    "/photos/<sha256>",
    "GET",
    summary="A photo's file, as it was uploaded",
    tag="photos",
    roles=READERS,
)
def photo_file(actor: Actor, sha256: str) -> Response:
    return photo_file_response(actor, sha256)


@endpoint(
    blueprint,
    "/photos/<sha256>/thumb",
    "GET",
    summary="A photo's thumbnail: JPEG, at most 320 px a side, upright by its EXIF orientation",
    tag="photos",
    roles=READERS,
)
def photo_thumbnail(actor: Actor, sha256: str) -> Response:
    return thumbnail_response(actor, sha256)


# The review UI serves the same files to signed-in browsers through these two, so the
# digest is checked here, once for both.


def photo_file_response(actor: Actor, sha256: str) -> Response:
    _check_digest(sha256)
    opened = runtime().photos.open(actor, sha256)
    response = Response(
        wrap_file(request.environ, opened.stream),
        mimetype=opened.blob.media_type,
        direct_passthrough=True,
    )
    response.content_length = opened.size
    return _immutable(response, sha256, opened.size)


def thumbnail_response(actor: Actor, sha256: str) -> Response:
    _check_digest(sha256)
    data = runtime().photos.thumbnail(actor, sha256)
    return _immutable(Response(data, mimetype="image/jpeg"), f"{sha256}-thumb", len(data))


def _check_digest(sha256: str) -> None:
    if not SHA256_HEX.fullmatch(sha256):
        raise NotFound("a photo is named by its SHA-256: 64 lowercase hex digits")


def _immutable(response: Response, etag: str, size: int) -> Response:
    """A blob never changes under its digest, so a client may keep it for good."""
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.max_age = A_YEAR
    response.cache_control.immutable = True
    # bytes from the field are shown as the type the server sniffed, never as a browser guesses
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response.make_conditional(request, accept_ranges=True, complete_length=size)
