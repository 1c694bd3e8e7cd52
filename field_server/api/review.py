"""The duplicate queue and the review of finds (DESIGN §5, §6)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from marshmallow import ValidationError

from field_server.api import review_messages as messages
from field_server.api.endpoint import Header, endpoint, flatten_errors, json_response
from field_server.api.problems import ApiProblem
from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import duplicates, find_merges, review

blueprint = Blueprint("review", __name__, url_prefix="/api/v1")

REVIEWERS = "admin, reviewer"
IF_MATCH = Header("If-Match", "string", 'the ETag of GET /finds/<uuid> ("<server_rev>")', False)


@endpoint(
    blueprint,
    "/expeditions/<code>/duplicates",
    "GET",
    summary="A page of an expedition's duplicate candidates, strongest first",
    tag="review",
    response=messages.DuplicatePage,
    roles=REVIEWERS,
    query=(
        ("state", "string", "open (default), merged, dismissed, withdrawn or all"),
        ("limit", "integer", f"candidates per page, 1 to {duplicates.PAGE_MOST} (default 50)"),
        ("after", "string", "the next of the previous page"),
    ),
)
def list_duplicates(actor: Actor, code: str) -> Response:
    args = request.args
    page = duplicates.list_candidates(
        runtime().uow, actor, code, args.get("state") or None, args.get("limit"), args.get("after")
    )
    return json_response(page)


@endpoint(
    blueprint,
    "/expeditions/<code>/duplicates/detect",
    "POST",
    summary="Compare every find of an expedition for duplicates",
    tag="review",
    response=messages.DetectionReport,
    roles=REVIEWERS,
)
def detect_duplicates(actor: Actor, code: str) -> Response:
    report = duplicates.detect_expedition(runtime().uow, actor, code)
    return json_response(report.__dict__)


@endpoint(
    blueprint,
    "/duplicates/<int:candidate_id>/merge",
    "POST",
    summary="Merge a candidate: keep one find, the others (default: all) become its aliases",
    tag="review",
    body=messages.MergeRequest,
    response=messages.MergeResult,
    roles=REVIEWERS,
)
def merge(actor: Actor, body: dict[str, Any], candidate_id: int) -> Response:
    result = find_merges.merge_candidate(
        runtime().uow, actor, candidate_id, body["keep"], body["reason"], body["others"]
    )
    return json_response(result)


@endpoint(
    blueprint,
    "/duplicates/<int:candidate_id>/dismiss",
    "POST",
    summary="Dismiss a candidate: its finds are different finds, never suggested again",
    tag="review",
    body=messages.DismissRequest,
    response=messages.DuplicateCandidate,
    roles=REVIEWERS,
)
def dismiss(actor: Actor, body: dict[str, Any], candidate_id: int) -> Response:
    return json_response(
        duplicates.dismiss_candidate(runtime().uow, actor, candidate_id, body["reason"])
    )


@endpoint(
    blueprint,
    "/finds/<uuid>",
    "GET",
    summary="A find with its state, revisions, conflicts, aliases and audit trail",
    tag="review",
    response=messages.FindDetails,
    roles="admin, reviewer, registrar, the expedition's members",
)
def find(actor: Actor, uuid: str) -> Response:
    details = review.find_details(runtime().uow, actor, uuid)
    response = json_response(details)
    response.headers["ETag"] = f'"{details["server_rev"]}"'
    return response


@endpoint(
    blueprint,
    "/finds/<uuid>/review",
    "POST",
    summary="Approve or reject a find",
    tag="review",
    body=messages.ReviewRequest,
    response=messages.ReviewResult,
    roles=REVIEWERS,
    headers=(IF_MATCH,),
)
def review_find(actor: Actor, body: dict[str, Any], uuid: str) -> Response:
    result = review.review_find(
        runtime().uow,
        actor,
        uuid,
        body["decision"],
        body["reason"],
        _expected_rev(body["expected_rev"]),
    )
    return json_response(result)


@endpoint(
    blueprint,
    "/finds/<uuid>",
    "PATCH",
    summary="Correct fields of a find (null clears an optional field)",
    tag="review",
    body=messages.FindCorrection,
    load_body=False,
    response=messages.CorrectionResult,
    roles=REVIEWERS,
    headers=(IF_MATCH,),
)
def correct_find(actor: Actor, body: Any, uuid: str) -> Response:
    if not isinstance(body, dict):
        raise ApiProblem(422, "invalid_input", "the body is a JSON object", [])
    frame = {k: body[k] for k in ("reason", "expected_rev") if k in body}
    try:
        checked = messages.FindCorrection().load(frame)
    except ValidationError as error:
        raise ApiProblem(
            422, "invalid_input", "the correction is not valid", flatten_errors(error.messages)
        ) from None
    fields = {k: v for k, v in body.items() if k not in frame}
    result = review.correct_find(
        runtime().uow,
        actor,
        uuid,
        fields,
        checked["reason"],
        _expected_rev(checked["expected_rev"]),
    )
    return json_response(result)


@endpoint(
    blueprint,
    "/finds/<uuid>/conflicts/<int:conflict_id>/resolve",
    "POST",
    summary="Resolve a conflicting revision of a find",
    tag="review",
    body=messages.ConflictResolution,
    response=messages.ConflictResolved,
    roles="admin, reviewer, the expedition's leader",
    headers=(IF_MATCH,),
)
def resolve_conflict(actor: Actor, body: dict[str, Any], uuid: str, conflict_id: int) -> Response:
    result = review.resolve_conflict(
        runtime().uow,
        actor,
        uuid,
        conflict_id,
        body["resolution"],
        body["fields"],
        body["reason"],
        _expected_rev(body["expected_rev"]),
    )
    return json_response(result)


def _expected_rev(from_body: int | None) -> int | None:
    """expected_rev from the body, else from If-Match ("3" or W/"3")."""
    if from_body is not None:
        return from_body
    header = request.headers.get("If-Match")
    if not header:
        return None
    tag = header.strip().removeprefix("W/").strip('"')
    if not (tag.isascii() and tag.isdigit()) or len(tag) > 10:
        raise ApiProblem(
            412, "precondition_failed", 'If-Match carries the ETag of GET /finds/<uuid>: "<rev>"'
        )
    return int(tag)
