"""waitress in front of the app: each request's body limit, and its own refusals in the
form each client reads.

The body limit is chosen per request from its method and path (:mod:`.request_limits`) as
soon as its headers are read, so a body larger than its route takes is refused unread.

Waitress answers some requests itself: a declared Content-Length over its body limit (413), a
request line or headers it cannot parse (400), headers too large (431). Its answer is plain
text. A phone's request (under ``/odk/key/``) gets an OpenRosa message with
``X-OpenRosa-Version: 1.0`` instead, as every answer to Collect does (DESIGN §9), and anything
else a problem document, as every API error is.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from field_core.collect.openrosa import message_xml
from field_server.request_limits import BodyLimits

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
        if int(error.code) == 413:
            # the body is still coming: read it away after the answer, so that the client,
            # still sending, is not cut off before it can read why
            self.channel.linger_after_answer = True
        path = str(getattr(self.request, "path", "") or "")
        headers, body = _answer(int(error.code), str(error.reason), path)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(headers)
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _OneRequestsAdjustments:
    """waitress's settings as one request sees them: its own body limit."""

    def __init__(self, adjustments: Any, max_request_body_size: int) -> None:
        self._adjustments = adjustments
        self.max_request_body_size = max_request_body_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adjustments, name)


class _RouteLimitedParser(HTTPRequestParser):  # type: ignore[misc]
    limits: BodyLimits | None = None

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.limits is not None:
            allowed = self.limits.for_request(
                str(self.command), str(self.path), self.headers.get("X_HTTP_METHOD_OVERRIDE")
            )
            # waitress refuses a body that reaches its maximum: one byte over what is allowed
            self.adj = _OneRequestsAdjustments(self.adj, allowed + 1)


# How long and how much a refused body is read away after its answer before the connection
# closes (nginx's lingering close does the same, for the same reason).
LINGER_SECONDS = 5.0
LINGER_BYTES = 64 * 1024 * 1024


class _Channel(HTTPChannel):  # type: ignore[misc]
    error_task_class = _Refusal
    linger_after_answer = False
    _linger_until: float | None = None
    _lingered_bytes = 0

    def handle_close(self) -> None:
        if self.linger_after_answer and self._linger_until is None and self.connected:
            # the answer is out: the sending side closes, the rest of the body is read away
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                super().handle_close()
                return
            self._linger_until = time.monotonic() + LINGER_SECONDS
            self.will_close = False
            return
        super().handle_close()

    def readable(self) -> bool:
        if self._linger_until is not None:
            return True
        return bool(super().readable())

    def writable(self) -> bool:
        if self._linger_until is not None:
            return time.monotonic() > self._linger_until  # time is up: handle_write closes
        return bool(super().writable())

    def handle_write(self) -> None:
        if self._linger_until is not None:
            self._stop_lingering()
            return
        super().handle_write()

    def handle_read(self) -> None:
        if self._linger_until is None:
            super().handle_read()
            return
        try:
            data = self.recv(self.adj.recv_bytes)
        except OSError:
            data = b""
        self._lingered_bytes += len(data)
        if not data or self._lingered_bytes > LINGER_BYTES or time.monotonic() > self._linger_until:
            self._stop_lingering()

    def _stop_lingering(self) -> None:
        self.linger_after_answer = False
        self._linger_until = None
        super().handle_close()


def answer_refusals_in_kind(listeners: dict[Any, Any], limits: BodyLimits | None = None) -> None:
    """Give every listening socket of a server made by ``waitress.create_server(map=…)``
    channels whose own refusals are OpenRosa messages or problem documents, and, with
    ``limits``, whose body limit is each request's route's."""
    parser = type("RouteLimitedParser", (_RouteLimitedParser,), {"limits": limits})
    channel = type("Channel", (_Channel,), {"parser_class": parser})
    for dispatcher in listeners.values():
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel
