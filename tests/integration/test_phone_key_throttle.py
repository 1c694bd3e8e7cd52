"""A phone's key in its address is a secret like a password: a client guessing keys is slowed
down by the same rule, per client address, and told so in an OpenRosa message."""

from __future__ import annotations

import json
import secrets
import xml.etree.ElementTree as ET

from sqlalchemy import select

from field_server.adapters import tables as t
from tests.integration.conftest import World
from tests.integration.test_collect_openrosa import NS, new_key


def form_list(world: World, path: str, address: str) -> tuple[int, dict[str, str], bytes]:
    response = world.client.get(f"{path}/formList", environ_base={"REMOTE_ADDR": address})
    return response.status_code, dict(response.headers), response.get_data()


def test_twenty_refused_keys_make_the_address_wait_even_with_a_good_key(world: World) -> None:
    good = new_key(world)["path"]
    guessed = [f"/odk/key/{secrets.token_urlsafe(24)}/ULY-2026" for _ in range(20)]
    for path in guessed:
        assert form_list(world, path, "203.0.113.77")[0] == 403
    status, headers, body = form_list(world, good, "203.0.113.77")
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    assert headers["X-OpenRosa-Version"] == "1.0"
    text = ET.fromstring(body).findtext("r:message", namespaces=NS) or ""
    assert "try again" in text
    # the team's phones elsewhere go on
    assert form_list(world, good, "203.0.113.78")[0] == 200


def test_a_refused_key_is_in_the_audit_log_without_the_key(world: World) -> None:
    key = secrets.token_urlsafe(24)
    assert form_list(world, f"/odk/key/{key}/ULY-2026", "192.0.2.40")[0] == 403
    with world.runtime.uow() as uow:
        lines = list(
            uow.connection.execute(
                select(t.audit_log).where(t.audit_log.c.action == "collect.key_refused")
            )
        )
    assert [(line.subject, json.loads(line.detail)) for line in lines] == [
        ("expedition:ULY-2026", {"address": "192.0.2.40"})
    ]
    assert key not in lines[0].detail + lines[0].subject
