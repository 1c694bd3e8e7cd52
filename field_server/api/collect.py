"""Keys for phones with ODK Collect, and the submissions they sent (DESIGN §9)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from field_server.api import collect_messages as messages
from field_server.api.endpoint import endpoint, json_response
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import collect, collect_keys
from field_server.services.errors import InvalidInput

blueprint = Blueprint("collect", __name__, url_prefix="/api/v1")


def public_base() -> str:
    """The address phones reach: the configured public one, else the one this request came
    to (with any path prefix the proxy set)."""
    return runtime().config.public_url or request.url_root.rstrip("/")


@endpoint(
    blueprint,
    "/expeditions/<code>/collect-keys",
    "POST",
    summary="Issue a key for one member's phone with ODK Collect",
    tag="collect",
    body=messages.CollectKeyRequest,
    response=messages.IssuedCollectKey,
    status=201,
    roles="admin, the expedition's leader",
)
def issue_key(actor: Actor, body: dict[str, Any], code: str) -> Response:
    issued = collect_keys.issue_key(
        runtime().uow,
        actor,
        code,
        body["username"],
        body["device_name"],
        body["survey_uuid"],
        public_base(),
    )
    return json_response(
        {
            "id": issued.id,
            "key": issued.key,
            "path": issued.path,
            "server_url": issued.server_url,
            "settings": issued.settings,
            "survey_uuid": issued.survey_uuid,
        },
        201,
    )


@endpoint(
    blueprint,
    "/expeditions/<code>/collect-keys",
    "GET",
    summary="The expedition's phone keys (never their secret)",
    tag="collect",
    response=messages.CollectKeyList,
    roles="admin, the expedition's leader",
)
def list_keys(actor: Actor, code: str) -> Response:
    return json_response({"keys": collect_keys.list_keys(runtime().uow, actor, code)})


@endpoint(
    blueprint,
    "/collect-keys/<int:key_id>",
    "DELETE",
    summary="Revoke a phone key at once",
    tag="collect",
    status=204,
    roles="admin, the expedition's leader",
)
def revoke_key(actor: Actor, key_id: int) -> Response:
    collect_keys.revoke_key(runtime().uow, actor, key_id)
    return Response(status=204)


@endpoint(
    blueprint,
    "/expeditions/<code>/collect-submissions",
    "GET",
    summary="The phones' submissions as received, with their problems, a page at a time",
    tag="collect",
    response=messages.CollectSubmissionPage,
    query=(
        ("status", "string", "filed or needs_review"),
        ("limit", "integer", "1 to 500, default 100"),
        ("after", "integer", "the last id of the page before"),
    ),
    roles="reviewers, registrars, admins, the expedition's members",
)
def list_submissions(actor: Actor, code: str) -> Response:
    try:
        limit = int(request.args.get("limit", "100"))
        after = int(request.args.get("after", "0"))
    except ValueError:
        raise InvalidInput(
            "limit and after are whole numbers",
            [{"field": "limit", "message": "a whole number"}],
        ) from None
    page = collect.list_submissions(
        runtime().uow, actor, code, request.args.get("status") or None, after, limit
    )
    return json_response(page)


@endpoint(
    blueprint,
    "/collect-submissions/<int:submission_id>.xml",
    "GET",
    summary="One submission's XML exactly as the phone sent it",
    tag="collect",
    roles="reviewers, registrars, admins, the expedition's members",
)
def submission_xml(actor: Actor, submission_id: int) -> Response:
    text = collect.submission_xml(runtime().uow, actor, submission_id)
    return Response(text.encode("utf-8"), mimetype="application/xml")
