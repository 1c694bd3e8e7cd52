"""The camp laptop's keys for phones: listed with their use, revoked at once by number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.test import Client

from field_client import number_blocks, reference, surveys
from field_client.home import ensure_home, store_path
from field_client.phone_server import CampServer, PhoneApp
from field_client.store import Store
from tests.media_factory import jpeg_bytes
from tests.unit.collect.conftest import reference_document
from tests.unit.collect.instances import instance
from tests.unit.field_client.conftest import run
from tests.unit.field_client.test_phone_server import CODE, post

URL = "http://10.0.0.5:8765"


@pytest.fixture
def laptop(home: Path) -> Path:
    store = Store.open(store_path(ensure_home(home)))
    with store.transaction() as connection:
        reference.store_reference(connection, reference_document())
        number_blocks.add_block(connection, number_blocks.Block(CODE, 1, 10, "ULY26-{n:04d}"))
        surveys.start(connection, CODE, "Қазба 2", ["aigerim", "dana"], None, None)
    store.close()
    return home


def issue(capsys: pytest.CaptureFixture[str], who: str, device: str) -> dict[str, str]:
    code, out, err = run(capsys, "collect", "key", who, "--device", device, "--url", URL, "--json")
    assert code == 0, err
    return json.loads(out)


def test_keys_are_listed_newest_first_with_their_use_and_no_secret(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = issue(capsys, "aigerim", "A52")
    second = issue(capsys, "dana", "Redmi Note 12")
    store = Store.open(store_path(laptop))
    phone = Client(PhoneApp(CampServer(laptop, store.path)))
    sent = post(phone, first["path"], instance(photos=("a.jpg",)), {"a.jpg": jpeg_bytes()})
    assert sent.status_code == 201
    store.close()

    code, out, err = run(capsys, "collect", "keys", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [k["id"] for k in listed] == [second["id"], first["id"]]
    mine = listed[1]
    assert (mine["username"], mine["device_name"], mine["survey_title"]) == (
        "aigerim",
        "A52",
        "Қазба 2",
    )
    assert mine["submissions"] == 1 and mine["last_used_at"] is not None
    assert mine["revoked_at"] is None and listed[0]["submissions"] == 0
    assert first["key"] not in out and second["key"] not in out

    code, out, err = run(capsys, "collect", "keys")
    assert code == 0, err
    assert "Redmi Note 12" in out and "Қазба 2" in out and "in use" in out
    assert "(UTC+5)" in out and first["key"] not in out


def test_a_revoked_key_is_refused_at_once_and_its_finds_stay(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = issue(capsys, "aigerim", "A52")
    store = Store.open(store_path(laptop))
    phone = Client(PhoneApp(CampServer(laptop, store.path)))
    assert post(phone, issued["path"], instance(photos=())).status_code == 201

    code, out, err = run(capsys, "collect", "revoke", str(issued["id"]))
    assert code == 0, err
    assert out.strip() == (
        f"key {issued['id']} of aigerim (A52) revoked: the phone's next request is refused"
    )
    refused = post(phone, issued["path"], instance(photos=()))
    assert refused.status_code == 403 and refused.headers["X-OpenRosa-Version"] == "1.0"
    assert phone.get(f"{issued['path']}/formList").status_code == 403
    with store.reading() as connection:
        finds = connection.execute("SELECT count(*) FROM record WHERE type = 'find'").fetchone()
    assert finds == (1,)
    store.close()

    code, out, err = run(capsys, "collect", "revoke", str(issued["id"]), "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["revoked_now"] is False and again["revoked_at"] is not None
    code, out, _ = run(capsys, "collect", "revoke", str(issued["id"]))
    assert "was already revoked on " in out and "(UTC+5)" in out


def test_revoking_a_key_the_laptop_never_issued_is_a_one_line_error(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "collect", "revoke", "42")
    assert code != 0 and out == ""
    assert "issued no key 42" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, "collect", "keys")
    assert code == 0 and out.startswith("no keys")
