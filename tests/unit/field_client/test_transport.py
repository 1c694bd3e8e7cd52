"""The transport: retries with backoff, problem+json as one line, TCP_NODELAY, keep-alive."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from field_client.errors import ClientError, ServerUnreachable
from field_client.transport import RetryPolicy, ServerRefused, Transport

Reply = tuple[int, dict[str, str], bytes]


class _Scripted(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = replies
        self.requests: list[tuple[str, str, bytes]] = []
        self.peers: set[int] = set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Scripted

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.requests.append((self.command, self.path, body))
        self.server.peers.add(self.client_address[1])
        status, headers, payload = self.server.replies.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _reply
    do_POST = _reply


@pytest.fixture
def scripted() -> Iterator[_Scripted]:
    server = _Scripted([])
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _ok(value: Any) -> Reply:
    return 200, {"Content-Type": "application/json"}, json.dumps(value).encode()


def _transport(server: _Scripted, sleeps: list[float], attempts: int = 4) -> Transport:
    host, port = server.server_address[:2]
    return Transport(
        f"http://{host}:{port}",
        "secret",
        retry=RetryPolicy(attempts=attempts, first_delay_s=0.5, max_delay_s=8.0),
        sleep=sleeps.append,
    )


def test_busy_and_failing_answers_are_retried_with_doubling_waits(scripted: _Scripted) -> None:
    scripted.replies += [(503, {}, b""), (502, {}, b""), _ok({"status": "ok"})]
    sleeps: list[float] = []
    with _transport(scripted, sleeps) as transport:
        assert transport.get("/api/v1/health") == {"status": "ok"}
    assert sleeps == [0.5, 1.0]


def test_retry_after_is_honoured(scripted: _Scripted) -> None:
    scripted.replies += [(429, {"Retry-After": "3"}, b""), _ok({})]
    sleeps: list[float] = []
    with _transport(scripted, sleeps) as transport:
        transport.get("/x")
    assert sleeps == [3.0]


def test_a_problem_document_becomes_one_line_and_is_not_retried(scripted: _Scripted) -> None:
    problem = {
        "type": "urn:qazba:problem:invalid_input",
        "title": "Invalid input",
        "status": 422,
        "code": "invalid_input",
        "detail": "the push request is not valid",
        "errors": [{"field": "batch_id", "message": "a string of 1 to\n128 characters"}],
    }
    scripted.replies.append(
        (422, {"Content-Type": "application/problem+json"}, json.dumps(problem).encode())
    )
    sleeps: list[float] = []
    with _transport(scripted, sleeps) as transport, pytest.raises(ServerRefused) as caught:
        transport.post("/api/v1/sync/push", {"records": []})
    reason = str(caught.value)
    assert "\n" not in reason and "the push request is not valid" in reason
    assert "batch_id: a string of 1 to 128 characters" in reason and "422 invalid_input" in reason
    assert (caught.value.status, caught.value.code, sleeps) == (422, "invalid_input", [])


def test_a_refused_token_says_to_log_in_again(scripted: _Scripted) -> None:
    scripted.replies.append(
        (401, {"Content-Type": "application/problem+json"}, b'{"code": "unauthenticated"}')
    )
    with (
        _transport(scripted, []) as transport,
        pytest.raises(ServerRefused, match="field-client login"),
    ):
        transport.get("/api/v1/reference")


def test_no_server_means_every_attempt_then_a_one_line_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    transport = Transport(
        f"http://127.0.0.1:{port}", retry=RetryPolicy(attempts=3), sleep=sleeps.append
    )
    with pytest.raises(ServerUnreachable, match=r"connection refused.*tried 3 times"):
        transport.get("/api/v1/health")
    assert sleeps == [0.5, 1.0]


def test_requests_share_one_connection_with_nagle_off(scripted: _Scripted) -> None:
    scripted.replies += [_ok({}), _ok({})]
    with _transport(scripted, []) as transport:
        transport.get("/a")
        connection = transport._connection
        assert connection is not None and connection.sock is not None
        assert connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        transport.post("/b", {"text": "Қазба"})
    assert len(scripted.peers) == 1
    assert scripted.requests[1][2].decode("utf-8") == '{"text": "Қазба"}'


def test_an_answer_that_is_not_json_is_a_clear_error(scripted: _Scripted) -> None:
    scripted.replies.append((200, {"Content-Type": "text/html"}, b"<html>proxy login</html>"))
    with _transport(scripted, []) as transport, pytest.raises(ClientError, match="not JSON"):
        transport.get("/api/v1/reference")
