"""OpenRosa 1.0 for ODK Collect and its kin, under the address a phone's key gives it:
``/odk/key/<key>/<CODE>/formList``, ``…/forms/qazba_find.xml`` and ``…/submission``
(DESIGN §9). Thin over field_server.services.collect; every answer is XML with
``X-OpenRosa-Version: 1.0``, and a refused key is a 403 (a 401 would make Collect ask for a
password nobody has)."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import parse_form_data

from field_core.collect.form import FORM_ID
from field_core.collect.openrosa import INCOMPLETE_PART, XML_PART, message_xml, plain_file_name
from field_server.domain.sign_in_throttle import Kind
from field_server.runtime import runtime
from field_server.services import sign_in_throttle
from field_server.services.collect import Attachment, Collect, CollectRefused
from field_server.services.collect_keys import PhoneKey
from field_server.services.sign_in_throttle import TooManyAttempts

blueprint = Blueprint("openrosa", __name__, url_prefix="/odk/key/<key>/<code>")


def collect() -> Collect:
    service: Collect = current_app.extensions["qazba_collect"]
    return service


def _headers() -> dict[str, str]:
    return {"X-OpenRosa-Version": "1.0", "Date": formatdate(usegmt=True)}


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, headers=_headers(), content_type="text/xml; charset=utf-8")


def message_response(text: str, status: int, nature: str = "") -> Response:
    return xml_response(message_xml(text, nature), status)


def openrosa(view: Callable[..., Response]) -> Callable[..., Response]:
    """Every refusal as an OpenRosa message with its status, never an HTML or JSON page."""

    @wraps(view)
    def answer(**kwargs: Any) -> Response:
        try:
            return view(**kwargs)
        except CollectRefused as refused:
            return message_response(refused.detail, refused.status)
        except TooManyAttempts as waiting:
            response = message_response(waiting.detail, 429)
            response.headers["Retry-After"] = str(waiting.retry_after)
            return response
        except HTTPException as error:
            status = error.code or 400
            if status == 413:
                text = "the submission is larger than this server takes in one request"
            else:
                text = f"the request could not be read: {error.description}"
            return message_response(text, status)

    return answer


def phone_of(key: str, code: str) -> PhoneKey:
    """The key's phone. A key in the address is a secret like a password: a client refused
    too many keys waits (429) before any key of theirs is looked up again."""
    address = request.remote_addr or ""
    sign_in_throttle.check(runtime().uow, Kind.PHONE_KEY, "", address)
    try:
        return collect().phone(key, code)
    except CollectRefused as refused:
        if refused.status == 403:
            sign_in_throttle.note_failure(
                runtime().uow, Kind.PHONE_KEY, "", address, "collect.key_refused",
                f"expedition:{code}",
            )  # fmt: skip
        raise


def _base_url(key: str, code: str) -> str:
    public = runtime().config.public_url or request.url_root.rstrip("/")
    return f"{public}/odk/key/{key}/{code}"


@blueprint.get("/formList")
@openrosa
def form_list(key: str, code: str) -> Response:
    phone = phone_of(key, code)
    return xml_response(collect().form_list(phone, _base_url(key, code)))


@blueprint.get("/forms/<form_file>")
@openrosa
def form_download(key: str, code: str, form_file: str) -> Response:
    phone = phone_of(key, code)
    if form_file != f"{FORM_ID}.xml":
        raise CollectRefused(404, f"no form {form_file[:80]!r} here")
    return xml_response(collect().form(phone).xml)


@blueprint.route("/submission", methods=["HEAD"])
@openrosa
def submission_limits(key: str, code: str) -> Response:
    phone_of(key, code)
    headers = {
        **_headers(),
        "X-OpenRosa-Accept-Content-Length": str(runtime().config.max_submission_bytes),
    }
    return Response(status=204, headers=headers)


@blueprint.route("/submission", methods=["POST"])
@openrosa
def submission(key: str, code: str) -> Response:
    phone = phone_of(key, code)
    limit = runtime().config.max_submission_bytes
    # refused before a byte of the body is read
    if request.content_length is not None and request.content_length > limit:
        raise CollectRefused(413, f"a submission request takes at most {limit:,} bytes")
    collect().check_room(phone, request.content_length or limit)
    if request.mimetype != "multipart/form-data":
        raise CollectRefused(400, "send the submission as multipart/form-data")
    spool = collect().spool()
    try:
        # Each file part is written straight into the staging folder as it arrives, never
        # whole in memory; a broken body parses to no parts, as Flask's own parsing does, and
        # Flask's guards on form fields apply. A body without Content-Length is cut off at the
        # limit too: werkzeug refuses a stream that reaches its maximum (it reads once more to
        # see the end), so its maximum is one byte over the limit, and a body of exactly the
        # length a phone is told it may send is taken.
        _, form, files = parse_form_data(
            request.environ,
            stream_factory=spool,
            max_form_memory_size=request.max_form_memory_size,
            max_content_length=limit + 1,
            max_form_parts=request.max_form_parts,
        )
        parts: list[tuple[str, FileStorage]] = list(files.items(multi=True))
        for name, part in parts:
            for given in (name, part.filename or ""):
                if not plain_file_name(given):
                    raise CollectRefused(
                        400, f"a part is named {given[:80]!r}, not a plain file name"
                    )
        xml_parts = [part for name, part in parts if name == XML_PART]
        if len(xml_parts) != 1:
            raise CollectRefused(400, f"send the form instance as one part named {XML_PART}")
        xml = xml_parts[0].stream.read(collect().max_instance_bytes + 1)
        attachments = [
            Attachment(part.filename or name, part.stream, spool.path_of(part.stream))
            for name, part in parts
            if name != XML_PART
        ]
        incomplete = form.get(INCOMPLETE_PART, "").strip().lower() in ("yes", "true")
        received = collect().receive(phone, xml, attachments, incomplete)
    finally:
        spool.close()
    return message_response(received.message, 201, "submit_success")
