"""The OpenAPI document describes every route the app serves, from the same declarations."""

from __future__ import annotations

import re

from tests.integration.conftest import World
from tests.integration.test_auth_matrix import declared_methods


def test_health_answers_without_a_token(world: World) -> None:
    response = world.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_the_document_lists_every_route_and_method(world: World) -> None:
    response = world.client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (method, re.sub(r"<(?:[a-z]+:)?([a-z_][a-z0-9_]*)>", r"{\1}", rule.rule))
        for rule in world.app.url_map.iter_rules()
        # the review UI's pages are HTML for people, not part of the API
        if rule.endpoint != "static" and rule.rule.startswith("/api/")
        for method in declared_methods(rule)
    }
    assert documented == served


def test_the_push_request_schema_comes_from_the_wire_schemas(world: World) -> None:
    document = world.client.get("/api/openapi.json").get_json()
    body = document["paths"]["/api/v1/sync/push"]["post"]["requestBody"]
    reference = body["content"]["application/json"]["schema"]["$ref"]
    name = reference.rsplit("/", 1)[-1]
    properties = document["components"]["schemas"][name]["properties"]
    assert set(properties) == {"device_id", "batch_id", "records"}
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_the_refusals_a_client_must_expect_are_declared(world: World) -> None:
    document = world.client.get("/api/openapi.json").get_json()
    creation = document["paths"]["/api/v1/uploads"]["post"]["responses"]
    assert "quota_exceeded" in creation["413"]["description"]
    token = document["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "too_many_attempts" in token["429"]["description"]
    for answer in (creation["413"], token["429"]):
        assert "application/problem+json" in answer["content"]
