"""field-client import gpx: real devices' files become track records once; hostile ones, nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from field_client import records, tracks
from field_client.store import Store
from field_core.geo.gpx import read_gpx
from tests import media_factory
from tests.unit.field_client.conftest import run, survey_data

SAMPLE_GPX = (
    Path(__file__).parents[3] / "sample_surveys" / "uly-2026-dombauyl" / "dombauyl-2026-gps.gpx"
)


def imported(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[dict[str, Any], str]:
    code, out, err = run(capsys, "import", "gpx", *map(str, files), "--json")
    assert code == 0, err
    return json.loads(out), err


def started(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(capsys, "survey", "start", "--expedition", "ULY-2026", "--title", "T")
    assert code == 0, err
    return out.split()[1]


def pending_tracks(capsys: pytest.CaptureFixture[str]) -> int:
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    return int(json.loads(out)["pending"].get("track", 0))


def test_the_sample_surveys_gpx_becomes_its_tracks_and_waypoints(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey = started(capsys)
    answer, err = imported(capsys, SAMPLE_GPX)
    assert err == ""
    assert answer["survey_uuid"] == survey
    assert [t["kind"] for t in answer["created"]] == ["track"] * 5 + ["waypoints"]
    assert answer["created"][0] == {
        **answer["created"][0],
        "name": "2026-07-08 ДМБ",
        "source_file": "dombauyl-2026-gps.gpx",
        "points": 108,
    }
    assert pending_tracks(capsys) == 6


def test_importing_the_same_file_again_adds_no_track(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started(capsys)
    first, _ = imported(capsys, SAMPLE_GPX)
    again, _ = imported(capsys, SAMPLE_GPX, SAMPLE_GPX)
    assert again["created"] == []
    assert [t["uuid"] for t in again["already_imported"]] == [
        t["uuid"] for t in first["created"]
    ] * 2
    assert pending_tracks(capsys) == 6


@pytest.mark.parametrize(
    "make",
    [
        media_factory.gpx10_gpsbabel,
        media_factory.gpx11_garmin,
        media_factory.gpx11_phone_subsecond,
        media_factory.gpx11_osmand,
        media_factory.gpx_latin1,
        media_factory.gpx_utf16,
        media_factory.gpx_routes,
        media_factory.gpx_waypoints_only,
    ],
    ids=lambda make: make.__name__,
)
def test_gpx_files_as_devices_write_them_are_imported(
    make: Callable[[Path], Path],
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started(capsys)
    answer, _ = imported(capsys, make(tmp_path))
    assert answer["created"] and all(t["points"] > 0 for t in answer["created"])


def test_a_well_formed_gpx_with_nothing_usable_imports_nothing_and_warns(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started(capsys)
    answer, err = imported(capsys, media_factory.gpx_nothing(tmp_path))
    assert answer["created"] == [] and answer["warnings"]
    assert err.count("warning: ") == len(answer["warnings"]) == err.count("\n")
    assert pending_tracks(capsys) == 0


@pytest.mark.parametrize(
    "make",
    [
        media_factory.gpx_billion_laughs,
        media_factory.gpx_entity_in_utf16,
        media_factory.text_named_gpx,
        media_factory.kml_named_gpx,
        media_factory.jpeg_named_gpx,
        media_factory.truncated_gpx,
    ],
    ids=lambda make: make.__name__,
)
def test_a_file_that_is_not_gpx_fails_the_command_and_imports_nothing(
    make: Callable[[Path], Path],
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started(capsys)
    bad = make(tmp_path)
    code, out, err = run(capsys, "import", "gpx", str(SAMPLE_GPX), str(bad))
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"field-client: {bad.name}: "), err
    assert pending_tracks(capsys) == 0


def test_an_xxe_gpx_is_refused_without_reading_the_secret(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started(capsys)
    secret = tmp_path / "secret.txt"
    secret.write_text("the site's hoard coordinates")
    code, _, err = run(capsys, "import", "gpx", str(media_factory.gpx_xxe(tmp_path, secret)))
    assert code != 0 and "hoard" not in err and err.count("\n") == 1
    assert pending_tracks(capsys) == 0


def test_a_missing_file_and_no_open_survey_each_give_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "import", "gpx", str(SAMPLE_GPX))
    assert code != 0 and "no open survey" in err and err.count("\n") == 1
    started(capsys)
    code, _, err = run(capsys, "import", "gpx", str(tmp_path / "gone.gpx"))
    assert code != 0 and "gone.gpx" in err and err.count("\n") == 1


def test_a_tracks_uuid_follows_its_survey_and_content(store: Store) -> None:
    with store.transaction() as connection:
        survey = records.create(connection, "survey", survey_data())
        other = records.create(connection, "survey", survey_data())
        outcome = tracks.TrackImport()
        gpx = read_gpx(SAMPLE_GPX)
        tracks.save_tracks(connection, survey.uuid, gpx, outcome)
        tracks.save_tracks(connection, other.uuid, gpx, outcome)
    mine = {r.uuid for r in outcome.created if r.survey_uuid == survey.uuid}
    theirs = {r.uuid for r in outcome.created if r.survey_uuid == other.uuid}
    assert len(mine) == len(theirs) == 6 and not mine & theirs
    first = outcome.created[0]
    assert tracks.track_uuid(survey.uuid, first.data) == first.uuid
    moved = {**first.data, "points": first.data["points"][1:]}
    assert tracks.track_uuid(survey.uuid, moved) != first.uuid
