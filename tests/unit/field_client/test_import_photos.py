"""field-client import photos: copied in first, placed on the tracks, attached to finds, once."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from field_client import outbox, photo_files, records
from field_client.photos import FindMatcher
from field_client.records import LocalRecord
from field_client.store import Store
from field_client.views import Standing, status_view
from tests import media_factory
from tests.unit.field_client.conftest import find_data, run, survey_data

SAMPLE = Path(__file__).parents[3] / "sample_surveys" / "uly-2026-dombauyl"


def ok_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def survey(home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    started = ok_json(capsys, "survey", "start", "--expedition", "ULY-2026", "--title", "T")
    ok_json(capsys, "import", "gpx", str(SAMPLE / "dombauyl-2026-gps.gpx"))
    return str(started["uuid"])


def add_find(capsys: pytest.CaptureFixture[str], number: str) -> str:
    found = ok_json(
        capsys,
        "find",
        "add",
        f"--find-number={number}",
        "--material=ceramic",
        "--object-name=sherd",
        "--lon=67.8446",
        "--lat=48.1932",
        "--method=gnss",
        "--recorded-by=a.nurlankyzy",
    )
    return str(found["uuid"])


def import_sample(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    return dict(
        ok_json(
            capsys,
            "import",
            "photos",
            str(SAMPLE / "photos"),
            "--camera-offset",
            "+00:02:13",
            "--tz",
            "+05:00",
            *extra,
        )
    )


def test_sample_photos_are_stored_by_hash_placed_and_attached_to_their_finds(
    survey: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = add_find(capsys, "ULY26-0001")
    third = add_find(capsys, "ULY26-0003")
    answer = import_sample(capsys)
    names = sorted(p.name for p in (SAMPLE / "photos").iterdir())
    assert len(answer["created"]) == len(names)
    for name in names:
        sha256 = hashlib.sha256((SAMPLE / "photos" / name).read_bytes()).hexdigest()
        assert (
            photo_files.stored_path(home, sha256).read_bytes()
            == (SAMPLE / "photos" / name).read_bytes()
        )
    sources = {p["position_source"] for p in answer["created"]}
    assert {"exif", "track"} <= sources
    assert sorted(answer["finds_edited"]) == sorted([first, third])
    finds = {f["uuid"]: f for f in ok_json(capsys, "find", "list")}
    assert len(finds[first]["photos"]) == 2 and len(finds[third]["photos"]) == 1
    listed = ok_json(capsys, "photos")
    assert {p["sha256"] for p in listed} == {p["sha256"] for p in answer["created"]}
    assert all(p["on_server"] is False and p["survey_uuid"] == survey for p in listed)
    attached = [p for p in listed if first in p["find_uuids"]]
    assert len(attached) == 2


def test_importing_the_folder_again_adds_nothing(
    survey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_find(capsys, "ULY26-0001")
    import_sample(capsys)
    pending = ok_json(capsys, "status")["pending"]
    again = import_sample(capsys)
    assert again["created"] == [] and again["finds_edited"] == []
    assert ok_json(capsys, "status")["pending"] == pending


def test_an_explicit_find_takes_every_photo_of_the_folder(
    survey: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    find = add_find(capsys, "ULY26-0042")
    folder = tmp_path / "card"
    folder.mkdir()
    media_factory.jpeg(folder, "IMG_0001.JPG", seed=1)
    media_factory.jpeg(folder, "IMG_0002.JPG", seed=2)
    answer = ok_json(capsys, "import", "photos", str(folder), "--find", find[:8])
    assert answer["finds_edited"] == [find]
    assert all(p["find_uuids"] == [find] for p in answer["created"])


def test_bad_files_are_warned_about_while_the_good_ones_import(
    survey: str, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    good = media_factory.jpeg(folder, "good.jpg")
    bad = [
        media_factory.jpeg_bomb(folder, 20_000, 20_000),
        media_factory.truncated_jpeg(folder),
        media_factory.text_named_jpeg(folder),
    ]
    outside = tmp_path / "secret.jpg"
    shutil.copy(good, outside)
    (folder / "link.jpg").symlink_to(outside)
    (folder / "subfolder").mkdir()
    code, out, err = run(capsys, "import", "photos", str(folder), "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert len(answer["created"]) == 1
    assert len(answer["warnings"]) == len(bad) + 1
    assert err.count("warning: ") == err.count("\n") == len(bad) + 1
    assert "link.jpg: is a symbolic link" in err and "Traceback" not in err
    stored = [p for p in photo_files.photo_folder(home).rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [hashlib.sha256(good.read_bytes()).hexdigest()]


def test_a_file_name_with_dots_cannot_write_outside_the_store(
    survey: str, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "card" / "deep"
    folder.mkdir(parents=True)
    sneaky = media_factory.jpeg(folder, "..jpg", seed=3)
    before = sorted(tmp_path.rglob("*"))
    answer = ok_json(capsys, "import", "photos", str(folder / ".." / "deep"))
    assert len(answer["created"]) == 1
    new = sorted(set(tmp_path.rglob("*")) - set(before))
    assert all(home in p.parents for p in new)
    assert sneaky.exists()


def test_an_unreadable_folder_gives_one_line_and_imports_nothing(
    survey: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "import", "photos", str(tmp_path / "no-such-card"))
    assert code != 0 and out == "" and err.count("\n") == 1 and "no-such-card" in err
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o000)
        code, _, err = run(capsys, "import", "photos", str(locked))
        locked.chmod(0o700)
        assert code != 0 and err.count("\n") == 1 and "locked" in err


def test_bad_clock_options_are_refused_in_one_line(
    survey: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for option in (["--camera-offset", "02:13"], ["--tz", "Asia/Almaty"]):
        code, _, err = run(capsys, "import", "photos", str(SAMPLE / "photos"), *option)
        assert code != 0 and err.count("\n") == 1, err
    code, _, err = run(capsys, "import", "photos", str(SAMPLE), "--attach-pattern", "(")
    assert code != 0 and "--attach-pattern" in err


def _find(number: str) -> LocalRecord:
    return LocalRecord(
        uuid=number,
        type="find",
        survey_uuid="s",
        data={"find_number": number},
        rev=1,
        base_rev=0,
        server_data=None,
        awaiting_pull=False,
        state=None,
        flags=[],
        rejected_rev=None,
        problems=[],
        created_at="",
        updated_at="",
    )


def test_a_file_name_belongs_to_the_longest_find_number_it_starts_with() -> None:
    matcher = FindMatcher([_find("ULY26-0003"), _find("ULY26-00031")])
    assert matcher.find_for("ULY26-0003_a.jpg").uuid == "ULY26-0003"  # type: ignore[union-attr]
    assert matcher.find_for("ULY26-00031.jpg").uuid == "ULY26-00031"  # type: ignore[union-attr]
    assert matcher.find_for("ULY26-00032.jpg") is None
    assert matcher.find_for("IMG_0003.jpg") is None


def test_a_pattern_names_the_find_number_by_its_group() -> None:
    finds = [_find("ULY26-0003")]
    assert FindMatcher(finds, r"_(?P<find>ULY26-\d{4})\.").find_for("IMG_ULY26-0003.jpg")
    assert FindMatcher(finds, r"(ULY26-\d{4})").find_for("x ULY26-0003 y.jpg")
    assert FindMatcher(finds, r"ULY26-\d{4}").find_for("IMG.jpg") is None


def test_a_find_on_the_server_is_synced_only_once_its_photos_are(store: Store) -> None:
    sha256 = "ab" * 32
    with store.transaction() as connection:
        survey = records.create(connection, "survey", survey_data())
        find = records.create(connection, "find", find_data(survey.uuid, photos=[sha256]))
        connection.execute(
            "INSERT INTO photo_file (sha256, bytes, media_type, stored_at) "
            "VALUES (?, 1, 'image/jpeg', '')",
            (sha256,),
        )
        outbox.settle(connection, find.uuid, find.rev)
    with store.reading() as connection:
        assert Standing.read(connection).status(find) == "photos_missing"
        assert status_view(connection)["finds_missing_photos"] == [
            {"uuid": find.uuid, "label": records.label(find), "photos": [sha256]}
        ]
    with store.transaction() as connection:
        connection.execute("UPDATE photo_file SET on_server = 1")
    with store.reading() as connection:
        assert Standing.read(connection).status(find) == "synced"
        assert status_view(connection)["finds_missing_photos"] == []
