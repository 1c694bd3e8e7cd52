"""The audit's requests against a real ``field-server serve``: guessing passwords is slowed down
with 429 and Retry-After (finding 5), and a review UI session ends on the server, so a cookie
saved before sign-out, or one left unused too long, opens nothing (finding 7)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server_process import running_server
from tests.e2e.test_field_client import any_world, sqlite_world  # noqa: F401
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.e2e

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


OPENER = urllib.request.build_opener(_NoRedirects)


def call(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with OPENER.open(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def token_attempt(base: str, username: str, password: str) -> tuple[int, dict[str, str]]:
    body = json.dumps({"username": username, "password": password, "device_name": "guess"})
    status, headers, _ = call(
        base + "/api/v1/auth/token", body.encode(), {"Content-Type": "application/json"}
    )
    return status, headers


@pytest.fixture
def server(any_world: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    with running_server(any_world, tmp_path / "data") as base:
        yield base


def test_the_sixth_wrong_password_waits_and_so_does_the_right_one(server: str) -> None:
    answers = [token_attempt(server, "recorder", f"guess {n}")[0] for n in range(5)]
    assert answers == [401] * 5
    status, headers = token_attempt(server, "recorder", "guess 6")
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 30
    assert headers["Content-Type"] == "application/problem+json"
    status, headers = token_attempt(server, "recorder", PASSWORD)
    assert status == 429
    assert int(headers["Retry-After"]) > 0


def test_twenty_one_failures_from_one_address_across_accounts_wait(server: str) -> None:
    for name in ("admin", "reviewer", "registrar", "outsider", "nobody"):
        for n in range(4):
            assert token_attempt(server, name, f"guess {n}")[0] == 401
    status, headers = token_attempt(server, "leader", "guess 21")
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    # a right password of an account never guessed is not checked from this address either
    assert token_attempt(server, "leader", PASSWORD)[0] == 429


class Browser:
    """A browser's cookie for one server, kept by hand so it can be saved and replayed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie = ""

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, answer, page = call(self.base + path, data, headers)
        set_cookie = answer.get("Set-Cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return status, answer.get("Location", ""), page

    def csrf(self, path: str) -> str:
        found = TOKEN.search(self.request(path)[2])
        assert found
        return found.group(1)

    def sign_in(self, who: str) -> None:
        form = {"csrf_token": self.csrf("/login"), "username": who, "password": PASSWORD}
        status, _, _ = self.request("/login", form)
        assert status == 302


def test_a_cookie_saved_before_sign_out_no_longer_opens_the_review_ui(server: str) -> None:
    reviewer = Browser(server)
    reviewer.sign_in("reviewer")
    assert reviewer.request("/")[0] == 200
    saved = reviewer.cookie
    status, _, _ = reviewer.request("/logout", {"csrf_token": reviewer.csrf("/")})
    assert status == 302
    thief = Browser(server)
    thief.cookie = saved
    status, location, _ = thief.request("/")
    assert status == 302
    assert "/login" in location


def test_a_session_unused_past_its_idle_lifetime_is_signed_out(
    sqlite_world: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    idle = {"FIELD_SERVER_SESSION_IDLE_MINUTES": "0.05"}  # three seconds
    with running_server(sqlite_world, tmp_path / "data", extra_env=idle) as base:
        reviewer = Browser(base)
        reviewer.sign_in("reviewer")
        # in use: each page well within the idle time keeps the session open
        for _ in range(4):
            assert reviewer.request("/")[0] == 200
            time.sleep(1)
        time.sleep(4)
        status, location, _ = reviewer.request("/")
        assert status == 302
        assert "/login" in location
