"""The real field-client imports the Dombauyl GPS log and camera card and syncs them to a real
server: every photo's bytes arrive, placed photos sit by their finds, uploads resume."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from field_client.home import STORE_NAME
from tests import media_factory
from tests.conftest import fresh_database_url
from tests.e2e.server_process import free_port, running_server
from tests.e2e.test_field_client import Client, _seeded
from tests.e2e.test_photo_upload import served_digest

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).parents[2] / "sample_surveys" / "uly-2026-dombauyl"


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    for url in fresh_database_url("sqlite", request, tmp_path):
        yield _seeded(url, tmp_path)


def _metres(a: dict[str, Any], b: dict[str, Any]) -> float:
    lat = math.radians((a["lat"] + b["lat"]) / 2)
    dx = math.radians(a["lon"] - b["lon"]) * math.cos(lat) * 6_371_000
    dy = math.radians(a["lat"] - b["lat"]) * 6_371_000
    return math.hypot(dx, dy)


def _token(laptop: Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {(laptop.home / 'token').read_text().strip()}"}


def _start_survey(laptop: Client, base: str) -> None:
    laptop.login(base)
    laptop.run("pull")
    laptop.run("survey", "start", "--expedition", "ULY-2026", "--title", "Домбауыл 2026")


def test_the_dombauyl_card_and_gps_log_reach_the_server_with_every_photo(
    world: str, tmp_path: Path
) -> None:
    laptop = Client(tmp_path / "laptop")
    sample_finds = {
        f["data"]["find_number"]: f["data"]
        for f in json.loads((SAMPLE / "finds.json").read_text(encoding="utf-8"))
    }
    photographed = {p.name.split("_")[0] for p in (SAMPLE / "photos").iterdir()}
    port = free_port()
    with running_server(world, tmp_path / "data", port=port) as base:
        _start_survey(laptop, base)
    # in the field: no server
    finds: dict[str, dict[str, Any]] = {}
    for number in sorted(photographed):
        data = sample_finds[number]
        finds[number] = laptop.add_find(
            find_number=number,
            material=data["material"],
            object_name=data["object_name"],
            lon=data["position"]["lon"],
            lat=data["position"]["lat"],
        )
    laptop.run("import", "gpx", str(SAMPLE / "dombauyl-2026-gps.gpx"))
    laptop.run(
        "import", "photos", str(SAMPLE / "photos"), "--camera-offset", "+00:02:13", "--tz", "+05:00"
    )
    listed = laptop.json("find", "list", "--status", "photos_missing")
    assert listed == []  # not even sent yet: pending
    status = laptop.json("status")
    assert len(status["photos_not_on_server"]) == len(list((SAMPLE / "photos").iterdir()))
    assert {f["uuid"] for f in status["finds_missing_photos"]} == {
        f["uuid"] for f in finds.values()
    }

    with running_server(world, tmp_path / "data", port=port) as base:
        report = laptop.json("sync")
        assert report["photos_uploaded"] == len(status["photos_not_on_server"])
        assert (report["pending"], report["rejected"], report["photos_not_on_server"]) == (0, 0, 0)
        assert {f["sync"]["status"] for f in laptop.json("find", "list")} == {"synced"}
        photos = laptop.json("photos")
        for photo in photos:
            assert photo["on_server"] is True
            assert served_digest(base, _token(laptop), photo["sha256"]) == photo["sha256"]
        again = laptop.json("sync")
        assert (again["records_sent"], again["photos_uploaded"]) == (0, 0)

    by_uuid = {f["uuid"]: f for f in finds.values()}
    placed = [p for p in photos if p["position_source"] == "track"]
    assert placed, "the sample card has photos without GPS"
    for photo in placed:
        (find_uuid,) = photo["find_uuids"]
        assert _metres(photo["position"], by_uuid[find_uuid]["position"]) < 10
    status = laptop.json("status")
    assert (status["photos_not_on_server"], status["finds_missing_photos"]) == ([], [])


def test_an_upload_cut_off_by_a_server_stop_resumes_from_the_servers_offset(
    world: str, tmp_path: Path
) -> None:
    laptop = Client(tmp_path / "laptop")
    port = free_port()
    card = tmp_path / "card"
    card.mkdir()
    # A camera JPEG padded after its end marker: big enough to stop the server mid-upload.
    big = card / "IMG_0001.JPG"
    big.write_bytes(media_factory.jpeg_bytes() + bytes(range(256)) * (48 * 4096))
    length = big.stat().st_size
    sha256 = hashlib.sha256(big.read_bytes()).hexdigest()
    chunk = 1024 * 1024
    data_dir = tmp_path / "data"
    with running_server(world, data_dir, port=port) as base:
        _start_survey(laptop, base)
        laptop.run("import", "photos", str(card))
        syncing = laptop.start("sync", "--chunk-size", "1", "--retries", "2")
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 4 * chunk and time.monotonic() < deadline:
            with sqlite3.connect(laptop.home / STORE_NAME) as store:
                row = store.execute("SELECT upload_url FROM photo_file").fetchone()
            if row and row[0]:
                answer = requests.head(
                    base + row[0], headers={**_token(laptop), "Tus-Resumable": "1.0.0"}, timeout=5
                )
                seen = int(answer.headers.get("Upload-Offset", 0))
            time.sleep(0.01)
        assert 4 * chunk <= seen < length
    _, err = syncing.communicate(timeout=120)
    assert syncing.returncode != 0 and err.count("\n") == 1 and "Traceback" not in err

    with running_server(world, data_dir, port=port) as base:
        report = laptop.json("sync", "--chunk-size", "1")
        assert report["photos_uploaded"] == 1
        resumed = report["photos_resumed_from"][sha256]
        assert resumed >= seen
        # nothing the server already held was sent again
        assert report["photo_bytes_sent"] == length - resumed
        assert served_digest(base, _token(laptop), sha256) == sha256
