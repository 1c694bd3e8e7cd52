"""In camp (DESIGN §9): a phone holds the whole Collect conversation with the real
``field-client collect serve``, the laptop syncs to a real server, and the same instance sent
straight from the phone to the server later is still one find."""

from __future__ import annotations

import hashlib
import io
import json
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.e2e.server_process import free_port
from tests.e2e.test_field_client import Client, _server_state, serving, sqlite_world  # noqa: F401
from tests.e2e.test_photo_upload import auth_headers
from tests.media_factory import jpeg_bytes
from tests.unit.collect.instances import INSTANCE_ID, instance

pytestmark = pytest.mark.e2e

CODE = "ULY-2026"
FORM_LIST_NS = {"x": "http://openrosa.org/xforms/xformsList"}
OPENROSA = {"X-OpenRosa-Version": "1.0"}


@contextmanager
def camp_server(laptop: Client, port: int, log: list[str]) -> Iterator[subprocess.Popen[str]]:
    """``field-client collect serve`` on a loopback port until the block ends (SIGTERM);
    ``log`` gets its standard error."""
    process = laptop.start("collect", "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()
            try:
                requests.head(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "collect serve did not start"
                time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
        log.append(err)


def submit(url: str, xml: bytes, photos: dict[str, bytes]) -> requests.Response:
    files = [("xml_submission_file", ("submission.xml", io.BytesIO(xml), "text/xml"))]
    files += [(name, (name, io.BytesIO(body), "image/jpeg")) for name, body in photos.items()]
    return requests.post(f"{url}/submission", files=files, headers=OPENROSA, timeout=30)


def test_a_phone_sends_to_the_laptop_and_the_find_reaches_the_server_once(
    sqlite_world: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    laptop = Client(tmp_path / "laptop")
    port = free_port()
    photo = jpeg_bytes()
    photo_sha = hashlib.sha256(photo).hexdigest()
    xml = instance(photos=("1720934921312.jpg",))
    with serving(sqlite_world, tmp_path / "data", free_port()) as base:
        laptop.login(base)
        laptop.run("survey", "start", "--expedition", CODE, "--title", "Лагерь")
        key = laptop.json(
            "collect", "key", "recorder", "--device", "A52", "--url", f"http://127.0.0.1:{port}"
        )
        url = key["server_url"]
        log: list[str] = []
        with camp_server(laptop, port, log) as serve:
            # the phone: form list, form (its hash checked), limits, the submission
            listing = requests.get(f"{url}/formList", headers=OPENROSA, timeout=30)
            assert listing.status_code == 200 and listing.headers["X-OpenRosa-Version"] == "1.0"
            entry = ET.fromstring(listing.content).find("x:xform", FORM_LIST_NS)
            assert entry is not None
            download = entry.findtext("x:downloadUrl", namespaces=FORM_LIST_NS) or ""
            assert download.startswith(f"http://127.0.0.1:{port}/odk/key/")
            form = requests.get(download, headers=OPENROSA, timeout=30)
            assert form.status_code == 200
            assert entry.findtext("x:hash", namespaces=FORM_LIST_NS) == (
                "md5:" + hashlib.md5(form.content).hexdigest()
            )
            head = requests.head(f"{url}/submission", headers=OPENROSA, timeout=30)
            assert head.status_code == 204
            assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) > len(photo)
            sent = submit(url, xml, {"1720934921312.jpg": photo})
            assert sent.status_code == 201, sent.text
            assert "OpenRosaResponse" in sent.text
            before = laptop.json("status")["pending"]
            assert before == {"find": 1, "photo": 1, "submission": 1, "survey": 1}

            assert submit(url, xml, {"1720934921312.jpg": photo}).status_code == 201
            assert laptop.json("status")["pending"] == before  # nothing twice
            bad = submit(url.replace(key["key"], "not-a-key"), xml, {})
            assert bad.status_code == 403 and bad.headers["X-OpenRosa-Version"] == "1.0"
        assert serve.returncode == 0, log  # SIGTERM stops it cleanly
        assert "Traceback" not in log[0]
        lines = [line for line in log[0].splitlines() if line.startswith("submission ")]
        assert len(lines) == 3 and "refused (403)" in lines[2]  # one line per submission

        (find,) = laptop.json("find", "list")
        assert find["uuid"] == INSTANCE_ID
        synced = laptop.run("sync", "--json")
        assert "Traceback" not in synced.stderr

        stored, _, _ = _server_state(sqlite_world)
        kind, _, data = stored[INSTANCE_ID]
        assert kind == "find"
        on_server = json.loads(data)
        assert (on_server["position"]["lon"], on_server["position"]["lat"]) == (67.84472, 48.19331)
        assert on_server["recorded_by"] == "recorder"
        assert on_server["find_number"] == find["find_number"]
        assert on_server["photos"] == [photo_sha]
        headers = auth_headers(base, "leader")
        served = requests.get(f"{base}/api/v1/photos/{photo_sha}", headers=headers, timeout=30)
        assert served.status_code == 200 and served.content == photo

        listed = requests.get(
            f"{base}/api/v1/expeditions/{CODE}/collect-submissions", headers=headers, timeout=30
        ).json()["submissions"]
        (kept,) = [s for s in listed if s["instance_id"] == INSTANCE_ID]
        assert kept["find_uuid"] == INSTANCE_ID
        as_received = requests.get(
            f"{base}/api/v1/collect-submissions/{kept['id']}.xml", headers=headers, timeout=30
        )
        assert as_received.content == xml

        # the phone later also reaches the server itself, with a key of the server's
        server_key = requests.post(
            f"{base}/api/v1/expeditions/{CODE}/collect-keys",
            json={"username": "recorder", "device_name": "A52"},
            headers=headers,
            timeout=30,
        )
        assert server_key.status_code in (200, 201), server_key.text
        straight = submit(server_key.json()["server_url"], xml, {"1720934921312.jpg": photo})
        assert straight.status_code == 201, straight.text
        stored_after, _, _ = _server_state(sqlite_world)
        finds = [u for u, (k, _, d) in stored_after.items() if k == "find" and u == INSTANCE_ID]
        assert len(finds) == 1 and stored_after[INSTANCE_ID][1] == stored[INSTANCE_ID][1]
        listed_after = requests.get(
            f"{base}/api/v1/expeditions/{CODE}/collect-submissions", headers=headers, timeout=30
        ).json()["submissions"]
        assert [s["instance_id"] for s in listed_after].count(INSTANCE_ID) == 1
