"""A server world for API tests: the app on a fresh database, sample expeditions, users, tokens."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from field_server.app import create_app
from field_server.config import ServerConfig
from field_server.runtime import Runtime
from field_server.services import auth, expeditions
from tests import samples

PASSWORD = "correct horse battery"
TEST_SCRYPT_COST = 2**10  # the real cost is 2**15; tests log in hundreds of times

# username -> (roles, expeditions it is a member of)
PEOPLE: dict[str, tuple[list[str], list[str]]] = {
    "admin": (["admin"], []),
    "reviewer": (["reviewer"], []),
    "registrar": (["registrar"], []),
    "recorder": (["recorder"], ["ULY-2026"]),
    "outsider": (["recorder"], ["ZHZ-2026"]),
    "leader": (["recorder"], ["ULY-2026"]),
}


@dataclass
class World:
    app: Flask
    client: FlaskClient
    tokens: dict[str, str] = field(default_factory=dict)
    device_id: str = field(default_factory=lambda: f"device-{uuid.uuid4()}")

    @property
    def runtime(self) -> Runtime:
        return self.app.extensions["qazba"]

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        if who not in self.tokens:
            response = self.client.post(
                "/api/v1/auth/token",
                json={"username": who, "password": PASSWORD, "device_name": f"{who}'s laptop"},
            )
            assert response.status_code == 201, response.get_json()
            self.tokens[who] = response.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def push(
        self,
        who: str,
        records: list[dict[str, Any]],
        *,
        batch_id: str | None = None,
        device_id: str | None = None,
    ) -> Any:
        body = {
            "device_id": device_id or self.device_id,
            "batch_id": batch_id or str(uuid.uuid4()),
            "records": records,
        }
        return self.client.post("/api/v1/sync/push", json=body, headers=self.headers(who))

    def pushed(self, who: str, records: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        response = self.push(who, records, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def pull_all(
        self, who: str, since: int = 0, limit: int = 1000
    ) -> tuple[list[dict[str, Any]], int]:
        changes: list[dict[str, Any]] = []
        while True:
            response = self.client.get(
                f"/api/v1/sync/pull?since={since}&limit={limit}", headers=self.headers(who)
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            page = response.get_json()
            changes.extend(page["changes"])
            since = page["cursor"]
            if not page["more"]:
                return changes, since


def open_world(database_url: str, data_dir: Path) -> World:
    """A server on a database as it is: nothing added (a restored one, or one being filled)."""
    config = ServerConfig(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="test-secret",
        scrypt_cost=TEST_SCRYPT_COST,
    )
    app = create_app(config)
    app.config["TESTING"] = True
    return World(app, app.test_client())


def build_world(database_url: str, data_dir: Path) -> World:
    world = open_world(database_url, data_dir)
    uow = world.runtime.uow
    for username, (roles, _) in PEOPLE.items():
        auth.create_user(uow, username, PASSWORD, roles, cost=TEST_SCRYPT_COST)
    for sample in samples.expeditions():
        expeditions.create_expedition(
            uow,
            None,
            expeditions.ExpeditionSpec(
                sample["code"],
                sample["title"],
                sample["year"],
                sample["find_number_format"],
                sample.get("accuracy_threshold_m"),
            ),
        )
        for site in sample["sites"]:
            expeditions.add_site(
                uow, None, sample["code"], site["code"], site["name"], site["boundary"]
            )
    for username, (_, codes) in PEOPLE.items():
        for code in codes:
            expeditions.add_member(uow, None, code, username, leader=username == "leader")
    return world


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    built = build_world(database_url, tmp_path / "data")
    yield built
    built.runtime.uow.engine.dispose()


def sample_batch(code: str = "ULY-2026") -> list[dict[str, Any]]:
    """A survey of ``code`` and all its finds, as a device would push them first."""
    survey = samples.survey_of(code)
    return [json.loads(json.dumps(survey.survey)), *json.loads(json.dumps(survey.finds))]
