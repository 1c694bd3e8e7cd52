"""A phone with ODK Collect talking OpenRosa to the server through its key: the form list and
the form, and every outcome of a submission (DESIGN §9)."""

from __future__ import annotations

import hashlib
import io
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from field_server.adapters import tables as t
from tests import media_factory as make
from tests.integration.conftest import World
from tests.unit.collect.instances import INSTANCE_ID, instance

PHOTO_A, PHOTO_B = "1720934921312.jpg", "1720934987411.jpg"
JPEG_A = make.jpeg_bytes(gps=make.DMS_FIX, seed=2)
JPEG_B = make.jpeg_bytes(seed=3)
NS = {"x": "http://openrosa.org/xforms/xformsList", "r": "http://openrosa.org/http/response"}


def new_key(world: World, who: str = "leader", code: str = "ULY-2026") -> dict[str, Any]:
    response = world.client.post(
        f"/api/v1/expeditions/{code}/collect-keys",
        json={"username": "recorder" if code == "ULY-2026" else "outsider",
              "device_name": f"phone {uuid.uuid4().hex[:6]}"},
        headers=world.headers("admin" if code != "ULY-2026" else who),
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()
    key: dict[str, Any] = response.get_json()
    return key


@pytest.fixture
def key(world: World) -> dict[str, Any]:
    return new_key(world)


def send(
    world: World,
    path: str,
    xml: bytes | None,
    files: dict[str, bytes] | None = None,
    incomplete: bool = False,
) -> TestResponse:
    data: dict[str, Any] = {}
    if xml is not None:
        data["xml_submission_file"] = (io.BytesIO(xml), "submission.xml", "text/xml")
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/jpeg")
    if incomplete:
        data["*isIncomplete*"] = "yes"
    return world.client.post(f"{path}/submission", data=data, content_type="multipart/form-data")


def message(response: TestResponse) -> str:
    root = ET.fromstring(response.get_data())
    return root.findtext("r:message", namespaces=NS) or ""


def counts(world: World) -> dict[str, int]:
    with world.runtime.uow() as uow:
        c = uow.connection
        return {
            "submissions": c.execute(select(func.count()).select_from(t.collect_submissions))
            .scalar_one(),
            "records": c.execute(select(func.count()).select_from(t.records)).scalar_one(),
            "revisions": c.execute(select(func.count()).select_from(t.revisions)).scalar_one(),
            "blobs": c.execute(select(func.count()).select_from(t.photo_blobs)).scalar_one(),
        }  # fmt: skip


def find_of(world: World, uuid_: str) -> dict[str, Any]:
    changes, _ = world.pull_all("recorder")
    [change] = [c for c in changes if c["uuid"] == uuid_]
    return change


def test_the_whole_conversation_makes_a_find_a_device_pulls(world: World, key: dict) -> None:
    path = key["path"]
    listing = world.client.get(f"{path}/formList")
    assert listing.status_code == 200
    assert listing.headers["X-OpenRosa-Version"] == "1.0"
    assert listing.content_type == "text/xml; charset=utf-8"
    xform = ET.fromstring(listing.get_data()).find("x:xform", NS)
    assert xform is not None
    assert xform.findtext("x:formID", namespaces=NS) == "qazba_find"
    url = xform.findtext("x:downloadUrl", namespaces=NS) or ""
    assert url == f"http://localhost{path}/forms/qazba_find.xml"
    form = world.client.get(url.removeprefix("http://localhost"))
    assert form.status_code == 200
    assert form.headers["X-OpenRosa-Version"] == "1.0"
    md5 = "md5:" + hashlib.md5(form.get_data(), usedforsecurity=False).hexdigest()
    assert xform.findtext("x:hash", namespaces=NS) == md5

    head = world.client.head(f"{path}/submission")
    assert head.status_code == 204
    assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) == 50 * 1024 * 1024
    assert head.headers["X-OpenRosa-Version"] == "1.0"

    sent = send(world, path, instance(), {PHOTO_A: JPEG_A, PHOTO_B: JPEG_B})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    root = ET.fromstring(sent.get_data())
    assert root.find("r:message", NS).get("nature") == "submit_success"  # type: ignore[union-attr]

    find = find_of(world, INSTANCE_ID)
    data = find["data"]
    assert data["position"]["lon"] == pytest.approx(67.84472)  # lon first, as on the wire
    assert data["position"]["lat"] == pytest.approx(48.19331)
    assert data["position"]["horizontal_accuracy_m"] == pytest.approx(3.9)
    assert data["recorded_by"] == "recorder"
    assert data["find_number"] == "ULY26-0001"  # blank on the phone: the expedition's next
    assert data["survey_uuid"] == key["survey_uuid"]
    assert data["photos"] == [make.sha256(JPEG_A), make.sha256(JPEG_B)]
    photo = world.client.get(
        f"/api/v1/photos/{make.sha256(JPEG_A)}", headers=world.headers("recorder"), buffered=True
    )
    assert photo.status_code == 200
    assert photo.get_data() == JPEG_A
    # another phone's blank number gets the next one, never the same
    other = instance(instance_id=str(uuid.uuid4()), photos=())
    assert send(world, path, other).status_code == 201
    changes, _ = world.pull_all("recorder")
    numbers = sorted(c["data"]["find_number"] for c in changes if c["type"] == "find")
    assert numbers == ["ULY26-0001", "ULY26-0002"]


def test_a_replay_writes_nothing_twice(world: World, key: dict) -> None:
    files = {PHOTO_A: JPEG_A, PHOTO_B: JPEG_B}
    assert send(world, key["path"], instance(), files).status_code == 201
    before = counts(world)
    again = send(world, key["path"], instance(), files)
    assert again.status_code == 201
    assert counts(world) == before


def test_attachments_in_a_later_request_join_the_find(world: World, key: dict) -> None:
    first = send(world, key["path"], instance(), {PHOTO_A: JPEG_A}, incomplete=True)
    assert first.status_code == 201
    assert PHOTO_B in message(first)
    assert find_of(world, INSTANCE_ID)["data"]["photos"] == [make.sha256(JPEG_A)]
    second = send(world, key["path"], instance(), {PHOTO_B: JPEG_B})
    assert second.status_code == 201
    find = find_of(world, INSTANCE_ID)
    assert find["server_rev"] == 2
    assert find["data"]["photos"] == [make.sha256(JPEG_A), make.sha256(JPEG_B)]
    assert find["data"]["find_number"] == "ULY26-0001"


def test_the_xml_before_its_attachments_is_filed_and_completed_later(
    world: World, key: dict
) -> None:
    first = send(world, key["path"], instance(), incomplete=True)
    assert first.status_code == 201
    assert find_of(world, INSTANCE_ID)["data"]["photos"] == []
    assert (
        send(world, key["path"], instance(), {PHOTO_A: JPEG_A, PHOTO_B: JPEG_B}).status_code == 201
    )
    assert len(find_of(world, INSTANCE_ID)["data"]["photos"]) == 2


def test_an_edit_by_deprecated_id_is_a_new_revision_of_the_same_find(
    world: World, key: dict
) -> None:
    assert send(world, key["path"], instance(photos=())).status_code == 201
    edited_id = str(uuid.uuid4())
    edit = instance(
        photos=(), instance_id=edited_id, deprecated_id=INSTANCE_ID,
        answers={"notes": "Жүзі қайта өлшенді"},
    )  # fmt: skip
    assert send(world, key["path"], edit).status_code == 201
    find = find_of(world, INSTANCE_ID)
    assert find["server_rev"] == 2
    assert find["data"]["notes"] == "Жүзі қайта өлшенді"
    assert find["data"]["find_number"] == "ULY26-0001"
    changes, _ = world.pull_all("recorder")
    assert edited_id not in {c["uuid"] for c in changes}


def test_an_unknown_deprecated_id_makes_a_new_find(world: World, key: dict) -> None:
    edit = instance(photos=(), deprecated_id=str(uuid.uuid4()))
    assert send(world, key["path"], edit).status_code == 201
    assert find_of(world, INSTANCE_ID)["server_rev"] == 1


def test_different_xml_under_one_instance_id_is_refused(world: World, key: dict) -> None:
    assert send(world, key["path"], instance(photos=())).status_code == 201
    before = counts(world)
    other = send(world, key["path"], instance(photos=(), answers={"notes": "басқа"}))
    assert other.status_code == 409
    assert other.headers["X-OpenRosa-Version"] == "1.0"
    assert counts(world) == before


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<find id="qazba_find"><notes>&lol2;</notes></find>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE find [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<find id="qazba_find"><notes>&x;</notes></find>"""


@pytest.mark.parametrize(
    ("xml", "files", "status"),
    [
        (instance(form_id="someone_elses_form"), {}, 404),
        (b"<find id='qazba_find'><meta>", {}, 400),
        (BILLION_LAUGHS, {}, 400),
        (XXE, {}, 400),
        (None, {PHOTO_A: JPEG_A}, 400),
        (instance(), {"../evil.jpg": JPEG_A}, 400),
    ],
    ids=["foreign form", "malformed", "billion laughs", "xxe", "no xml part", "path name"],
)
def test_refused_submissions_store_nothing(
    world: World, key: dict, xml: bytes | None, files: dict[str, bytes], status: int
) -> None:
    before = counts(world)
    response = send(world, key["path"], xml, files)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert counts(world) == before


def test_a_malformed_multipart_body_is_refused(world: World, key: dict) -> None:
    before = counts(world)
    response = world.client.post(
        f"{key['path']}/submission",
        data=b'--xx\r\nContent-Disposition: form-data; name="xml_submission_file"\r\n\r\n<a',
        content_type="multipart/form-data; boundary=xx",
    )
    assert response.status_code == 400
    assert counts(world) == before


def test_a_body_over_the_limit_is_refused_before_it_is_read(world: World, key: dict) -> None:
    class Body(io.BytesIO):
        """A body that fails the test if a byte of it is read."""

        def read(self, size: int | None = -1) -> bytes:
            raise AssertionError("the body was read")

    small = replace(world.runtime.config, max_submission_bytes=1000)
    world.app.extensions["qazba"] = replace(world.runtime, config=small)
    response = world.client.post(
        f"{key['path']}/submission",
        input_stream=Body(b"x" * 2000),
        content_type="multipart/form-data; boundary=xx",
    )
    assert response.status_code == 413
    assert response.headers["X-OpenRosa-Version"] == "1.0"


def test_revoked_and_foreign_keys_are_refused_with_403(world: World, key: dict) -> None:
    foreign = new_key(world, code="ZHZ-2026")
    wrong_place = key["path"].replace("ULY-2026", "ZHZ-2026")
    for path in (
        wrong_place,
        foreign["path"].replace("ZHZ-2026", "ULY-2026"),
        "/odk/key/x/ULY-2026",
    ):
        assert world.client.get(f"{path}/formList").status_code == 403
        assert send(world, path, instance()).status_code == 403
    world.client.delete(f"/api/v1/collect-keys/{key['id']}", headers=world.headers("leader"))
    before = counts(world)
    refused = send(world, key["path"], instance(), {PHOTO_A: JPEG_A})
    assert refused.status_code == 403
    assert refused.headers["X-OpenRosa-Version"] == "1.0"
    assert world.client.head(f"{key['path']}/submission").status_code == 403
    assert counts(world) == before


def test_a_new_site_gives_a_new_form_version_and_old_submissions_still_land(
    world: World, key: dict
) -> None:
    def version() -> str:
        listing = world.client.get(f"{key['path']}/formList").get_data()
        return ET.fromstring(listing).findtext("x:xform/x:version", namespaces=NS) or ""

    old = version()
    added = world.client.post(
        "/api/v1/expeditions/ULY-2026/sites",
        json={"code": "NEW", "name": "Жаңа", "boundary": {"type": "Polygon", "coordinates": [
            [[67.84, 48.19], [67.85, 48.19], [67.85, 48.2], [67.84, 48.2], [67.84, 48.19]]]}},
        headers=world.headers("leader"),
    )  # fmt: skip
    assert added.status_code == 201
    assert version() != old
    assert send(world, key["path"], instance(photos=(), version=old)).status_code == 201
    assert find_of(world, INSTANCE_ID)["data"]["site_code"] == "DMB"


def test_a_submission_that_makes_no_valid_find_is_kept_for_review(world: World, key: dict) -> None:
    response = send(world, key["path"], instance(photos=(), answers={"material": "plutonium"}))
    assert response.status_code == 201
    assert "material" in message(response)
    changes, _ = world.pull_all("recorder")
    assert INSTANCE_ID not in {c["uuid"] for c in changes}
    with world.runtime.uow() as uow:
        row = uow.connection.execute(select(t.collect_submissions)).one()
    assert row.status == "needs_review"
    assert row.find_uuid is None
    assert "plutonium" in row.problems


def test_an_attachment_the_form_does_not_name_is_not_stored(world: World, key: dict) -> None:
    stray = make.jpeg_bytes(seed=11)
    response = send(world, key["path"], instance(photos=()), {"stray.jpg": stray})
    assert response.status_code == 201
    assert "stray.jpg" in message(response)
    with world.runtime.uow() as uow:
        assert uow.blobs.get(make.sha256(stray)) is None
