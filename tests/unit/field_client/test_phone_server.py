"""The camp laptop as the phones' server: keys it issues, the form it serves, and submissions
filed into its store and outbox as the server would answer them (DESIGN §9, "In camp")."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from field_client import number_blocks, outbox, records, reference, surveys
from field_client.phone_server import CampServer, PhoneApp
from field_client.phones import issue_key, phone_for
from field_client.schema import LATEST_VERSION
from field_client.store import Store
from tests.media_factory import jpeg_bytes
from tests.unit.collect.conftest import reference_document
from tests.unit.collect.instances import INSTANCE_ID, instance

CODE = "ULY-2026"
OTHER_ID = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"


@pytest.fixture
def camp(tmp_path: Path) -> Iterator[tuple[Path, Store]]:
    """A laptop that pulled the reference, reserved numbers and opened a survey."""
    store = Store.open(tmp_path / "field-client.sqlite3")
    with store.transaction() as connection:
        reference.store_reference(connection, reference_document())
        number_blocks.add_block(connection, number_blocks.Block(CODE, 1, 10, "ULY26-{n:04d}"))
        surveys.start(connection, CODE, "Қазба 2", ["aigerim"], None, None)
    yield tmp_path, store
    store.close()


@pytest.fixture
def phone(camp: tuple[Path, Store]) -> tuple[Client, str, str]:
    """A test client of the laptop's WSGI app and the base path of an issued key."""
    home, store = camp
    with store.transaction() as connection:
        issued = issue_key(connection, "aigerim", "A52", "http://10.0.0.5:8765")
    app = PhoneApp(CampServer(home, store.path))
    return Client(app), issued.path, issued.key


def post(client: Client, path: str, xml: bytes, files: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {
        "xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")
    }
    for name, body in (files or {}).items():
        data[name] = (io.BytesIO(body), name, "image/jpeg")
    return client.post(f"{path}/submission", data=data, content_type="multipart/form-data")


def message(response) -> str:  # type: ignore[no-untyped-def]
    root = ET.fromstring(response.data)
    return "".join(root.itertext())


def counts(store: Store) -> dict[str, int]:
    with store.reading() as connection:
        return dict(
            connection.execute("SELECT type, count(*) FROM record GROUP BY type").fetchall()
        )


def test_the_migration_lets_the_record_table_hold_submissions(camp: tuple[Path, Store]) -> None:
    _, store = camp
    with store.reading() as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute(
                "INSERT INTO record (uuid, type, data, rev, base_rev, created_at, updated_at) "
                "VALUES ('x', 'nonsense', '{}', 1, 0, '', '')"
            )


def test_a_key_is_stored_hashed_and_answers_as_the_server(camp: tuple[Path, Store]) -> None:
    _, store = camp
    with store.transaction() as connection:
        issued = issue_key(connection, "aigerim", "A52 Айгерім", "http://10.0.0.5:8765/")
    assert len(base64.urlsafe_b64decode(issued.key + "=")) == 32
    assert issued.path == f"/odk/key/{issued.key}/{CODE}"
    assert issued.server_url == "http://10.0.0.5:8765" + issued.path
    settings = json.loads(zlib.decompress(base64.b64decode(issued.settings)))
    assert settings["general"]["server_url"] == issued.server_url
    assert settings["project"]["name"] == f"{CODE} · A52 Айгерім"
    assert set(issued.answer()) == {"id", "key", "path", "server_url", "settings"}
    with store.reading() as connection:
        stored = connection.execute("SELECT key_sha256 FROM collect_key").fetchone()[0]
        assert stored == hashlib.sha256(issued.key.encode()).hexdigest()
        assert issued.key not in json.dumps(
            connection.execute("SELECT * FROM collect_key").fetchall()
        )
        assert phone_for(connection, issued.key, CODE) is not None
        assert phone_for(connection, issued.key, "ZHZ-2026") is None
        assert phone_for(connection, issued.key + "x", CODE) is None


def test_form_list_and_form_are_built_from_the_pulled_reference(
    phone: tuple[Client, str, str],
) -> None:
    client, path, _ = phone
    listing = client.get(f"{path}/formList", headers={"Host": "192.168.4.1:8765"})
    assert listing.status_code == 200
    assert listing.headers["X-OpenRosa-Version"] == "1.0"
    ns = {"x": "http://openrosa.org/xforms/xformsList"}
    entry = ET.fromstring(listing.data).find("x:xform", ns)
    assert entry is not None
    url = entry.findtext("x:downloadUrl", namespaces=ns)
    assert url == f"http://192.168.4.1:8765{path}/forms/qazba_find.xml"
    form = client.get(f"{path}/forms/qazba_find.xml")
    assert form.status_code == 200
    assert entry.findtext("x:hash", namespaces=ns) == "md5:" + hashlib.md5(form.data).hexdigest()
    assert b"DMB" in form.data
    assert client.get(f"{path}/forms/other.xml").status_code == 404
    head = client.head(f"{path}/submission")
    assert head.status_code == 204
    assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) > 1_000_000


def test_a_bad_key_is_403_never_401(phone: tuple[Client, str, str]) -> None:
    client, path, key = phone
    for bad in (path.replace(key, "nope"), path.replace(CODE, "ZHZ-2026")):
        answer = client.get(f"{bad}/formList")
        assert answer.status_code == 403
        assert answer.headers["X-OpenRosa-Version"] == "1.0"
        assert post(client, bad, instance(photos=())).status_code == 403


def test_a_submission_becomes_a_find_photos_and_a_kept_submission(
    camp: tuple[Path, Store], phone: tuple[Client, str, str]
) -> None:
    home, store = camp
    client, path, _ = phone
    photo = jpeg_bytes()
    xml = instance(photos=("p1.jpg",))
    answer = post(client, path, xml, {"p1.jpg": photo})
    assert answer.status_code == 201, message(answer)
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    assert "filed" in message(answer)
    with store.reading() as connection:
        find = records.get(connection, INSTANCE_ID)
        assert find is not None and find.type == "find"
        assert find.data["find_number"] == "ULY26-0001"
        assert find.data["recorded_by"] == "aigerim"
        assert find.data["position"]["lon"] == 67.84472
        sha = hashlib.sha256(photo).hexdigest()
        assert find.data["photos"] == [sha]
        (kept,) = records.list_of(connection, "submission")
        assert kept.uuid != INSTANCE_ID
        assert kept.data["xml"].encode() == xml
        assert kept.data["find_uuid"] == INSTANCE_ID
        assert kept.data["instance_id"] == INSTANCE_ID
        (photo_record,) = records.list_of(connection, "photo")
        assert photo_record.data["find_uuids"] == [INSTANCE_ID]
        assert set(outbox.pending_uuids(connection)) >= {INSTANCE_ID, kept.uuid, photo_record.uuid}
        assert connection.execute("SELECT on_server FROM photo_file").fetchall() == [(0,)]
    assert (home / "photos" / sha[:2] / sha).read_bytes() == photo
    before = counts(store)

    again = post(client, path, xml, {"p1.jpg": photo})  # Collect retrying a missed answer
    assert again.status_code == 201
    assert counts(store) == before
    other = post(client, path, instance(photos=("p1.jpg",), answers={"trench": "3"}))
    assert other.status_code == 409
    assert counts(store) == before


def test_photos_sent_in_a_later_request_join_the_find(
    camp: tuple[Path, Store], phone: tuple[Client, str, str]
) -> None:
    _, store = camp
    client, path, _ = phone
    xml = instance(photos=("a.jpg", "b.jpg"))
    first = post(client, path, xml, {"a.jpg": jpeg_bytes(seed=1)})
    assert "b.jpg" in message(first)
    assert post(client, path, xml, {"b.jpg": jpeg_bytes(seed=2)}).status_code == 201
    with store.reading() as connection:
        find = records.get(connection, INSTANCE_ID)
        assert find is not None and len(find.data["photos"]) == 2
        assert len(records.list_of(connection, "photo")) == 2


def test_a_deprecated_id_edits_the_find(
    camp: tuple[Path, Store], phone: tuple[Client, str, str]
) -> None:
    _, store = camp
    client, path, _ = phone
    assert post(client, path, instance(photos=())).status_code == 201
    edited = instance(
        photos=(), instance_id=OTHER_ID, deprecated_id=INSTANCE_ID, answers={"trench": "Т5"}
    )
    assert post(client, path, edited).status_code == 201
    with store.reading() as connection:
        assert records.get(connection, OTHER_ID) is None
        find = records.get(connection, INSTANCE_ID)
        assert find is not None and find.rev == 2 and find.data["trench"] == "Т5"
        assert find.data["find_number"] == "ULY26-0001"
        assert len(records.list_of(connection, "submission")) == 2


def test_values_that_make_no_find_are_kept(
    camp: tuple[Path, Store], phone: tuple[Client, str, str]
) -> None:
    _, store = camp
    client, path, _ = phone
    answer = post(client, path, instance(photos=(), answers={"material": "unobtainium"}))
    assert answer.status_code == 201
    assert "reviewer" in message(answer)
    with store.reading() as connection:
        assert records.list_of(connection, "find") == []
        (kept,) = records.list_of(connection, "submission")
        assert kept.data["find_uuid"] is None
        assert number_blocks.remaining(connection, CODE) == 10  # no number used up


@pytest.mark.parametrize(
    ("xml", "status"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><find id="qazba_find"/>', 400),
        (b"<find id='qazba_find'><unclosed></find>", 400),
        (instance(form_id="someone_elses_form", photos=()), 404),
    ],
)
def test_refused_submissions_store_nothing(
    camp: tuple[Path, Store], phone: tuple[Client, str, str], xml: bytes, status: int
) -> None:
    _, store = camp
    client, path, _ = phone
    before = counts(store)
    answer = post(client, path, xml)
    assert answer.status_code == status
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    assert counts(store) == before


def test_no_xml_part_a_bad_file_name_and_an_oversized_body_are_refused(
    camp: tuple[Path, Store], phone: tuple[Client, str, str]
) -> None:
    _, store = camp
    client, path, _ = phone
    before = counts(store)
    none = client.post(
        f"{path}/submission",
        data={"p.jpg": (io.BytesIO(b"x"), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert none.status_code == 400
    bad_name = post(client, path, instance(photos=()), {"../p.jpg": b"x"})
    assert bad_name.status_code == 400
    home, _ = camp
    small = Client(PhoneApp(CampServer(home, store.path, max_bytes=500)))
    huge = post(small, path, instance(photos=()))
    assert huge.status_code == 413
    assert huge.headers["X-OpenRosa-Version"] == "1.0"
    assert counts(store) == before


def test_the_key_command_prints_the_servers_answer_and_writes_a_qr(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from field_client.home import ensure_home, store_path
    from tests.unit.field_client.conftest import run

    store = Store.open(store_path(ensure_home(home)))
    with store.transaction() as connection:
        reference.store_reference(connection, reference_document())
        surveys.start(connection, CODE, "Қазба 2", ["aigerim"], None, None)
    store.close()
    qr = home / "phone.png"
    code, out, err = run(
        capsys, "collect", "key", "aigerim", "--device", "A52",
        "--url", "http://10.0.0.5:8765", "--qr", str(qr), "--json",
    )  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)
    assert set(answer) == {"id", "key", "path", "server_url", "settings"}
    assert answer["server_url"].startswith("http://10.0.0.5:8765/odk/key/")
    assert qr.read_bytes().startswith(b"\x89PNG")
    assert list(home.glob("*.partial")) == []
    code, _, err = run(capsys, "collect", "key", "aigerim", "--device", "A52")
    assert code == 0, err  # the laptop's own address


def test_a_submission_the_server_keeps_with_other_xml_stays_listed_with_its_flag(
    camp: tuple[Path, Store], phone: tuple[Client, str, str]
) -> None:
    from field_client import batches, push
    from field_client.commands.state import rejected_line
    from field_client.views import status_view

    _, store = camp
    client, path, _ = phone
    assert post(client, path, instance(photos=())).status_code == 201
    with store.transaction() as connection:
        (kept,) = records.list_of(connection, "submission")
        batch = batches.write_batch(connection, "laptop", [kept.uuid])
        flag = {"code": "instance_differs", "detail": "other XML", "other_uuid": None}
        answer = {
            "batch_id": batch.batch_id,
            "results": [
                {
                    "uuid": kept.uuid,
                    "status": "rejected",
                    "server_rev": 0,
                    "problems": [{"field": "data.xml", "message": "other XML"}],
                    "flags": [flag],
                }
            ],
        }
        push.apply_answer(connection, batch, answer)
    with store.reading() as connection:
        (listed,) = status_view(connection)["rejected"]
    assert listed["uuid"] == kept.uuid and listed["flags"] == [flag]
    assert "instance_differs" in rejected_line(listed)
    assert f"phone submission {INSTANCE_ID}" in rejected_line(listed)


def test_a_pulled_submission_of_another_laptop_is_stored(camp: tuple[Path, Store]) -> None:
    from field_client import pull

    _, store = camp
    with store.transaction() as connection:
        survey = surveys.choose(connection, None)
        change = {
            "type": "submission",
            "uuid": OTHER_ID,
            "server_rev": 1,
            "state": None,
            "data": {
                "expedition_code": CODE,
                "survey_uuid": survey.uuid,
                "instance_id": INSTANCE_ID,
                "find_uuid": None,
                "received_at": "2026-07-14T10:32:05+05:00",
                "xml": instance(photos=()).decode(),
            },
        }
        assert pull.apply_page(connection, [change]) == {"new": 1}
        assert not outbox.is_pending(connection, OTHER_ID)
