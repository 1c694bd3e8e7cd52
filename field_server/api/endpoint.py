"""How an API route is declared: one decorator gives authentication, body checking and the
OpenAPI entry, so the document and the validation come from the same declaration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, ValidationError

from field_core.validation import MalformedJSON, parse_json_strict
from field_server.api.problems import ApiProblem
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services.auth import actor_for_token
from field_server.services.errors import Unauthenticated


class Header(NamedTuple):
    """A request header a route reads, for the document."""

    name: str
    kind: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class Route:
    """One documented endpoint."""

    rule: str
    method: str
    summary: str
    tag: str
    authenticated: bool
    body: type[Schema] | None
    response: type[Schema] | None
    status: int
    query: tuple[tuple[str, str, str], ...] = ()  # (name, type, description)
    media_types: tuple[str, ...] = ("application/json",)
    roles: str = ""  # who may call it, for the document
    headers: tuple[Header, ...] = ()
    raw_body: str | None = None  # media type of a body the view reads as a stream
    problems: tuple[tuple[int, str], ...] = ()  # (status, when) a client should expect


@dataclass
class Registry:
    routes: list[Route] = field(default_factory=list)


REGISTRY = Registry()


def endpoint(
    blueprint: Blueprint,
    rule: str,
    method: str,
    *,
    summary: str,
    tag: str,
    authenticated: bool = True,
    body: type[Schema] | None = None,
    load_body: bool = True,
    response: type[Schema] | None = None,
    status: int = 200,
    query: tuple[tuple[str, str, str], ...] = (),
    roles: str = "",
    headers: tuple[Header, ...] = (),
    raw_body: str | None = None,
    permitted: Callable[[Actor], None] | None = None,
    problems: tuple[tuple[int, str], ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route. The view gets ``actor`` and, with a body schema, ``body``.

    ``permitted`` checks the caller's role (raising Forbidden) before anything else of the
    request is read, so a caller without the role gets 403 whatever path, query or body they
    send, never a validation answer that would tell them about the data.

    ``load_body=False`` hands the view the parsed JSON unchecked: the sync push checks its
    records one by one, so one bad record does not reject the batch. ``raw_body`` documents a
    non-JSON body (a tus chunk) that the view streams itself.
    """
    full_rule = (blueprint.url_prefix or "") + rule
    schema = body() if body is not None else None

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        def handler(**kwargs: Any) -> Any:
            if authenticated:
                kwargs["actor"] = current_actor()
                if permitted is not None:
                    permitted(kwargs["actor"])
            if schema is not None:
                payload = json_body()
                if load_body:
                    try:
                        payload = schema.load(payload)
                    except ValidationError as error:
                        raise ApiProblem(
                            422,
                            "invalid_input",
                            "the request body is not valid",
                            flatten_errors(error.messages),
                        ) from None
                kwargs["body"] = payload
            return view(**kwargs)

        handler.__name__ = view.__name__
        handler.__doc__ = view.__doc__
        blueprint.add_url_rule(rule, view.__name__, handler, methods=[method])
        REGISTRY.routes.append(
            Route(
                full_rule,
                method.lower(),
                summary,
                tag,
                authenticated,
                body,
                response,
                status,
                query,
                roles=roles,
                headers=headers,
                raw_body=raw_body,
                problems=problems,
            )
        )
        return handler

    return wrap


def current_actor() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>' (POST /api/v1/auth/token)")
    return actor_for_token(runtime().uow, token.strip())


def json_body() -> Any:
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiProblem(415, "unsupported_media_type", "send the body as application/json")
    # get_data() refuses bodies over MAX_CONTENT_LENGTH before reading them (413)
    raw = request.get_data(cache=False)
    try:
        return parse_json_strict(raw)
    except MalformedJSON as error:
        raise ApiProblem(400, "malformed_json", f"the body is not valid JSON: {error}") from None


def json_response(payload: Any, status: int = 200) -> Response:
    return current_app.response_class(
        current_app.json.dumps(payload), status=status, mimetype="application/json"
    )


def raw_json_response(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="application/json")


def flatten_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested error dict as a flat list of {field, message}."""
    flat: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.extend(flatten_errors(value, name))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            flat.extend({"field": prefix, "message": m} for m in messages)
        else:
            for item in messages:
                flat.extend(flatten_errors(item, prefix))
    else:
        flat.append({"field": prefix, "message": str(messages)})
    return flat
