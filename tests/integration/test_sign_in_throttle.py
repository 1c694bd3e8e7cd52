"""Guessing passwords is slowed down: per account and per client address, counted in the
database, for the API's token and the review UI's sign-in alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from werkzeug.test import TestResponse

from field_server.adapters import tables as t
from tests.integration.conftest import PASSWORD, World
from tests.integration.web_session import csrf_of


def token_attempt(world: World, username: str, password: str, address: str) -> TestResponse:
    return world.client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password, "device_name": "guess"},
        environ_base={"REMOTE_ADDR": address},
    )


def audit_lines(world: World, action: str) -> list[Any]:
    with world.runtime.uow() as uow:
        return list(
            uow.connection.execute(
                select(t.audit_log).where(t.audit_log.c.action == action).order_by(t.audit_log.c.id)
            )
        )


def failures_stored(world: World) -> int:
    with world.runtime.uow() as uow:
        return int(
            uow.connection.execute(
                select(func.count()).select_from(t.sign_in_failures)
            ).scalar_one()
        )


def test_after_five_wrong_passwords_the_account_waits_even_for_the_right_one(
    world: World,
) -> None:
    for _ in range(5):
        assert token_attempt(world, "recorder", "wrong password", "10.0.0.1").status_code == 401
    refused = token_attempt(world, "recorder", "wrong password", "10.0.0.1")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "too_many_attempts"
    assert 25 <= int(refused.headers["Retry-After"]) <= 30
    # not checked while waiting: the right password from another address is refused too
    right = token_attempt(world, "Recorder", PASSWORD, "10.0.0.2")
    assert right.status_code == 429
    # another account from the same address is not held up by this one's failures
    assert token_attempt(world, "reviewer", PASSWORD, "10.0.0.1").status_code == 201


def test_every_failure_is_in_the_audit_log_without_the_password(world: World) -> None:
    token_attempt(world, "recorder", "Secret-guess-1", "192.0.2.4")
    token_attempt(world, "nobody-at-all", "Secret-guess-2", "192.0.2.4")
    lines = audit_lines(world, "token.issue_failed")
    assert [(line.subject, json.loads(line.detail)) for line in lines] == [
        ("user:recorder", {"address": "192.0.2.4", "username": "recorder"}),
        ("user:nobody-at-all", {"address": "192.0.2.4", "username": "nobody-at-all"}),
    ]
    assert all("Secret-guess" not in line.detail for line in lines)
    assert all(line.user_id is None for line in lines)


def test_a_right_password_forgives_the_accounts_failures(world: World) -> None:
    for _ in range(4):
        assert token_attempt(world, "leader", "wrong password", "10.0.0.3").status_code == 401
    assert token_attempt(world, "leader", PASSWORD, "10.0.0.3").status_code == 201
    for _ in range(5):
        assert token_attempt(world, "leader", "wrong password", "10.0.0.3").status_code == 401
    assert token_attempt(world, "leader", "wrong password", "10.0.0.3").status_code == 429


def test_twenty_failures_from_one_address_across_accounts_hold_up_the_address(
    world: World,
) -> None:
    for name in ("admin", "reviewer", "registrar", "outsider", "no-such-person"):
        for _ in range(4):
            assert token_attempt(world, name, "wrong password", "198.51.100.9").status_code == 401
    refused = token_attempt(world, "leader", PASSWORD, "198.51.100.9")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # the people themselves, from their own addresses, still sign in
    assert token_attempt(world, "leader", PASSWORD, "198.51.100.10").status_code == 201
    assert token_attempt(world, "admin", PASSWORD, "198.51.100.10").status_code == 201


def test_failures_older_than_the_window_are_deleted_as_new_ones_come(world: World) -> None:
    old = datetime.now(UTC) - timedelta(minutes=16)
    with world.runtime.uow(write=True, sequenced=False) as uow:
        uow.connection.execute(
            insert(t.sign_in_failures),
            [
                {"account": "recorder", "address": "10.0.0.4", "kind": "password", "at": old}
                for _ in range(30)
            ],
        )
        uow.commit()
    # thirty old failures count for nothing
    assert token_attempt(world, "recorder", "wrong password", "10.0.0.4").status_code == 401
    assert failures_stored(world) == 1


def test_the_sign_in_page_asks_to_wait_in_the_readers_language(world: World) -> None:
    client = world.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    client.post("/language", data={"csrf_token": csrf_of(client.get("/login")), "lang": "ru"})
    token = csrf_of(client.get("/login"))
    form = {"csrf_token": token, "username": "reviewer", "password": "wrong password"}
    for _ in range(5):
        assert client.post("/login", data=form).status_code == 401
    refused = client.post("/login", data={**form, "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    text = refused.get_data(as_text=True)
    assert "Повторите через 1 мин." in text
    assert client.get("/").status_code == 302
    lines = audit_lines(world, "session.sign_in_failed")
    assert len(lines) == 5
    assert json.loads(lines[0].detail) == {"address": "203.0.113.5", "username": "reviewer"}
