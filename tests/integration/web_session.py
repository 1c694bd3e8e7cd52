"""Signing in to the review UI through the Flask test client, as a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.integration.conftest import PASSWORD, World

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response: TestResponse) -> str:
    found = TOKEN.search(response.get_data(as_text=True))
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Browser:
    client: FlaskClient
    csrf: str

    def get(self, path: str) -> TestResponse:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, object] | None = None) -> TestResponse:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})})


def browser(world: World, who: str | None) -> Browser:
    """A fresh browser; signed in as ``who`` unless None."""
    client = world.app.test_client()
    token = csrf_of(client.get("/login"))
    if who is None:
        return Browser(client, token)
    response = client.post(
        "/login", data={"csrf_token": token, "username": who, "password": PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return Browser(client, csrf_of(client.get("/")))
