"""HTTP to the server: keep-alive, TCP_NODELAY, timeouts, retries with backoff, one-line errors."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from field_client import __version__
from field_client.errors import ClientError, ServerUnreachable

MAX_ANSWER_BYTES = 512 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ServerRefused(ClientError):
    """The server answered with an error: ``status`` and its problem ``code``."""

    def __init__(self, reason: str, status: int, code: str | None) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; the waits between them double from ``first_delay_s``."""

    attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s)
        if retry_after is not None:
            wait = min(max(wait, retry_after), self.max_delay_s * 4)
        return wait


class _NoDelayHTTPConnection(http.client.HTTPConnection):
    # Small requests and answers on a kept-alive connection otherwise wait on Nagle's
    # algorithm and delayed ACKs: tens of milliseconds per round trip.
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _NoDelayHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Transport:
    """JSON requests to one server. Every request may be retried: the sync protocol makes them
    safe to repeat (a push is replayed by its batch_id)."""

    def __init__(
        self,
        server_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(server_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"not an http(s) server address: {server_url!r}")
        self.server_url = server_url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_connection(self) -> http.client.HTTPConnection:
        """A connection of its own to the server, for a caller that speaks more than JSON."""
        if self._https:
            return _NoDelayHTTPSConnection(
                self._host, self._port, timeout=self.timeout_s, context=ssl.create_default_context()
            )
        return _NoDelayHTTPConnection(self._host, self._port, timeout=self.timeout_s)

    def target(self, path: str) -> str:
        """The request target of an API path on this server (which may sit under a prefix)."""
        return self._prefix + path

    # -- requests ---------------------------------------------------------------------

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any = None, *, raw_body: str | None = None) -> Any:
        return self.request("POST", path, body=body, raw_body=raw_body)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        """Send a request and return the parsed JSON answer (None for an empty one).

        Network errors, timeouts, 429 and 5xx answers are retried with growing waits; after
        the last attempt ServerUnreachable (network) or ServerRefused (an answer) is raised
        with a one-line reason.
        """
        target = self._prefix + path
        if query:
            target += "?" + urlencode(query)
        payload: bytes | None = None
        if raw_body is not None:
            payload = raw_body.encode("utf-8")
        elif body is not None:
            payload = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        headers = {
            "Accept": "application/json",
            "User-Agent": f"field-client/{__version__}",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempt = 0
        while True:
            attempt += 1
            reused = self._connection is not None
            try:
                status, answer_headers, raw = self._exchange(method, target, payload, headers)
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if reused:
                    # A kept-alive connection the server closed while idle: not a network
                    # failure, so reconnect at once without spending an attempt.
                    attempt -= 1
                    continue
                if attempt >= self.retry.attempts:
                    raise unreachable(self.server_url, network_reason(error), attempt) from None
                self._sleep(self.retry.delay(attempt))
                continue
            if status in RETRY_STATUSES and attempt < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, retry_after_seconds(answer_headers)))
                continue
            if 200 <= status < 300:
                return _parse_answer(raw, method, path)
            raise _refusal(status, answer_headers, raw, method, path)

    def _exchange(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = self._connection
        if connection is None:
            connection = self.new_connection()
            self._connection = connection
        connection.request(method, quote(target, safe="/?=&%:@"), body=payload, headers=headers)
        response = connection.getresponse()
        length = response.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > MAX_ANSWER_BYTES:
            self.close()
            raise ClientError(f"the server's answer is too large ({length} bytes)")
        raw = response.read(MAX_ANSWER_BYTES + 1)
        if len(raw) > MAX_ANSWER_BYTES:
            self.close()
            raise ClientError("the server's answer is too large")
        if response.will_close:
            self.close()
        return response.status, response.headers, raw


def network_reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, ssl.SSLError):
        return f"TLS error ({error.reason or error})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    if isinstance(error, http.client.RemoteDisconnected):
        return "the server closed the connection"
    return type(error).__name__


def unreachable(server_url: str, reason: str, tries: int) -> ServerUnreachable:
    """The error for a server that did not answer any of ``tries`` attempts."""
    return ServerUnreachable(f"cannot reach {server_url}: {reason} (tried {tries} times)")


def retry_after_seconds(headers: http.client.HTTPMessage) -> float | None:
    """The seconds a 429 or 503 answer's Retry-After asks for, when it gives a number."""
    value = headers.get("Retry-After")
    if value is not None and value.strip().isdigit():
        return float(value.strip())
    return None


def _parse_answer(raw: bytes, method: str, path: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ClientError(f"{method} {path}: the server's answer is not JSON") from None


def _refusal(
    status: int, headers: http.client.HTTPMessage, raw: bytes, method: str, path: str
) -> ServerRefused:
    problem: Any = None
    if "json" in (headers.get("Content-Type") or ""):
        try:
            problem = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            problem = None
    if not isinstance(problem, dict):
        return ServerRefused(f"{method} {path}: the server answered HTTP {status}", status, None)
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    text = problem.get("detail") or problem.get("title") or f"HTTP {status}"
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        shown = [
            f"{e.get('field') or '(body)'}: {e.get('message')}"
            for e in errors[:3]
            if isinstance(e, dict)
        ]
        more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
        text = f"{text} ({'; '.join(shown)}{more})"
    reason = f"the server refused {method} {path}: {text} [{status}{' ' + code if code else ''}]"
    if status == 401:
        reason += "; log in again: field-client login"
    return ServerRefused(str(reason), status, code)
