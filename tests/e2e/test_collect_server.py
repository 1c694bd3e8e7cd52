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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select

from field_server.adapters import tables as t
from field_server.adapters.database import make_engine
from tests import media_factory as make
from tests.conftest import fresh_database_url
from tests.e2e.collect_phone import (
    XXE,
    Phone,
    assert_refused,
    instance,
    new_instance_id,
    refusals,
    submission_body,
)
from tests.e2e.server_process import BIN, free_port, running_server
from tests.e2e.test_photo_upload import auth_headers
from tests.integration.conftest import build_world

pytestmark = pytest.mark.e2e

CODE = "ULY-2026"
# small, so that a body over the limit costs the test little; a phone photo still fits
LIMIT = 3 * 1024 * 1024
PHOTO = "1720934921312.jpg"
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
    key, phone = museum.new_phone()
    listing, entries = phone.form_list()
    assert listing.status == 200 and listing.openrosa
    assert [e.form_id for e in entries] == ["qazba_find"]
    (entry,) = entries
    assert entry.download_url == f"{key['server_url']}/forms/qazba_find.xml"
    form = phone.download(entry)  # its md5 checked against the list's hash
    assert form.status == 200 and form.openrosa
    assert f'version="{entry.version}"'.encode() in form.body

    limits = phone.limits()
    assert (limits.status, limits.body) == (204, b"")
    assert limits.openrosa
    assert int(limits.headers["x-openrosa-accept-content-length"]) == LIMIT

    instance_id = new_instance_id()
    sent = phone.submit(instance(instance_id=instance_id, photos=(PHOTO,)), {PHOTO: JPEG})
    assert sent.status == 201, sent.body
    assert sent.openrosa and sent.nature == "submit_success"
    assert sent.message == "The find is filed."

    find = museum.record(instance_id)
    assert find is not None and find["type"] == "find" and find["server_rev"] == 1
    data = find["data"]
    assert (data["position"]["lon"], data["position"]["lat"]) == (67.84472, 48.19331)
    assert data["recorded_by"] == "recorder"
    assert data["survey_uuid"] == key["survey_uuid"]
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
    xml = instance(instance_id=new_instance_id(), photos=(PHOTO,))
    assert phone.submit(xml, {PHOTO: JPEG}).status == 201
    before = museum.held()
    for _ in range(2):  # Collect retrying a request whose answer it missed
        again = phone.submit(xml, {PHOTO: JPEG})
        assert again.status == 201 and again.nature == "submit_success"
        assert museum.held() == before


def test_an_edit_by_deprecated_id_is_a_new_revision_of_the_same_find(
    museum: Museum, phone: Phone
) -> None:
    first_id, edited_id = new_instance_id(), new_instance_id()
    assert phone.submit(instance(instance_id=first_id, photos=())).status == 201
    number = museum.record(first_id)["data"]["find_number"]  # type: ignore[index]
    edit = instance(
        instance_id=edited_id,
        deprecated_id=first_id,
        photos=(),
        answers={"notes": "Жүзі қайта өлшенді", "length_mm": "86"},
    )
    assert phone.submit(edit).status == 201
    find = museum.record(first_id)
    assert find is not None and find["server_rev"] == 2
    assert (find["data"]["notes"], find["data"]["length_mm"]) == ("Жүзі қайта өлшенді", 86)
    assert find["data"]["find_number"] == number  # an edit takes no new number
    assert museum.record(edited_id) is None
    assert museum.submission(edited_id)["find_uuid"] == first_id


def test_different_xml_under_one_instance_id_is_409_and_changes_nothing(
    museum: Museum, phone: Phone
) -> None:
    instance_id = new_instance_id()
    assert phone.submit(instance(instance_id=instance_id, photos=())).status == 201
    before = museum.held()
    other = phone.submit(instance(instance_id=instance_id, photos=(), answers={"notes": "басқа"}))
    assert_refused(other, 409)
    assert museum.held() == before
    assert museum.record(instance_id)["data"]["notes"] is None  # type: ignore[index]


def test_attachments_in_a_second_request_complete_the_find(museum: Museum, phone: Phone) -> None:
    instance_id = new_instance_id()
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    first = phone.submit(xml, incomplete=True)  # the XML first, as Collect splits a large one
    assert first.status == 201
    assert first.message == f"The find is filed. Waiting for photos: {PHOTO}."
    assert museum.record(instance_id)["data"]["photos"] == []  # type: ignore[index]
    assert museum.submission(instance_id)["attachments_missing"] == [PHOTO]

    second = phone.submit(xml, {PHOTO: JPEG})
    assert second.status == 201 and second.message == "The find is filed."
    find = museum.record(instance_id)
    assert find is not None and find["server_rev"] == 2
    assert find["data"]["photos"] == [make.sha256(JPEG)]
    kept = museum.submission(instance_id)
    assert kept["attachments_missing"] == []
    assert kept["attachments_received"] == {PHOTO: make.sha256(JPEG)}


def test_a_revoked_key_is_refused_with_403_at_once(museum: Museum) -> None:
    key, phone = museum.new_phone()
    assert phone.form_list()[0].status == 200
    assert museum.api("DELETE", f"/collect-keys/{key['id']}").status_code == 204
    before = museum.held()
    assert_refused(phone.form_list()[0], 403)
    assert_refused(phone.request("GET", f"{phone.path}/forms/qazba_find.xml"), 403)
    limits = phone.limits()
    assert limits.status == 403 and limits.openrosa
    sent = phone.submit(instance(instance_id=new_instance_id(), photos=(PHOTO,)), {PHOTO: JPEG})
    assert_refused(sent, 403)
    assert museum.held() == before


def test_a_new_site_changes_the_form_version_and_a_form_of_the_old_one_still_lands(
    museum: Museum, phone: Phone
) -> None:
    old = phone.form_version()
    added = museum.api(
        "POST",
        f"/expeditions/{CODE}/sites",
        json={"code": "KNR", "name": "Қаражар қорымы", "boundary": {"type": "Polygon",
              "coordinates": [[[67.80, 48.15], [67.82, 48.15], [67.82, 48.17], [67.80, 48.17],
                               [67.80, 48.15]]]}},
    )  # fmt: skip
    assert added.status_code == 201, added.text
    new = phone.form_version()
    assert new != old
    _, (entry,) = phone.form_list()
    assert b"KNR" in phone.download(entry).body  # the new site is a choice of the form
    instance_id = new_instance_id()
    stale = phone.submit(instance(instance_id=instance_id, photos=(), version=old))
    assert stale.status == 201 and stale.message == "The find is filed."
    assert museum.record(instance_id)["data"]["site_code"] == "DMB"  # type: ignore[index]
    assert museum.submission(instance_id)["form_version"] == old


def test_an_edit_sent_with_its_photo_again_keeps_one_photo_record(
    museum: Museum, phone: Phone
) -> None:
    first_id, edited_id = new_instance_id(), new_instance_id()
    photo = make.jpeg_bytes(gps=make.DMS_FIX, seed=22)
    assert (
        phone.submit(instance(instance_id=first_id, photos=(PHOTO,)), {PHOTO: photo}).status == 201
    )
    before = museum.held()
    # Collect sends an edited form with every attachment again
    edit = instance(
        instance_id=edited_id, deprecated_id=first_id, photos=(PHOTO,),
        answers={"condition": "Тазартылған"},
    )  # fmt: skip
    assert phone.submit(edit, {PHOTO: photo}).status == 201
    find = museum.record(first_id)
    assert find is not None and find["server_rev"] == 2
    assert (find["data"]["condition"], find["data"]["photos"]) == (
        "Тазартылған",
        [make.sha256(photo)],
    )
    after = museum.held()
    assert after["records"] == before["records"]  # no second find, no second photo record
    assert after["photo_blobs"] == before["photo_blobs"]
    assert after["collect_submissions"] == before["collect_submissions"] + 1


def test_one_instance_sent_six_times_at_once_is_one_find(museum: Museum, phone: Phone) -> None:
    instance_id = new_instance_id()
    photo = make.noise_jpeg_bytes(800, 600, seed=23)
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    before = museum.held()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: phone.submit(xml, {PHOTO: photo}), range(6)))
    assert [a.status for a in answers] == [201] * 6
    find = museum.record(instance_id)
    assert find is not None and find["server_rev"] == 1
    after = museum.held()
    assert after["collect_submissions"] == before["collect_submissions"] + 1
    assert after["records"] == before["records"] + 2  # the find and its photo
    assert after["number_blocks"] == before["number_blocks"] + 1
    # every blob in the store is whole: its name is the SHA-256 of its bytes
    for blob in (museum.data_dir / "photos").rglob("*"):
        if blob.is_file() and "." not in blob.name:
            assert make.sha256(blob.read_bytes()) == blob.name, blob


def test_phones_sending_at_once_get_numbers_of_their_own(museum: Museum) -> None:
    phones = [museum.new_phone()[1] for _ in range(6)]
    sent = [(p, new_instance_id()) for p in phones]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda s: s[0].submit(instance(instance_id=s[1], photos=())), sent))
    assert [a.status for a in answers] == [201] * 6
    numbers = [museum.record(i)["data"]["find_number"] for _, i in sent]  # type: ignore[index]
    assert len(set(numbers)) == 6


def test_a_phone_keeping_its_connection_open_is_answered_in_turn(
    museum: Museum, phone: Phone
) -> None:
    instance_id = new_instance_id()
    photo = make.jpeg_bytes(gps=make.DMS_FIX, seed=24)
    body, content_type = submission_body(
        instance(instance_id=instance_id, photos=(PHOTO,)), {PHOTO: photo}
    )
    hostile, hostile_type = submission_body(XXE, {})
    answers = phone.on_one_connection(
        [
            ("HEAD", "/submission", None, {}),
            ("POST", "/submission", body, {"Content-Type": content_type}),
            ("POST", "/submission", hostile, {"Content-Type": hostile_type}),
            ("POST", "/submission", body, {"Content-Type": content_type}),
            ("GET", "/formList", None, {}),
        ]
    )
    assert [a.status for a in answers] == [204, 201, 400, 201, 200]
    assert all(a.openrosa for a in answers)
    find = museum.record(instance_id)
    assert find is not None and find["data"]["photos"] == [make.sha256(photo)]


def test_a_photo_named_with_two_dots_inside_joins_its_find(museum: Museum, phone: Phone) -> None:
    # a lot's photo named by its range of find numbers, as a client keeping file names sends
    instance_id, name = new_instance_id(), "ULY26-0012..0014.jpg"
    photo = make.jpeg_bytes(gps=make.DMS_FIX, seed=26)
    answer = phone.submit(instance(instance_id=instance_id, photos=(name,)), {name: photo})
    assert answer.status == 201, answer.body
    assert answer.message == "The find is filed."
    find = museum.record(instance_id)
    assert find is not None and find["data"]["photos"] == [make.sha256(photo)]


def test_a_photo_named_in_kazakh_joins_its_find(museum: Museum, phone: Phone) -> None:
    instance_id, name = new_instance_id(), "Қола пышақ, сурет 1.jpg"
    photo = make.jpeg_bytes(gps=make.DMS_FIX, seed=25)
    answer = phone.submit(instance(instance_id=instance_id, photos=(name,)), {name: photo})
    assert answer.status == 201 and answer.message == "The find is filed."
    find = museum.record(instance_id)
    assert find is not None and find["data"]["photos"] == [make.sha256(photo)]


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


# half the body sent, or the whole of it and a pause that lands the kill while the server
# reads, keeps the photo, files the find, or has answered
SERVER_KILL_MOMENTS = {
    "half the body": (0.5, 0.0),
    "the whole body, at once": (1.0, 0.0),
    "the whole body, after 50 ms": (1.0, 0.05),
    "the whole body, after 300 ms": (1.0, 0.3),
}


@pytest.mark.parametrize("moment", list(SERVER_KILL_MOMENTS), ids=list(SERVER_KILL_MOMENTS))
def test_a_server_killed_during_a_submission_takes_the_retry_once(
    museum: Museum, second_server: SecondServer, moment: str
) -> None:
    share, pause = SERVER_KILL_MOMENTS[moment]
    key, _ = museum.new_phone()
    phone = Phone(f"http://127.0.0.1:{second_server.port}{key['path']}")
    instance_id = new_instance_id()
    # a photo of its own each time (and per database), so that its blob is new
    photo = make.noise_jpeg_bytes(1200, 900, seed=int(instance_id[:8], 16))
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    body, content_type = submission_body(xml, {PHOTO: photo})
    before = museum.held()
    connection = phone.start_post(body, content_type, int(len(body) * share))
    try:
        time.sleep(pause)
        second_server.kill()
    finally:
        connection.close()
    second_server.start()  # the same port, database and data folder
    if share < 1:
        assert museum.held() == before  # nothing of a request whose body never arrived
    retry = phone.submit(xml, {PHOTO: photo})
    assert retry.status == 201, retry.body
    assert retry.message == "The find is filed."
    find = museum.record(instance_id)
    assert find is not None and find["server_rev"] == 1
    assert find["data"]["photos"] == [make.sha256(photo)]
    after = museum.held()
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
    refusal = REFUSALS[case]
    before = museum.held()
    answer = phone.post(refusal.body, refusal.content_type)
    assert_refused(answer, refusal.status, refusal.says)
    assert museum.held() == before


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
    before = museum.held()
    body, content_type = submission_body(instance(instance_id=new_instance_id(), photos=()), {})
    answer = phone.post_declaring(10**12, content_type, body[:1000])  # the rest never comes
    assert_refused(answer, 413)
    assert answer.headers["connection"] == "close"
    assert museum.held() == before


def test_a_declared_length_just_over_the_limit_is_413_without_waiting_for_the_body(
    museum: Museum,
) -> None:
    _, phone = museum.new_phone()
    phone.timeout = 3  # a phone's connection does not wait for ever
    body, content_type = submission_body(instance(instance_id=new_instance_id(), photos=()), {})
    before = museum.held()
    try:
        answer = phone.post_declaring(LIMIT + 1, content_type, body[:1000])
    except TimeoutError:
        pytest.fail("no answer until the whole declared body had been sent")
    assert_refused(answer, 413)
    assert museum.held() == before


# -- what is kept for a reviewer ---------------------------------------------------------------


def test_a_material_outside_the_vocabulary_is_kept_and_listed_with_its_problem(
    museum: Museum, phone: Phone
) -> None:
    instance_id = new_instance_id()
    xml = instance(instance_id=instance_id, photos=(), answers={"material": "plutonium"})
    before = museum.held()
    answer = phone.submit(xml)
    assert answer.status == 201 and answer.nature == "submit_success"
    assert answer.message.startswith("Kept for a reviewer, no find made yet: material:")
    assert museum.record(instance_id) is None  # no find until a reviewer corrects it
    after = museum.held()
    assert after["collect_submissions"] == before["collect_submissions"] + 1
    assert after["records"] == before["records"]
    assert after["number_blocks"] == before["number_blocks"]  # no number used up
    kept = museum.submission(instance_id)
    assert (kept["status"], kept["find_uuid"]) == ("needs_review", None)
    assert kept["problems"] == [
        {"field": "material", "message": "'plutonium' is not in the material vocabulary"}
    ]
    as_received = museum.api("GET", f"/collect-submissions/{kept['id']}.xml")
    assert as_received.status_code == 200 and as_received.content == xml


def test_a_jpeg_bomb_and_a_file_that_is_no_photo_are_kept_as_bytes_with_their_problems(
    museum: Museum, phone: Phone
) -> None:
    bomb, fake = make.jpeg_bomb_bytes(), b"not a photo, whatever its name says\n"
    files = {"1720934921312.jpg": bomb, "1720934987411.jpg": fake}
    instance_id = new_instance_id()
    answer = phone.submit(instance(instance_id=instance_id, photos=tuple(files)), files)
    assert answer.status == 201
    assert answer.message.startswith("The find is filed; a reviewer will look at: photo:")
    find = museum.record(instance_id)
    assert find is not None and find["data"]["photos"] == []  # neither is a photo of the find
    kept = museum.submission(instance_id)
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
