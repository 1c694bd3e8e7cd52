"""Expeditions, their teams, sites and number blocks, and the reference for devices."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from field_server.api import messages
from field_server.api.endpoint import endpoint, json_response
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import expeditions as service

blueprint = Blueprint("expeditions", __name__, url_prefix="/api/v1")


@endpoint(
    blueprint,
    "/expeditions",
    "POST",
    summary="Create an expedition",
    tag="expeditions",
    body=messages.ExpeditionCreate,
    response=messages.Expedition,
    status=201,
    roles="admin",
)
def create_expedition(actor: Actor, body: dict[str, Any]) -> Response:
    row = service.create_expedition(runtime().uow, actor, service.ExpeditionSpec(**body))
    return json_response(
        {
            "code": row.code,
            "title": row.title,
            "year": row.year,
            "find_number_format": row.find_number_format,
            "accuracy_threshold_m": row.accuracy_threshold_m,
        },
        201,
    )


@endpoint(
    blueprint,
    "/expeditions/<code>/members",
    "POST",
    summary="Add a team member",
    tag="expeditions",
    body=messages.MemberAdd,
    response=messages.Member,
    status=201,
    roles="admin, the expedition's leader",
)
def add_member(actor: Actor, body: dict[str, Any], code: str) -> Response:
    result = service.add_member(runtime().uow, actor, code, body["username"], body["leader"])
    return json_response(result, 201 if result["added"] else 200)


@endpoint(
    blueprint,
    "/expeditions/<code>/sites",
    "POST",
    summary="Add a site with its boundary",
    tag="expeditions",
    body=messages.SiteCreate,
    response=messages.Site,
    status=201,
    roles="admin, the expedition's leader",
)
def add_site(actor: Actor, body: dict[str, Any], code: str) -> Response:
    result = service.add_site(
        runtime().uow, actor, code, body["code"], body["name"], body["boundary"]
    )
    return json_response(result, 201)


@endpoint(
    blueprint,
    "/expeditions/<code>/number-blocks",
    "POST",
    summary="Reserve a block of find numbers for a device",
    tag="expeditions",
    body=messages.NumberBlockRequest,
    response=messages.NumberBlock,
    status=201,
    roles="admin, the expedition's recorders",
)
def reserve_number_block(actor: Actor, body: dict[str, Any], code: str) -> Response:
    block = service.reserve_number_block(
        runtime().uow, actor, code, body["device_id"], body["count"]
    )
    numbers = block.numbers()
    return json_response(
        {
            "expedition_code": block.expedition_code,
            "device_id": block.device_id,
            "first": block.first,
            "last": block.last,
            "find_number_format": block.pattern,
            "first_number": numbers[0],
            "last_number": numbers[-1],
        },
        201,
    )


@endpoint(
    blueprint,
    "/reference",
    "GET",
    summary="What a device needs before going offline",
    tag="expeditions",
    response=messages.Reference,
    roles="any user",
)
def reference(actor: Actor) -> Response:
    return json_response(service.reference(runtime().uow, actor))
