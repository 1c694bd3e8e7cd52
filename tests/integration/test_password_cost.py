"""Passwords are hashed with scrypt at the configured cost (2**17 by default); a hash made at a
lower cost is replaced at the next sign-in that proves the password, by token or in the review
UI, and an unknown user is checked against a hash of the same cost as a known one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import pytest

from field_server.app import create_app
from field_server.config import DEFAULT_SCRYPT_COST
from field_server.services import auth
from field_server.services.passwords import hash_password, needs_rehash, verify_password
from tests.integration.conftest import PASSWORD, TEST_SCRYPT_COST, World
from tests.integration.web_session import browser

RAISED = TEST_SCRYPT_COST * 2


def test_the_default_cost_is_two_to_the_seventeenth() -> None:
    assert DEFAULT_SCRYPT_COST == 2**17
    stored = hash_password("a long enough password", cost=2**17)
    assert stored.split("$")[1:4] == [str(2**17), "8", "1"]
    assert verify_password("a long enough password", stored)
    assert not verify_password("a long enough passwore", stored)


@pytest.mark.parametrize(
    ("stored", "cost", "wanted"),
    [
        (f"scrypt${2**15}$8$1$c2FsdA==$ZGlnZXN0", 2**17, True),
        (f"scrypt${2**17}$8$1$c2FsdA==$ZGlnZXN0", 2**17, False),
        (f"scrypt${2**18}$8$1$c2FsdA==$ZGlnZXN0", 2**17, False),
        (f"scrypt${2**17}$4$1$c2FsdA==$ZGlnZXN0", 2**17, True),
        ("bcrypt$12$whatever", 2**17, True),
        ("not a hash", 2**17, True),
    ],
)
def test_which_hashes_are_renewed(stored: str, cost: int, wanted: bool) -> None:
    assert needs_rehash(stored, cost) is wanted


def stored_cost(world: World, username: str) -> int:
    with world.runtime.uow() as uow:
        user = uow.users.by_username(username)
        assert user is not None
        return int(user.password_hash.split("$")[1])


@pytest.fixture
def upgraded(world: World) -> Iterator[World]:
    """The same museum served with a higher cost, as after an upgrade of the default."""
    app = create_app(replace(world.runtime.config, scrypt_cost=RAISED))
    app.config["TESTING"] = True
    served = World(app, app.test_client())
    yield served
    served.runtime.uow.engine.dispose()


def test_a_token_sign_in_replaces_a_cheaper_hash(world: World, upgraded: World) -> None:
    assert stored_cost(world, "recorder") == TEST_SCRYPT_COST
    wrong = upgraded.client.post(
        "/api/v1/auth/token",
        json={"username": "recorder", "password": PASSWORD + "!", "device_name": "laptop"},
    )
    assert wrong.status_code == 401
    assert stored_cost(upgraded, "recorder") == TEST_SCRYPT_COST  # nothing proved, nothing changed
    upgraded.headers("recorder")
    assert stored_cost(upgraded, "recorder") == RAISED
    # the renewed hash takes the same password, and only it
    assert (
        upgraded.client.post(
            "/api/v1/auth/token",
            json={"username": "recorder", "password": PASSWORD, "device_name": "laptop 2"},
        ).status_code
        == 201
    )


def test_a_review_ui_sign_in_replaces_it_and_keeps_its_session(upgraded: World) -> None:
    reviewer = browser(upgraded, "reviewer")
    assert stored_cost(upgraded, "reviewer") == RAISED
    assert reviewer.get("/").status_code == 200  # the session names the renewed password


def test_an_unknown_user_costs_what_a_known_one_costs(world: World) -> None:
    with pytest.raises(auth.Unauthenticated):
        auth.sign_in(world.runtime.uow, "nobody-here", PASSWORD, cost=RAISED)
    dummy = auth._dummy_hash(RAISED)
    assert dummy.split("$")[1] == str(RAISED)
    assert hashlib.sha256(dummy.encode()).hexdigest() != hashlib.sha256(b"").hexdigest()
