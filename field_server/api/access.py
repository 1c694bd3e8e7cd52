"""Health and tokens: the routes a device calls first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from field_server import __version__
from field_server.api import messages
from field_server.api.endpoint import endpoint, json_response
from field_server.api.problems import problem
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import auth
from field_server.services.sign_in_throttle import TooManyAttempts

blueprint = Blueprint("access", __name__, url_prefix="/api/v1")


@endpoint(
    blueprint,
    "/health",
    "GET",
    summary="Is the server up",
    tag="access",
    authenticated=False,
    response=messages.Health,
)
def health() -> Response:
    return json_response({"status": "ok", "version": __version__})


@endpoint(
    blueprint,
    "/auth/token",
    "POST",
    summary="Log in: a bearer token for a device",
    tag="access",
    authenticated=False,
    problems=(
        (
            429,
            "too_many_attempts: too many failed sign-ins for this account or from this "
            "address; Retry-After says in how many seconds to try again",
        ),
    ),
    body=messages.TokenRequest,
    response=messages.TokenResponse,
    status=201,
)
def issue_token(body: dict[str, Any]) -> Response:
    config = runtime().config
    try:
        issued = auth.issue_token(
            runtime().uow,
            body["username"],
            body["password"],
            body["device_name"],
            days=config.token_days,
            cost=config.scrypt_cost,
            address=request.remote_addr or "",
        )
    except TooManyAttempts as refused:
        return problem(
            429,
            refused.code,
            "Too many attempts",
            refused.detail,
            headers={"Retry-After": str(refused.retry_after)},
        )
    return json_response(
        {
            "token": issued.token,
            "expires_at": issued.expires_at.isoformat(),
            "user": {"username": issued.username, "roles": list(issued.roles)},
        },
        201,
    )


@endpoint(
    blueprint,
    "/auth/token",
    "DELETE",
    summary="Log out: revoke the token sent",
    tag="access",
    status=204,
    roles="any user",
)
def revoke_token(actor: Actor) -> Response:
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    auth.revoke_token(runtime().uow, token.strip())
    return Response(status=204)
