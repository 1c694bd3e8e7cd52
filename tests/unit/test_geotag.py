"""Photos are timed by the corrected camera clock and placed by their GPS or a track."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest

from field_core.geo.exif import PhotoPosition, PhotoReading, read_photo
from field_core.geo.geotag import (
    KAZAKHSTAN_TIME,
    CameraClock,
    TrackTimeline,
    parse_camera_offset,
    parse_utc_offset,
    photo_data,
    place_photo,
    rfc3339,
)
from field_core.geo.gpx import read_gpx
from field_core.validation import validate_record_data
from tests import media_factory as make
from tests.samples import SAMPLE_DIR

SURVEY = "2007b0b8-2062-44a0-aba0-602805dc4e14"
PLUS_5 = KAZAKHSTAN_TIME

# A walk north along a meridian at 1 m/s, logged every 10 s from 05:40:00Z, then a pause.
TRACK = [
    [67.8447, 48.1930, 427.0, "2026-07-08T05:40:00Z", None],
    [67.8447, 48.1931, 428.0, "2026-07-08T05:40:10Z", None],
    [67.8449, 48.1932, None, "2026-07-08T05:40:20.5Z", None],
    [67.8450, 48.1933, 429.0, "2026-07-08T05:50:20.5Z", None],
]


def _reading(
    camera_time: datetime | None = datetime(2026, 7, 8, 10, 42, 18),
    gps: PhotoPosition | None = None,
    **changes: object,
) -> PhotoReading:
    reading = PhotoReading(
        source_file="ULY26-0001_b.jpg",
        sha256="ab" * 32,
        byte_count=1234,
        media_type="image/jpeg",
        width=640,
        height=480,
        orientation=1,
        camera_time=camera_time,
        camera_utc_offset=None,
        gps_position=gps,
        gps_time=None,
    )
    return replace(reading, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- what the user types


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("+00:02:13", 133),
        ("00:02:13", 133),
        ("-0:00:40", -40),
        ("133", 133),
        ("-40", -40),
        ("+1.5", 1.5),
        ("26:00:00", 26 * 3600),
        (" 133 s ", 133),
    ],
)
def test_a_camera_offset_is_read_as_hours_minutes_seconds_or_as_seconds(
    text: str, seconds: float
) -> None:
    assert parse_camera_offset(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["02:13", "2 min", "", "+00:61:00", "١٣٣"])
def test_an_ambiguous_or_unreadable_camera_offset_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(ValueError, match="neither") as caught:
        parse_camera_offset(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "hours", "minutes"),
    [
        ("+05:00", 5, 0),
        ("+5", 5, 0),
        ("UTC+5", 5, 0),
        ("utc+05:00", 5, 0),
        ("+0500", 5, 0),
        ("-03:30", -3, -30),
        ("Z", 0, 0),
        ("UTC", 0, 0),
    ],
)
def test_a_time_zone_is_read_as_a_fixed_offset(text: str, hours: int, minutes: int) -> None:
    assert parse_utc_offset(text) == timezone(timedelta(hours=hours, minutes=minutes))


@pytest.mark.parametrize("text", ["Asia/Almaty", "", "+15:00", "+5:7", "five"])
def test_a_time_zone_that_is_not_a_fixed_offset_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        parse_utc_offset(text)


def test_wire_times_carry_their_offset_and_only_needed_fractions() -> None:
    assert rfc3339(datetime(2026, 7, 8, 10, 40, 25, tzinfo=PLUS_5)) == "2026-07-08T10:40:25+05:00"
    assert rfc3339(datetime(2026, 7, 8, 5, 0, 0, 250000, UTC)) == "2026-07-08T05:00:00.250000+00:00"
    with pytest.raises(ValueError, match="offset"):
        rfc3339(datetime(2026, 7, 8))


# --------------------------------------------------------------------------- the camera clock


def test_a_fast_camera_clock_is_set_back_and_given_the_users_zone() -> None:
    clock = CameraClock(PLUS_5, timedelta(minutes=2, seconds=13))
    assert clock.true_time(datetime(2026, 7, 8, 10, 42, 38)) == datetime(
        2026, 7, 8, 10, 40, 25, tzinfo=PLUS_5
    )


def test_an_offset_the_camera_recorded_is_used_instead_of_the_users_zone() -> None:
    clock = CameraClock(PLUS_5, timedelta(seconds=10))
    moment = clock.true_time(datetime(2026, 7, 8, 9, 0, 10), recorded_offset=timedelta(hours=6))
    assert moment == datetime(2026, 7, 8, 3, 0, 0, tzinfo=UTC)
    assert rfc3339(moment) == "2026-07-08T09:00:00+06:00"


# --------------------------------------------------------------------------- the track


def test_a_moment_between_two_points_is_interpolated_in_position_and_elevation() -> None:
    fix = TrackTimeline(TRACK).position_at(datetime(2026, 7, 8, 10, 40, 5, tzinfo=PLUS_5))
    assert fix is not None
    assert (fix.lon, fix.lat, fix.elevation_m) == (67.8447, 48.19305, 427.5)
    assert fix.gap == timedelta(seconds=10)


def test_a_moment_on_a_point_gives_that_point() -> None:
    fix = TrackTimeline(TRACK).position_at(datetime(2026, 7, 8, 5, 40, 10, tzinfo=UTC))
    assert fix is not None and (fix.lon, fix.lat, fix.elevation_m) == (67.8447, 48.1931, 428.0)


def test_elevation_is_left_out_when_either_neighbour_lacks_it() -> None:
    fix = TrackTimeline(TRACK).position_at(datetime(2026, 7, 8, 5, 40, 15, tzinfo=UTC))
    assert fix is not None and fix.elevation_m is None
    # 5 s into a 10.5 s step.
    assert (fix.lon, fix.lat) == (67.84479524, 48.19314762)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 7, 8, 5, 39, 59, tzinfo=UTC),
        datetime(2026, 7, 8, 5, 50, 21, tzinfo=UTC),
        datetime(2026, 7, 8, 5, 45, 0, tzinfo=UTC),
    ],
    ids=["before the track", "after the track", "in a ten-minute gap"],
)
def test_no_position_is_given_outside_the_track_or_across_a_long_gap(moment: datetime) -> None:
    assert TrackTimeline(TRACK).position_at(moment, timedelta(minutes=5)) is None


def test_the_maximum_gap_is_the_users_to_widen() -> None:
    fix = TrackTimeline(TRACK).position_at(
        datetime(2026, 7, 8, 5, 45, 20, 500000, tzinfo=UTC), timedelta(minutes=10)
    )
    assert fix is not None and (fix.lon, fix.lat) == (67.84495, 48.19325)


def test_points_in_any_order_and_without_times_are_handled() -> None:
    timeline = TrackTimeline([TRACK[1], [67.0, 48.0, None, None, None], TRACK[0]])
    assert len(timeline) == 2
    assert timeline.span() == (
        datetime(2026, 7, 8, 5, 40, tzinfo=UTC),
        datetime(2026, 7, 8, 5, 40, 10, tzinfo=UTC),
    )


def test_a_track_across_the_antimeridian_is_interpolated_the_short_way() -> None:
    timeline = TrackTimeline(
        [
            [179.9999, 65.0, None, "2026-07-08T00:00:00Z"],
            [-179.9999, 65.0, None, "2026-07-08T00:00:10Z"],
        ]
    )
    fix = timeline.position_at(datetime(2026, 7, 8, 0, 0, 5, tzinfo=UTC))
    assert fix is not None and abs(fix.lon) in (180.0, -180.0)


def test_a_moment_without_a_zone_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="zone"):
        TrackTimeline(TRACK).position_at(datetime(2026, 7, 8, 5, 40, 5))


# --------------------------------------------------------------------------- placing a photo


def test_the_cameras_own_gps_wins_over_the_track() -> None:
    gps = PhotoPosition(67.8, 48.1, 430.0, 4.0)
    placement = place_photo(_reading(gps=gps), CameraClock(), TrackTimeline(TRACK))
    assert (placement.position, placement.position_source) == (gps, "exif")


def test_a_photo_without_gps_is_placed_from_the_track_at_its_corrected_time() -> None:
    clock = CameraClock(PLUS_5, parse_camera_offset("+00:02:13"))
    placement = place_photo(_reading(), clock, TrackTimeline(TRACK))
    assert placement.taken_at == datetime(2026, 7, 8, 10, 40, 5, tzinfo=PLUS_5)
    assert placement.position_source == "track"
    assert placement.position == PhotoPosition(67.8447, 48.19305, 427.5, None)


def test_a_photo_outside_the_track_or_in_its_gap_keeps_its_time_and_says_why() -> None:
    timeline = TrackTimeline(TRACK)
    outside = place_photo(_reading(datetime(2026, 7, 8, 12, 0)), CameraClock(), timeline)
    assert (outside.position, outside.position_source) == (None, "none")
    assert outside.taken_at == datetime(2026, 7, 8, 12, 0, tzinfo=PLUS_5)
    assert outside.note == "taken 2026-07-08T12:00:00+05:00, outside the times the tracks cover"
    in_gap = place_photo(_reading(datetime(2026, 7, 8, 10, 45)), CameraClock(), timeline)
    assert in_gap.note is not None and "gap of more than 5 min" in in_gap.note


def test_without_a_camera_time_the_gps_receivers_time_is_used() -> None:
    reading = _reading(None, gps_time=datetime(2026, 7, 8, 5, 40, 5, tzinfo=UTC))
    placement = place_photo(reading, CameraClock(offset=timedelta(hours=1)), TrackTimeline(TRACK))
    assert placement.taken_at == datetime(2026, 7, 8, 10, 40, 5, tzinfo=PLUS_5)
    assert placement.position_source == "track"


def test_without_any_time_or_track_a_photo_stays_unplaced() -> None:
    assert place_photo(_reading(None), CameraClock()).note == "no GPS position and no camera time"
    assert place_photo(_reading(), CameraClock()).note == "no GPS position and no timed track"


def test_a_track_elevation_outside_the_photo_range_is_left_out() -> None:
    timeline = TrackTimeline([[67.8, 48.1, 12000.0, "2026-07-08T05:40:00Z"]])
    placement = place_photo(_reading(datetime(2026, 7, 8, 10, 40)), CameraClock(), timeline)
    assert placement.position == PhotoPosition(67.8, 48.1, None, None)


@pytest.mark.parametrize(
    "reading",
    [
        _reading(gps=PhotoPosition(67.8, 48.1, None, 3.0)),
        _reading(),
        _reading(datetime(2026, 7, 9)),
        _reading(None),
    ],
    ids=["exif", "track", "outside the track", "no time"],
)
def test_every_placement_gives_photo_data_the_contract_accepts(reading: PhotoReading) -> None:
    placement = place_photo(reading, CameraClock(), TrackTimeline(TRACK))
    data, problems = validate_record_data("photo", photo_data(reading, placement, SURVEY))
    assert problems == []
    assert data is not None and data["position_source"] == placement.position_source


def test_a_real_photo_and_a_real_gpx_file_together_give_a_placed_photo(tmp_path: Path) -> None:
    (track,) = read_gpx(make.gpx11_phone_subsecond(tmp_path)).tracks
    photo = make.jpeg(tmp_path, "ULY26-0002_a.jpg", camera_time="2026:07:08 10:42:15")
    clock = CameraClock(parse_utc_offset("UTC+5"), parse_camera_offset("+00:02:13"))
    placement = place_photo(read_photo(photo), clock, TrackTimeline(track.points))
    # 10:42:15 on the camera is 05:40:02Z, 0.75 s into a 2.45 s step of the phone's track.
    assert placement.taken_at == datetime(2026, 7, 8, 10, 40, 2, tzinfo=PLUS_5)
    assert placement.position == PhotoPosition(67.84473061, 48.19303061, None, None)
    assert placement.position_source == "track"


# --------------------------------------------------------------------------- the sample survey

SAMPLE = SAMPLE_DIR / "uly-2026-dombauyl"


def _metres(position: PhotoPosition, find: dict[str, float]) -> float:
    east = (position.lon - find["lon"]) * 111_320 * math.cos(math.radians(find["lat"]))
    return math.hypot(east, (position.lat - find["lat"]) * 111_320)


def _sample_placements(offset: str) -> dict[str, tuple[str, float | None]]:
    tracks = read_gpx(SAMPLE / "dombauyl-2026-gps.gpx").tracks
    timeline = TrackTimeline(p for t in tracks if t.kind == "track" for p in t.points)
    finds = {
        record["data"]["find_number"]: record["data"]["position"]
        for record in json.loads((SAMPLE / "finds.json").read_text(encoding="utf-8"))
    }
    clock = CameraClock(parse_utc_offset("+05:00"), parse_camera_offset(offset))
    found = {}
    for photo in sorted((SAMPLE / "photos").iterdir()):
        placement = place_photo(read_photo(photo), clock, timeline)
        distance = None
        if placement.position is not None:
            distance = _metres(placement.position, finds[photo.name.split("_")[0]])
        found[photo.name] = (placement.position_source, distance)
    return found


def test_the_sample_photos_land_on_their_finds_with_the_known_camera_offset() -> None:
    placed = _sample_placements("+00:02:13")
    assert {name: source for name, (source, _) in placed.items()} == {
        "ULY26-0001_a.jpg": "exif",
        "ULY26-0001_b.jpg": "track",
        "ULY26-0003_a.jpg": "track",
        "ULY26-0006_a.jpg": "exif",
        "ULY26-0007_a.jpg": "track",
        "ULY26-0008_a.jpg": "exif",
        "ULY26-0010_a.jpg": "none",
        "ULY26-0012_a.jpg": "track",
        "ULY26-0017_a.jpg": "track",
    }
    distances = [d for source, d in placed.values() if source == "track"]
    assert all(d is not None and d < 1.5 for d in distances)


def test_the_sample_photos_miss_their_finds_when_the_camera_offset_is_forgotten() -> None:
    placed = _sample_placements("0")
    distances = [d for source, d in placed.values() if source == "track"]
    assert all(d is not None and d > 20 for d in distances)


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "make_sample_media.py"
    spec = importlib.util.spec_from_file_location("make_sample_media", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_sample_media_script_writes_what_the_sample_folder_holds(tmp_path: Path) -> None:
    folder = tmp_path / "uly-2026-dombauyl"
    folder.mkdir()
    for name in ("survey.json", "finds.json"):
        shutil.copy(SAMPLE / name, folder / name)
    written = _script().make(tmp_path)
    assert [p.relative_to(folder) for p in written] == [
        p.relative_to(SAMPLE)
        for p in [SAMPLE / "dombauyl-2026-gps.gpx", *sorted((SAMPLE / "photos").iterdir())]
    ]
    assert written[0].read_bytes() == (SAMPLE / "dombauyl-2026-gps.gpx").read_bytes()
    # JPEG bytes depend on the libjpeg build; what the photos say must not.
    for path in written[1:]:
        ours, kept = read_photo(path), read_photo(SAMPLE / "photos" / path.name)
        assert replace(ours, sha256="", byte_count=0) == replace(kept, sha256="", byte_count=0)
        assert ours.byte_count <= 40_000
