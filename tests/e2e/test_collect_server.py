"""Phones with ODK Collect against a real ``field-server serve`` (DESIGN §9): a simulated phone
holds the whole OpenRosa conversation over loopback HTTP, and sends what phones send on a bad
day (retries, edits, split submissions, revoked keys, stale forms) and what no phone of Qazba's
sends (hostile XML, oversized or broken bodies, other forms, files that are not photos).

One server per database for the module: each test uses instanceIDs of its own, and a refusal
is checked by comparing what the server holds before and after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select

from field_server.adapters import tables as t
from field_server.adapters.database import make_engine
from field_server.adapters.photo_store import FilesystemPhotoStore
from tests import media_factory as make
from tests.conftest import fresh_database_url
from tests.e2e import collect_checks as checks
from tests.e2e.collect_phone import (
    PHOTO,
    Phone,
    assert_refused,
    instance,
    new_instance_id,
    refusals,
)
from tests.e2e.server_process import BIN, free_port, running_server
from tests.e2e.test_photo_upload import auth_headers
from tests.integration.conftest import build_world

pytestmark = pytest.mark.e2e

CODE = "ULY-2026"
# small, so that a body over the limit costs the test little; a phone photo still fits
LIMIT = 3 * 1024 * 1024
JPEG = make.jpeg_bytes(gps=make.DMS_FIX, seed=21)


@dataclass
class Museum:
    """The server process, its database and data folder, and tokens of its people."""

    base: str
    database_url: str
    data_dir: Path
    engine: Engine
    headers: dict[str, dict[str, str]]

    def api(self, method: str, path: str, who: str = "leader", **kwargs: Any) -> Any:
        return requests.request(
            method, f"{self.base}/api/v1{path}", headers=self.headers[who], timeout=30, **kwargs
        )

    def new_phone(self) -> tuple[dict[str, Any], Phone]:
        """A key for the recorder's phone, issued by the expedition's leader."""
        answer = self.api(
            "POST",
            f"/expeditions/{CODE}/collect-keys",
            json={"username": "recorder", "device_name": f"A52 {uuid.uuid4().hex[:6]}"},
        )
        assert answer.status_code == 201, answer.text
        key: dict[str, Any] = answer.json()
        return key, Phone(key["server_url"])

    def revoke(self, key: Mapping[str, Any]) -> None:
        assert self.api("DELETE", f"/collect-keys/{key['id']}").status_code == 204

    def photo_path(self, sha256: str) -> Path:
        return FilesystemPhotoStore(self.data_dir / "photos").path(sha256)

    def held(self) -> dict[str, int]:
        """What a refused request must leave as it was: rows, revisions, blobs, and files."""
        with self.engine.connect() as connection:
            counts = {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (
                    t.collect_submissions,
                    t.records,
                    t.revisions,
                    t.photo_blobs,
                    t.number_blocks,
                )
            }
        counts["photo files"] = sum(1 for p in (self.data_dir / "photos").rglob("*") if p.is_file())
        staging = self.data_dir / "collect-attachments"
        counts["staged"] = sum(1 for p in staging.rglob("*") if p.is_file())
        return counts

    def record(self, record_uuid: str) -> dict[str, Any] | None:
        """A record as devices pull it, or None when the server has none by this uuid."""
        since = 0
        while True:
            page = self.api("GET", f"/sync/pull?since={since}&limit=1000", who="recorder")
            assert page.status_code == 200, page.text
            body = page.json()
            for change in body["changes"]:
                if change["uuid"] == record_uuid:
                    found: dict[str, Any] = change
                    return found
            since = body["cursor"]
            if not body["more"]:
                return None

    def submission(self, instance_id: str) -> dict[str, Any]:
        """The expedition's kept submission of this instance, as reviewers list it."""
        listed = self.api("GET", f"/expeditions/{CODE}/collect-submissions?limit=500")
        assert listed.status_code == 200, listed.text
        (kept,) = [s for s in listed.json()["submissions"] if s["instance_id"] == instance_id]
        found: dict[str, Any] = kept
        return found


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def museum(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Museum]:
    folder = tmp_path_factory.mktemp(f"museum-{request.param}")
    for url in fresh_database_url(request.param, request, folder):
        build_world(url, folder / "seed").runtime.uow.engine.dispose()
        data_dir = folder / "data"
        limits = {"FIELD_SERVER_MAX_SUBMISSION_BYTES": str(LIMIT)}
        with running_server(url, data_dir, extra_env=limits) as base:
            engine = make_engine(url)
            headers = {who: auth_headers(base, who) for who in ("leader", "recorder", "reviewer")}
            try:
                yield Museum(base, url, data_dir, engine, headers)
            finally:
                engine.dispose()


@pytest.fixture(scope="module")
def phone(museum: Museum) -> Phone:
    return museum.new_phone()[1]


# -- the conversation --------------------------------------------------------------------------


def test_the_whole_conversation_files_a_find_with_its_photo(museum: Museum) -> None:
    sent = checks.first_conversation(museum, LIMIT, JPEG)
    instance_id = sent.instance_id
    find = museum.record(instance_id)
    assert find is not None and find["type"] == "find" and find["server_rev"] == 1
    data = find["data"]
    assert (data["position"]["lon"], data["position"]["lat"]) == (67.84472, 48.19331)
    assert data["recorded_by"] == "recorder"
    assert data["survey_uuid"] == sent.key["survey_uuid"]
    assert data["material"] == "copper_alloy" and data["object_name"] == "Қола пышақ"
    assert data["photos"] == [make.sha256(JPEG)]
    photo = museum.api("GET", f"/photos/{make.sha256(JPEG)}", who="recorder")
    assert photo.status_code == 200 and photo.content == JPEG
    thumb = museum.api("GET", f"/photos/{make.sha256(JPEG)}/thumb", who="recorder")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    kept = museum.submission(instance_id)
    assert (kept["status"], kept["find_uuid"], kept["problems"]) == ("filed", instance_id, [])
    assert kept["form_version"] == "ref-61123016874e"  # as the instance says


def test_a_replay_answers_201_and_writes_nothing_twice(museum: Museum, phone: Phone) -> None:
    checks.check_a_replay(museum, phone, JPEG)


def test_an_edit_by_deprecated_id_is_a_new_revision_of_the_same_find(
    museum: Museum, phone: Phone
) -> None:
    edit = checks.edit_by_deprecated_id(museum, phone)
    assert edit.find["server_rev"] == 2
    assert museum.submission(edit.edited_id)["find_uuid"] == edit.first_id


def test_different_xml_under_one_instance_id_is_409_and_changes_nothing(
    museum: Museum, phone: Phone
) -> None:
    checks.check_a_conflict(museum, phone, {})


def test_attachments_in_a_second_request_complete_the_find(museum: Museum, phone: Phone) -> None:
    instance_id, xml = checks.send_the_xml_first(museum, phone)
    assert museum.submission(instance_id)["attachments_missing"] == [PHOTO]
    find = checks.send_the_photos_after(museum, phone, instance_id, xml, JPEG)
    assert find["server_rev"] == 2
    kept = museum.submission(instance_id)
    assert kept["attachments_missing"] == []
    assert kept["attachments_received"] == {PHOTO: make.sha256(JPEG)}


def test_a_revoked_key_is_refused_with_403_at_once(museum: Museum) -> None:
    key, phone = museum.new_phone()
    assert phone.form_list()[0].status == 200
    museum.revoke(key)
    checks.check_a_key_refused(museum, [phone], JPEG)


def test_a_new_site_changes_the_form_version_and_a_form_of_the_old_one_still_lands(
    museum: Museum, phone: Phone
) -> None:
    old = phone.form_version()
    added = museum.api("POST", f"/expeditions/{CODE}/sites", json=checks.NEW_SITE)
    assert added.status_code == 201, added.text
    instance_id = checks.check_a_stale_form_lands(museum, phone, old)
    assert museum.submission(instance_id)["form_version"] == old


def test_an_edit_sent_with_its_photo_again_keeps_one_photo_record(
    museum: Museum, phone: Phone
) -> None:
    sent = checks.edit_with_its_photo_again(
        museum, phone, make.jpeg_bytes(gps=make.DMS_FIX, seed=22)
    )
    assert museum.record(sent.instance_id)["server_rev"] == 2  # type: ignore[index]
    before, after = sent.before, sent.after
    assert after["records"] == before["records"]  # no second find, no second photo record
    assert after["photo_blobs"] == before["photo_blobs"]
    assert after["collect_submissions"] == before["collect_submissions"] + 1


def test_one_instance_sent_six_times_at_once_is_one_find(museum: Museum, phone: Phone) -> None:
    sent = checks.send_six_times_at_once(museum, phone, make.noise_jpeg_bytes(800, 600, seed=23))
    assert museum.record(sent.instance_id)["server_rev"] == 1  # type: ignore[index]
    before, after = sent.before, sent.after
    assert after["collect_submissions"] == before["collect_submissions"] + 1
    assert after["records"] == before["records"] + 2  # the find and its photo
    assert after["number_blocks"] == before["number_blocks"] + 1
    # every blob in the store is whole: its name is the SHA-256 of its bytes
    for blob in (museum.data_dir / "photos").rglob("*"):
        if blob.is_file() and "." not in blob.name:
            assert make.sha256(blob.read_bytes()) == blob.name, blob


def test_phones_sending_at_once_get_numbers_of_their_own(museum: Museum) -> None:
    checks.check_phones_at_once(museum)


def test_a_phone_keeping_its_connection_open_is_answered_in_turn(
    museum: Museum, phone: Phone
) -> None:
    checks.check_one_connection_in_turn(museum, phone, make.jpeg_bytes(gps=make.DMS_FIX, seed=24))


def test_a_photo_named_with_two_dots_inside_joins_its_find(museum: Museum, phone: Phone) -> None:
    photo = make.jpeg_bytes(gps=make.DMS_FIX, seed=26)
    checks.check_a_photo_name(museum, phone, checks.LOT_PHOTO, photo)


def test_a_photo_named_in_kazakh_joins_its_find(museum: Museum, phone: Phone) -> None:
    photo = make.jpeg_bytes(gps=make.DMS_FIX, seed=25)
    checks.check_a_photo_name(museum, phone, checks.KAZAKH_PHOTO, photo)


class SecondServer:
    """Another ``field-server serve`` on the museum's database and data folder, as a second
    host behind a load balancer would be, that a test may kill -9 and start again."""

    def __init__(self, museum: Museum) -> None:
        self.museum = museum
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = museum.data_dir / f"second-{self.port}.log"

    def start(self) -> None:
        env = {
            **os.environ,
            "FIELD_SERVER_DATABASE_URL": self.museum.database_url,
            "FIELD_SERVER_DATA_DIR": str(self.museum.data_dir),
            "FIELD_SERVER_SECRET_KEY": "e2e",
            "FIELD_SERVER_MAX_SUBMISSION_BYTES": str(LIMIT),
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "field-server"), "serve", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                health = f"http://127.0.0.1:{self.port}/api/v1/health"
                if requests.get(health, timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the second server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def second_server(museum: Museum) -> Iterator[SecondServer]:
    second = SecondServer(museum)
    second.start()
    try:
        yield second
    finally:
        second.stop()


# the pauses land the kill while the server reads, keeps the photo, files the find, or has
# answered
SERVER_KILL_MOMENTS = checks.kill_moments(0.05, 0.3)


@pytest.mark.parametrize("moment", list(SERVER_KILL_MOMENTS), ids=list(SERVER_KILL_MOMENTS))
def test_a_server_killed_during_a_submission_takes_the_retry_once(
    museum: Museum, second_server: SecondServer, moment: str
) -> None:
    share, pause = SERVER_KILL_MOMENTS[moment]
    key, _ = museum.new_phone()
    phone = Phone(f"http://127.0.0.1:{second_server.port}{key['path']}")
    # started again on the same port, database and data folder
    sent = checks.kill_during_a_submission(
        museum, phone, share, pause, second_server.kill, second_server.start
    )
    assert museum.record(sent.instance_id)["server_rev"] == 1  # type: ignore[index]
    before, after = sent.before, sent.after
    assert after["collect_submissions"] == before["collect_submissions"] + 1
    assert after["records"] == before["records"] + 2  # the find and its photo record
    assert after["revisions"] == before["revisions"] + 2
    assert after["photo_blobs"] == before["photo_blobs"] + 1
    assert after["photo files"] == before["photo files"] + 1
    assert after["number_blocks"] == before["number_blocks"] + 1


# -- what is refused, storing nothing ----------------------------------------------------------


REFUSALS = refusals(JPEG)


@pytest.mark.parametrize("case", list(REFUSALS), ids=str)
def test_a_refused_request_stores_nothing(museum: Museum, phone: Phone, case: str) -> None:
    checks.check_a_refusal(museum, phone, REFUSALS[case])


def test_a_body_over_the_limit_is_413_and_nothing_is_stored(museum: Museum, phone: Phone) -> None:
    before = museum.held()
    padding = make.noise_jpeg_bytes(seed=5) + b"\0" * LIMIT  # a camera file far too large
    xml = instance(instance_id=new_instance_id(), photos=(PHOTO,))
    answer = phone.submit(xml, {PHOTO: padding})
    assert_refused(answer, 413)
    assert museum.held() == before


def test_a_body_declaring_a_huge_length_is_413_before_the_body_arrives(
    museum: Museum, phone: Phone
) -> None:
    answer = checks.declare_and_store_nothing(museum, phone, 10**12)
    assert_refused(answer, 413)
    assert answer.headers["connection"] == "close"


def test_a_declared_length_just_over_the_limit_is_413_without_waiting_for_the_body(
    museum: Museum,
) -> None:
    _, phone = museum.new_phone()
    phone.timeout = 3  # a phone's connection does not wait for ever
    try:
        answer = checks.declare_and_store_nothing(museum, phone, LIMIT + 1)
    except TimeoutError:
        pytest.fail("no answer until the whole declared body had been sent")
    assert_refused(answer, 413)


# -- what is kept for a reviewer ---------------------------------------------------------------


def test_a_material_outside_the_vocabulary_is_kept_and_listed_with_its_problem(
    museum: Museum, phone: Phone
) -> None:
    sent, xml = checks.send_an_unknown_material(museum, phone)
    before, after = sent.before, sent.after
    assert after["collect_submissions"] == before["collect_submissions"] + 1
    assert after["records"] == before["records"]
    assert after["number_blocks"] == before["number_blocks"]  # no number used up
    kept = museum.submission(sent.instance_id)
    assert (kept["status"], kept["find_uuid"]) == ("needs_review", None)
    assert kept["problems"] == [
        {"field": "material", "message": "'plutonium' is not in the material vocabulary"}
    ]
    as_received = museum.api("GET", f"/collect-submissions/{kept['id']}.xml")
    assert as_received.status_code == 200 and as_received.content == xml


def test_a_jpeg_bomb_and_a_file_that_is_no_photo_are_kept_as_bytes_with_their_problems(
    museum: Museum, phone: Phone
) -> None:
    sent, files = checks.send_a_bomb_and_a_fake(museum, phone)
    kept = museum.submission(sent.instance_id)
    assert kept["status"] == "needs_review"
    assert kept["attachments_received"] == {name: make.sha256(b) for name, b in files.items()}
    problems = [p["message"] for p in kept["problems"]]
    assert [p["field"] for p in kept["problems"]] == ["photo", "photo"]
    for name, content in files.items():
        digest = make.sha256(content)
        assert any(f"photo {name} (sha256 {digest})" in p for p in problems), problems
        kept_bytes = museum.api("GET", f"/photos/{digest}", who="reviewer")
        assert kept_bytes.status_code == 200 and kept_bytes.content == content
        thumb = museum.api("GET", f"/photos/{digest}/thumb", who="reviewer")
        assert thumb.status_code == 422, thumb.text  # never decoded into a thumbnail
