"""The refusals waitress gives before the app sees a request, in the form each client reads.

Waitress answers some requests itself: a declared Content-Length over its body limit (413), a
request line or headers it cannot parse (400), headers too large (431). Its answer is plain
text. A phone's request (under ``/odk/key/``) gets an OpenRosa message with
``X-OpenRosa-Version: 1.0`` instead, as every answer to Collect does (DESIGN §9), and anything
else a problem document, as every API error is.
"""

from __future__ import annotations

import json
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from field_core.collect.openrosa import message_xml

_PHONE_PATH = "/odk/key/"
_CODES = {400: "bad_request", 413: "payload_too_large", 431: "headers_too_large"}
_WORDS = {
    413: "the request is larger than this server takes",
    431: "the request's headers are larger than this server takes",
}


def _answer(status: int, reason: str, path: str) -> tuple[list[tuple[str, str]], bytes]:
    detail = _WORDS.get(status, f"the request could not be read: {reason.lower()}")
    if _PHONE_PATH in path:  # behind a public address with a path, the prefix comes first
        headers = [
            ("Content-Type", "text/xml; charset=utf-8"),
            ("X-OpenRosa-Version", "1.0"),
        ]
        return headers, message_xml(detail, "")
    code = _CODES.get(status, "bad_request")
    problem = {
        "type": f"urn:qazba:problem:{code}",
        "title": reason,
        "status": status,
        "code": code,
        "detail": detail,
    }
    body = json.dumps(problem, ensure_ascii=False).encode("utf-8")
    return [("Content-Type", "application/problem+json")], body


class _Refusal(ErrorTask):  # type: ignore[misc]
    def execute(self) -> None:
        error = self.request.error
        path = str(getattr(self.request, "path", "") or "")
        headers, body = _answer(int(error.code), str(error.reason), path)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(headers)
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    error_task_class = _Refusal


def answer_refusals_in_kind(listeners: dict[Any, Any]) -> None:
    """Give every listening socket of a server made by ``waitress.create_server(map=…)``
    channels whose own refusals are OpenRosa messages or problem documents."""
    for dispatcher in listeners.values():
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = _Channel
