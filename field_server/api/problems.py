"""RFC 9457 problem documents for every error the API gives."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from field_server.services.errors import ServiceError

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:qazba:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_TITLES = {
    400: "Bad request",
    401: "Authentication needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Server error",
}

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ApiProblem(Exception):
    def __init__(
        self, status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(ApiProblem)
    def _api_problem(error: ApiProblem) -> Response:
        return problem(
            error.status, error.code, _TITLES.get(error.status, "Error"), error.detail, error.errors
        )

    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="qazba"'} if error.status == 401 else None
        return problem(
            error.status,
            error.code,
            _TITLES.get(error.status, "Error"),
            error.detail,
            error.errors or None,
            headers,
        )

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = problem(
            status,
            _HTTP_CODES.get(status, f"http_{status}"),
            _TITLES.get(status, error.name),
            error.description,
        )
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unexpected error")
        return problem(
            500, "server_error", "Server error", "the server failed; the request was not applied"
        )
