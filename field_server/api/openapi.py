"""The OpenAPI 3 document, built from the routes' own declarations."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response

from field_core import wire
from field_server import __version__
from field_server.api.endpoint import REGISTRY, json_response

blueprint = Blueprint("openapi", __name__)

_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_][a-z0-9_]*)>")


@blueprint.get("/api/openapi.json")
def openapi_document() -> Response:
    return json_response(build_document())


@cache
def build_document() -> dict[str, Any]:
    spec = APISpec(
        title="Qazba field-data sync API",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=wire.Problem)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    paths: dict[str, dict[str, Any]] = {}
    for route in REGISTRY.routes:
        path = _PARAM.sub(r"{\1}", route.rule)
        operation: dict[str, Any] = {
            "summary": route.summary,
            "tags": [route.tag],
            "operationId": route.method + "_" + re.sub(r"[^a-z0-9]+", "_", path).strip("_"),
            "responses": {
                str(route.status): {"description": "success"},
                "default": {
                    "description": "a problem (RFC 9457)",
                    "content": {"application/problem+json": {"schema": problem_ref}},
                },
            },
        }
        for problem_status, when in route.problems:
            operation["responses"][str(problem_status)] = {
                "description": when,
                "content": {"application/problem+json": {"schema": problem_ref}},
            }
        if route.roles:
            operation["description"] = f"Who may call it: {route.roles}."
        if route.response is not None:
            operation["responses"][str(route.status)]["content"] = {
                "application/json": {"schema": route.response}
            }
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.body}},
            }
        if route.raw_body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {route.raw_body: {"schema": {"type": "string", "format": "binary"}}},
            }
        if route.authenticated:
            operation["security"] = [{"bearer": []}]
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(route.rule)
        ]
        parameters += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": kind},
                "description": description,
            }
            for name, kind, description in route.query
        ]
        parameters += [
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "schema": {"type": header.kind},
                "description": header.description,
            }
            for header in route.headers
        ]
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(path, {})[route.method] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    spec.path(
        path="/api/openapi.json",
        operations={
            "get": {
                "summary": "This document",
                "tags": ["access"],
                "operationId": "get_openapi",
                "responses": {"200": {"description": "the OpenAPI document"}},
            }
        },
    )
    return spec.to_dict()
