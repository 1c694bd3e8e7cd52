"""Sync protocol v1: push and pull of field records."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from field_core import wire
from field_server.api.endpoint import endpoint, raw_json_response
from field_server.api.problems import ApiProblem
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services.sync_pull import DEFAULT_LIMIT, MAX_LIMIT, pull_changes
from field_server.services.sync_push import apply_push

blueprint = Blueprint("sync", __name__, url_prefix="/api/v1")


@endpoint(
    blueprint,
    "/sync/push",
    "POST",
    summary="Push a batch of field records",
    tag="sync",
    body=wire.PushRequest,
    load_body=False,
    response=wire.PushResponse,
    roles="admin, the expedition's recorders",
)
def push(actor: Actor, body: Any) -> Response:
    return raw_json_response(apply_push(runtime().uow, actor, body))


@endpoint(
    blueprint,
    "/sync/pull",
    "GET",
    summary="Changes since a cursor",
    tag="sync",
    response=wire.PullResponse,
    roles="any user: the expeditions it may read",
    query=(
        ("since", "integer", "the cursor of the last pull (0 for everything)"),
        ("limit", "integer", f"changes per page, 1..{MAX_LIMIT}"),
    ),
)
def pull(actor: Actor) -> Response:
    since = _int_arg("since", 0, 0, 2**62)
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    page = pull_changes(runtime().uow, actor, since, limit)
    return raw_json_response(page.body)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiProblem(
            400,
            "invalid_query",
            f"{name} must be an integer from {low} to {high}",
            [{"field": name, "message": f"an integer from {low} to {high}"}],
        )
    return int(raw)
