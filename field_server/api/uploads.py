"""The tus 1.0.0 resumable upload endpoint for photo files at /api/v1/uploads: core, creation,
checksum and termination, so that any conforming tus client can send photos."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, NoReturn

from flask import Blueprint, Response, request, url_for
from werkzeug.exceptions import ClientDisconnected

from field_server.adapters.upload_staging import UPLOAD_ID, BodyInterrupted
from field_server.api.endpoint import Header, endpoint
from field_server.api.problems import ApiProblem
from field_server.api.tus_protocol import (
    CHECKSUM_ALGORITHMS,
    OFFSET_OCTET_STREAM,
    TUS_EXTENSIONS,
    TUS_VERSION,
    HeaderError,
    non_negative_integer,
    parse_checksum,
    photo_metadata,
    speaks_our_version,
)
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services.errors import NotFound
from field_server.services.uploads import Chunk, NewUpload, UploadProgress

blueprint = Blueprint("uploads", __name__, url_prefix="/api/v1")

UPLOADS_PATH = "/api/v1/uploads"
UPLOADERS = "admin, the recorders of an expedition; an upload only by the person who created it"

TUS_RESUMABLE = Header("Tus-Resumable", "string", "the protocol version: 1.0.0")
UPLOAD_OFFSET = Header("Upload-Offset", "integer", "where this chunk starts: the upload's offset")


@blueprint.before_request
def _speaks_tus_1_0_0() -> None:
    # OPTIONS is how a client learns the version, so it alone may come without one
    if request.method != "OPTIONS" and not speaks_our_version(request.headers.get("Tus-Resumable")):
        raise ApiProblem(
            412,
            "unsupported_tus_version",
            f"this server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}",
        )


@blueprint.after_app_request
def _tus_response_headers(response: Response) -> Response:
    if not _is_upload_path(request.path):
        return response
    response.headers["Tus-Resumable"] = TUS_VERSION
    if request.method == "OPTIONS" or response.status_code == 412:
        response.headers["Tus-Version"] = TUS_VERSION
    if request.method == "OPTIONS":
        response.headers["Tus-Extension"] = ",".join(TUS_EXTENSIONS)
        response.headers["Tus-Max-Size"] = str(runtime().config.max_upload_bytes)
        response.headers["Tus-Checksum-Algorithm"] = ",".join(CHECKSUM_ALGORITHMS)
    if response.status_code == 460:
        response.status = "460 Checksum Mismatch"
    return response


@endpoint(
    blueprint,
    "/uploads",
    "OPTIONS",
    summary="The server's tus configuration (Tus-Version, Tus-Extension, Tus-Max-Size, "
    "Tus-Checksum-Algorithm)",
    tag="uploads",
    authenticated=False,
    status=204,
)
def upload_configuration() -> Response:
    return Response(status=204)


@endpoint(
    blueprint,
    "/uploads",
    "POST",
    summary="Create an upload (tus creation); Location names it. 413 quota_exceeded when the "
    "declared length passes the caller's or an expedition's storage quota, or the caller has "
    "as many unfinished uploads as the server keeps open for one person",
    tag="uploads",
    status=201,
    roles=UPLOADERS,
    problems=(
        (
            413,
            "quota_exceeded: the declared length passes a storage quota, or too many uploads "
            "are unfinished; upload_too_large: more than Tus-Max-Size",
        ),
    ),
    headers=(
        TUS_RESUMABLE,
        Header(
            "Upload-Length",
            "integer",
            "the file's size in bytes, at most Tus-Max-Size; reserved against the storage quotas "
            "until the upload finishes",
        ),
        Header(
            "Upload-Metadata",
            "string",
            "comma-separated 'key base64(value)' pairs: sha256 (64 lowercase hex digits) is "
            "required, filename optional",
        ),
    ),
)
def create_upload(actor: Actor) -> Response:
    if "Upload-Defer-Length" in request.headers:
        _bad_header("Upload-Defer-Length", "not offered: send Upload-Length")
    if "Upload-Concat" in request.headers:
        _bad_header("Upload-Concat", "concatenation is not offered")
    with _header_errors():
        length = non_negative_integer("Upload-Length", request.headers.get("Upload-Length"))
        metadata = photo_metadata(request.headers.get("Upload-Metadata"))
    if length == 0:
        _bad_header("Upload-Length", "a photo file has at least one byte")
    progress = runtime().uploads.create(
        actor,
        NewUpload(metadata.sha256, metadata.filename, metadata.raw, length),
        runtime().config.storage_limits,
    )
    response = Response(status=201)
    response.headers["Location"] = url_for(
        "uploads.upload_offset", upload_id=progress.upload_id, _external=True
    )
    return response


@endpoint(
    blueprint,
    "/uploads/<upload_id>",
    "HEAD",
    summary="An upload's offset and length (tus core)",
    tag="uploads",
    roles=UPLOADERS,
    headers=(TUS_RESUMABLE,),
)
def upload_offset(actor: Actor, upload_id: str) -> Response:
    progress = runtime().uploads.progress(actor, _checked_id(upload_id))
    response = _with_offset(Response(status=200), progress)
    response.headers["Upload-Length"] = str(progress.length)
    if progress.upload_metadata:
        # checked against the metadata grammar at creation: printable ASCII only
        response.headers["Upload-Metadata"] = progress.upload_metadata
    response.headers["Cache-Control"] = "no-store"
    return response


@endpoint(
    blueprint,
    "/uploads/<upload_id>",
    "PATCH",
    summary="Append a chunk at Upload-Offset (tus core, checksum); the last one stores the "
    "photo if its SHA-256 matches",
    tag="uploads",
    status=204,
    roles=UPLOADERS,
    raw_body=OFFSET_OCTET_STREAM,
    headers=(
        TUS_RESUMABLE,
        UPLOAD_OFFSET,
        Header(
            "Upload-Checksum",
            "string",
            "'<sha1|sha256|md5> <base64 digest>' of this chunk; a mismatch answers 460",
            required=False,
        ),
    ),
)
def append_chunk(actor: Actor, upload_id: str) -> Response:
    # a chunk is streamed to disk, so it may be far larger than the JSON limit
    request.max_content_length = runtime().config.max_upload_bytes
    upload_id = _checked_id(upload_id)
    if request.mimetype != OFFSET_OCTET_STREAM:
        raise ApiProblem(
            415, "unsupported_media_type", f"send a chunk as Content-Type: {OFFSET_OCTET_STREAM}"
        )
    with _header_errors():
        offset = non_negative_integer("Upload-Offset", request.headers.get("Upload-Offset"))
        checksum = parse_checksum(request.headers.get("Upload-Checksum"))
    chunk = Chunk(offset, _reader(request.stream), request.content_length, checksum)
    progress = runtime().uploads.append(actor, upload_id, chunk)
    return _with_offset(Response(status=204), progress)


@endpoint(
    blueprint,
    "/uploads/<upload_id>",
    "DELETE",
    summary="Terminate an upload (tus termination); a photo it stored stays",
    tag="uploads",
    status=204,
    roles=UPLOADERS,
    headers=(TUS_RESUMABLE,),
)
def terminate_upload(actor: Actor, upload_id: str) -> Response:
    runtime().uploads.terminate(actor, _checked_id(upload_id))
    return Response(status=204)


class MethodOverride:
    """tus's X-HTTP-Method-Override: a client that cannot send PATCH or DELETE names the method
    in this header, and the request's own method is ignored. Only upload URLs honour it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").strip()
        if override and _is_upload_path(environ.get("PATH_INFO", "")):
            environ["REQUEST_METHOD"] = override.upper()
        return self.app(environ, start_response)


def _is_upload_path(path: str) -> bool:
    return path == UPLOADS_PATH or path.startswith(UPLOADS_PATH + "/")


def _checked_id(upload_id: str) -> str:
    if not UPLOAD_ID.fullmatch(upload_id):
        raise NotFound("no such upload")
    return upload_id


def _with_offset(response: Response, progress: UploadProgress) -> Response:
    response.headers["Upload-Offset"] = str(progress.offset)
    return response


def _reader(stream: IO[bytes]) -> Callable[[int], bytes]:
    def read(size: int) -> bytes:
        try:
            return stream.read(size)
        except (ClientDisconnected, OSError) as error:
            raise BodyInterrupted(str(error)) from error

    return read


@contextmanager
def _header_errors() -> Iterator[None]:
    """Turns a tus header the grammar refuses into a 400 problem naming the header."""
    try:
        yield
    except HeaderError as error:
        _bad_header(error.header, error.message)


def _bad_header(header: str, message: str) -> NoReturn:
    raise ApiProblem(
        400, "invalid_header", f"{header}: {message}", [{"field": header, "message": message}]
    )
