"""Numbers too large for the database, in any route's path or in its query, are answered as
what they are (nothing by that number: 404, or a 4xx about the value), never a 500: every
route of the API and the review UI is tried as an admin, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import World
from tests.integration.web_session import browser

# past SQLite's 64-bit integers, PostgreSQL's BIGINT and its INTEGER
HUGE = ("99999999999999999999", "9223372036854775808", "2147483648")
QUERY = "limit={n}&after={n}&since={n}&page={n}&offset={n}&size={n}"


def _filled(rule: str, number: str) -> str:
    path = re.sub(r"<(?:string:)?code>", "ULY-2026", rule)
    return re.sub(r"<[^>]+>", number, path)


@pytest.mark.parametrize("number", HUGE)
def test_no_route_answers_a_huge_number_with_a_server_error(world: World, number: str) -> None:
    api = world.headers("admin")
    web = browser(world, "admin")
    failures = []
    for rule in world.app.url_map.iter_rules():
        path = _filled(rule.rule, number)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if path.startswith("/api/"):
                answers = [world.client.open(path, method=method, headers=api, json={})]
                if method == "GET":
                    query = QUERY.format(n=number)
                    answers.append(world.client.get(f"{path}?{query}", headers=api))
            elif method == "GET":
                answers = [web.get(path), web.get(f"{path}?{QUERY.format(n=number)}")]
            else:
                answers = [web.post(path)]
            failures += [(method, path, a.status_code) for a in answers if a.status_code >= 500]
    assert failures == []


def test_a_huge_number_in_a_path_is_a_404(world: World) -> None:
    api = world.headers("admin")
    web = browser(world, "admin")
    for number in HUGE:
        assert web.post(f"/duplicates/{number}/dismiss").status_code == 404
        assert web.get(f"/register/acts/KP/{number}").status_code == 404
        assert world.client.delete(f"/api/v1/collect-keys/{number}", headers=api).status_code == 404
        xml = world.client.get(f"/api/v1/collect-submissions/{number}.xml", headers=api)
        assert xml.status_code == 404
        assert xml.mimetype == "application/problem+json"
