"""A real `field-server serve` flooded with finds of one number (the audit's finding): 700 finds
that share a find number are one duplicate candidate, each push's detection work stays the
same however many finds already carry the number, and the queue is paged in the API and the
review UI."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import samples
from tests.e2e.server_process import running_server
from tests.integration.conftest import PASSWORD, build_world, sample_batch

pytestmark = pytest.mark.e2e

NUMBER = "ULY26-0042"
FLOOD = 700
BATCH = 100


def _login(base: str, who: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{base}/api/v1/auth/token",
        json={"username": who, "password": PASSWORD, "device_name": "e2e"},
    )
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session


def _push(session: requests.Session, base: str, records: list[dict[str, Any]]) -> Any:
    answer = session.post(
        f"{base}/api/v1/sync/push",
        json={"device_id": "flood", "batch_id": str(uuid.uuid4()), "records": records},
    )
    assert answer.status_code == 200, answer.text
    return answer


def test_seven_hundred_finds_of_one_number_are_one_candidate(
    database_url: str, tmp_path: Path
) -> None:
    world = build_world(database_url, tmp_path / "seed")
    world.runtime.uow.engine.dispose()
    survey, template = sample_batch()[:2]
    finds = [samples.fresh_find(template, find_number=NUMBER) for _ in range(FLOOD)]

    with running_server(database_url, tmp_path / "server") as base:
        recorder = _login(base, "recorder")
        _push(recorder, base, [survey])
        seconds, sizes = [], []
        for start in range(0, FLOOD, BATCH):
            began = time.perf_counter()
            answer = _push(recorder, base, finds[start : start + BATCH])
            seconds.append(time.perf_counter() - began)
            sizes.append(len(answer.content))
            results = answer.json()["results"]
            assert {r["status"] for r in results} == {"created"}
            for result in results:
                # one flag for the number's group, whatever its size: never one per other find
                flags = [f for f in result["flags"] if f["code"] == "duplicate_candidate"]
                assert len(flags) == 1 and flags[0]["find_number"] == NUMBER
                # counting the batch's own finds and every earlier one
                assert flags[0]["others"] == start + len(results) - 1

        reviewer = _login(base, "reviewer")
        page = reviewer.get(f"{base}/api/v1/expeditions/ULY-2026/duplicates?limit=500")
        assert page.status_code == 200
        body = page.json()
        [group] = body["candidates"]
        assert body["next"] is None
        assert group["find_number"] == NUMBER
        assert sorted(group["find_uuids"]) == sorted(f["uuid"] for f in finds)
        # the audit measured 30.9 MB for 400 finds; one group of 700 uuids is some 30 kB
        assert len(page.content) < 100_000

        detection = reviewer.post(f"{base}/api/v1/expeditions/ULY-2026/duplicates/detect")
        report = detection.json()
        assert (report["open"], report["added"], report["updated"]) == (1, 0, 0)

        ui = _web_session(base, "reviewer")
        html = ui.get(f"{base}/expeditions/ULY-2026/duplicates")
        assert html.status_code == 200
        assert html.text.count('<section class="pair group"') == 1
        assert NUMBER in html.text and len(html.content) < 1_000_000
        assert not any(f["uuid"] in _visible_text(html.text) for f in finds)

        merged = reviewer.post(
            f"{base}/api/v1/duplicates/{group['id']}/merge",
            json={"keep": finds[0]["uuid"], "reason": "one find entered 700 times"},
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["state"] == "merged" and len(merged.json()["merged"]) == FLOOD - 1
        after = reviewer.get(f"{base}/api/v1/expeditions/ULY-2026/duplicates").json()
        assert after == {"candidates": [], "next": None}

    # the work per push does not grow with the finds already carrying the number: the last
    # batch (600 before it) answers the same bytes per find and takes no longer than a few
    # times the first (0 before it); pairs would make it hundreds of times longer
    assert max(sizes) < 2 * min(sizes)
    assert seconds[-1] < 5 * seconds[0] + 1.0, seconds


def _web_session(base: str, who: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    signed = session.post(
        f"{base}/login",
        data={"username": who, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert signed.status_code == 200, signed.text
    return session


def _visible_text(html: str) -> str:
    """What a reader sees: the page without its tags and their attributes."""
    return re.sub(r"<[^>]*>", " ", html)
