"""GPX files as devices and apps write them become wire track data; hostile ones are refused."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from field_core.geo.gpx import GpxError, read_gpx, read_gpx_bytes
from field_core.geo.source_file import UnreadableFile, source_file_name
from field_core.validation import validate_record_data
from tests import media_factory as make

SURVEY = "2007b0b8-2062-44a0-aba0-602805dc4e14"


@pytest.mark.parametrize("maker", make.WELL_FORMED_GPX.values(), ids=make.WELL_FORMED_GPX.keys())
def test_every_well_formed_file_gives_tracks_the_contract_accepts(
    tmp_path: Path, maker: Callable[[Path], Path]
) -> None:
    result = read_gpx(maker(tmp_path))
    for track in result.tracks:
        data, problems = validate_record_data("track", track.track_data(SURVEY))
        assert problems == []
        assert data is not None and data["points"]
        assert all(len(point) == 5 for point in track.points)
        times = [point[3] for point in track.points if point[3] is not None]
        assert all(moment.endswith("Z") for moment in times)
    assert all("\n" not in warning for warning in result.warnings)


def test_gpx_10_from_gpsbabel_gives_its_track_and_its_waypoint(tmp_path: Path) -> None:
    result = read_gpx(make.gpx10_gpsbabel(tmp_path))
    assert result.version == "1.0"
    assert result.warnings == []
    track, waypoints = result.tracks
    assert (track.kind, track.name, track.source_file) == ("track", "ACTIVE LOG", "gpsbabel-10.gpx")
    assert track.points == [
        [67.8447, 48.193, 427.9, "2026-07-08T05:40:00Z", None],
        [67.8449, 48.1932, 428.0, "2026-07-08T05:41:00Z", None],
        [67.8451, 48.1934, 428.3, "2026-07-08T05:42:00Z", None],
    ]
    assert (waypoints.kind, waypoints.name) == ("waypoints", None)
    assert waypoints.points == [[67.8447, 48.1933, 428.1, "2026-07-08T05:00:00Z", "DMB-1"]]


def test_garmin_extensions_are_ignored_and_its_autorouting_points_are_not_route_points(
    tmp_path: Path,
) -> None:
    result = read_gpx(make.gpx11_garmin(tmp_path))
    assert result.version == "1.1"
    kinds = {track.kind: track for track in result.tracks}
    assert set(kinds) == {"track", "route", "waypoints"}
    assert kinds["track"].points == [
        [67.844602, 48.193001, 427.62, "2026-07-08T05:45:00Z", None],
        [67.844703, 48.193102, 427.81, "2026-07-08T05:45:10Z", None],
    ]
    assert kinds["route"].name == "Лагерь – Домбауыл"
    assert [point[4] for point in kinds["route"].points] == ["Лагерь", "ДМБ-1"]
    assert kinds["waypoints"].points == [
        [67.8463104, 48.1934961, 428.4, "2026-07-08T05:46:10Z", "Р-2 NE"]
    ]


def test_sub_second_times_keep_their_fraction_and_other_offsets_become_utc(
    tmp_path: Path,
) -> None:
    (track,) = read_gpx(make.gpx11_phone_subsecond(tmp_path)).tracks
    assert [point[3] for point in track.points] == [
        "2026-07-08T05:40:01.25Z",
        "2026-07-08T05:40:03.7Z",
        "2026-07-08T05:40:05.123456Z",
    ]
    assert [point[2] for point in track.points] == [440.0, None, 441.5]


def test_times_without_a_zone_are_utc_as_the_gpx_schema_says(tmp_path: Path) -> None:
    (track,) = read_gpx(make.gpx_times_without_zone(tmp_path)).tracks
    assert [point[3] for point in track.points] == [
        "2026-07-08T05:40:00Z",
        "2026-07-08T05:40:10.5Z",
    ]


def test_a_track_without_times_is_kept_with_a_warning_that_it_cannot_place_photos(
    tmp_path: Path,
) -> None:
    result = read_gpx(make.gpx_without_times(tmp_path))
    (track,) = result.tracks
    assert [point[3] for point in track.points] == [None, None, None]
    assert result.warnings == [
        'track 1 "Walk around the fence" has no times, so it cannot place photos'
    ]


def test_osmand_extensions_and_point_groups_are_ignored(tmp_path: Path) -> None:
    result = read_gpx(make.gpx11_osmand(tmp_path))
    track, waypoints = result.tracks
    assert track.points == [
        [67.8447, 48.1933, 429.1, "2026-07-08T05:40:00Z", None],
        [67.8449, 48.1934, 429.4, "2026-07-08T05:40:05Z", None],
    ]
    assert waypoints.points == [[67.8452, 48.1934, None, "2026-07-08T05:50:00Z", "керамика"]]


@pytest.mark.parametrize(
    ("maker", "name"),
    [
        (make.gpx_with_bom, "Домбауыл, бақылау нүктесі Ә Ғ Қ Ң Ө Ұ Ү Һ І"),
        (make.gpx_latin1, "Point über"),
        (make.gpx_windows1251, "Репер ДМБ-1"),
        (make.gpx_utf16, "Ұлытау"),
    ],
    ids=["UTF-8 with BOM", "ISO-8859-1", "Windows-1251", "UTF-16"],
)
def test_the_declared_encoding_or_byte_order_mark_decodes_the_names(
    tmp_path: Path, maker: Callable[[Path], Path], name: str
) -> None:
    (result,) = read_gpx(maker(tmp_path)).tracks
    assert result.points[0][4] == name


def test_latin1_track_names_are_decoded_too(tmp_path: Path) -> None:
    (track,) = read_gpx(make.gpx_latin1(tmp_path)).tracks
    assert track.name == "Relevé à l'église"


def test_empty_segments_tracks_and_routes_are_skipped_with_a_warning_each(
    tmp_path: Path,
) -> None:
    result = read_gpx(make.gpx_empty_parts(tmp_path))
    (track,) = result.tracks
    assert track.name == "Day 1"
    assert len(track.points) == 2
    assert result.warnings == [
        'track 1 "Day 1": segment 2 has no points; skipped',
        'track 2 "Day 2" has no points; skipped',
        'route 1 "nowhere" has no points; skipped',
    ]


def test_routes_keep_their_points_names_and_an_unnamed_route_stays_unnamed(
    tmp_path: Path,
) -> None:
    first, second = read_gpx(make.gpx_routes(tmp_path)).tracks
    assert (first.kind, first.name) == ("route", "To Alasha Khan")
    assert first.points == [
        [67.8447, 48.1933, None, None, "Dombauyl"],
        [67.844, 48.28, 431.0, None, "Ford"],
        [67.8431, 48.3675, None, None, "Alasha Khan"],
    ]
    assert (second.kind, second.name, len(second.points)) == ("route", None, 2)


def test_a_file_of_waypoints_only_gives_one_waypoints_result(tmp_path: Path) -> None:
    result = read_gpx(make.gpx_waypoints_only(tmp_path))
    (waypoints,) = result.tracks
    assert waypoints.kind == "waypoints"
    assert [point[4] for point in waypoints.points] == ["ДМБ-1", "017", None]
    assert waypoints.points[0][3] == "2026-07-06T04:00:00Z"


def test_points_without_a_usable_position_are_skipped_and_bad_elevations_become_null(
    tmp_path: Path,
) -> None:
    result = read_gpx(make.gpx_odd_values(tmp_path))
    (track,) = result.tracks
    assert track.points == [
        [67.8447, 48.193, 427.5, "2026-07-08T05:40:00Z", None],
        [67.8448, 48.1931, None, "2026-07-08T05:40:02Z", None],
        [67.8449, 48.1932, None, None, None],
        [67.845, 48.1933, None, None, None],
    ]
    assert result.warnings == [
        'track 1 "odd": 5 point(s) without a usable position skipped',
        'track 1 "odd": 3 elevation(s) unreadable or outside ±100 km; kept without elevation',
    ]


def test_the_gpx_namespace_on_a_prefix_is_read_like_the_default_one(tmp_path: Path) -> None:
    (track,) = read_gpx(make.gpx_prefixed_namespace(tmp_path)).tracks
    assert track.name == "prefixed"
    assert track.points == [[67.8447, 48.193, None, "2026-07-08T05:40:00Z", None]]


def test_a_gpx_file_with_nothing_usable_reads_with_a_warning(tmp_path: Path) -> None:
    result = read_gpx(make.gpx_nothing(tmp_path))
    assert result.tracks == []
    assert result.warnings == ["holds no tracks, routes or waypoints"]


def test_gpx_already_in_memory_reads_like_a_file(tmp_path: Path) -> None:
    path = make.gpx10_gpsbabel(tmp_path)
    assert read_gpx_bytes(path.read_bytes(), "gpsbabel-10.gpx") == read_gpx(path)


def test_warnings_stop_at_a_hundred_and_count_the_rest(tmp_path: Path) -> None:
    body = "".join(f"<trk><name>t{n}</name></trk>" for n in range(150))
    result = read_gpx_bytes(f'<gpx version="1.1">{body}</gpx>'.encode(), "many.gpx")
    assert len(result.warnings) == 101
    assert result.warnings[-1] == "and 50 more warning(s) like these"


# --------------------------------------------------------------------------- hostile input


def _refusal(path: Path, **limits: int) -> str:
    with pytest.raises(GpxError) as caught:
        read_gpx(path, **limits)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.name}: ")
    assert isinstance(caught.value, UnreadableFile)
    return message


def test_an_external_entity_is_refused_before_parsing_and_leaks_nothing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the museum safe code is 4711")
    message = _refusal(make.gpx_xxe(tmp_path, secret))
    assert "DOCTYPE or ENTITY" in message
    assert "4711" not in message


def test_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    started = time.perf_counter()
    assert "DOCTYPE or ENTITY" in _refusal(make.gpx_billion_laughs(tmp_path))
    assert time.perf_counter() - started < 1


def test_an_entity_declaration_hidden_by_utf16_is_found_too(tmp_path: Path) -> None:
    assert "DOCTYPE or ENTITY" in _refusal(make.gpx_entity_in_utf16(tmp_path))


@pytest.mark.parametrize(
    ("maker", "reason"),
    [
        (make.text_named_gpx, "is not a GPX file: it holds no XML"),
        (make.jpeg_named_gpx, "is not a GPX file: it holds no XML"),
        (make.kml_named_gpx, "is not a GPX file: its root element is <kml>"),
    ],
    ids=["text", "JPEG", "KML"],
)
def test_a_file_named_gpx_that_is_not_gpx_is_refused_as_not_gpx(
    tmp_path: Path, maker: Callable[[Path], Path], reason: str
) -> None:
    path = maker(tmp_path)
    assert _refusal(path) == f"{path.name}: {reason}"


def test_a_truncated_file_is_refused_as_cut_off(tmp_path: Path) -> None:
    assert "is cut off or damaged" in _refusal(make.truncated_gpx(tmp_path))


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpx"
    path.write_bytes(b"  \n")
    assert _refusal(path) == "empty.gpx: is empty, not a GPX file"


def test_a_file_above_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = make.gpx11_garmin(tmp_path)
    assert "above the" in _refusal(path, max_bytes=1000)


def test_a_file_with_more_points_than_one_import_takes_is_refused(tmp_path: Path) -> None:
    path = make.gpx_with_points(tmp_path, 11)
    assert "more than 10 points" in _refusal(path, max_points=10)
    assert len(read_gpx(path, max_points=11).tracks[0].points) == 11


def test_an_encoding_python_does_not_know_is_named(tmp_path: Path) -> None:
    path = tmp_path / "odd.gpx"
    path.write_bytes(b'<?xml version="1.0" encoding="x-klingon"?><gpx version="1.1"/>')
    assert _refusal(path) == "odd.gpx: declares an encoding Python does not know: x-klingon"


def test_bytes_that_do_not_match_the_declared_encoding_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wrong.gpx"
    path.write_bytes(
        b'<?xml version="1.0"?><gpx version="1.1"><wpt lat="1" lon="1"><name>'
        + "Домбауыл".encode("windows-1251")
        + b"</name></wpt></gpx>"
    )
    assert "is not valid utf-8 text" in _refusal(path)


def test_stray_xmlns_words_that_stall_gpxpy_parse_read_in_linear_time(tmp_path: Path) -> None:
    started = time.perf_counter()
    (waypoints,) = read_gpx(make.gpx_with_stray_xmlns(tmp_path)).tracks
    assert time.perf_counter() - started < 1
    assert waypoints.points[0][4].startswith("xmlns xmlns")


def test_a_missing_file_a_folder_and_a_pipe_are_refused_with_the_reason(tmp_path: Path) -> None:
    assert _refusal(tmp_path / "gone.gpx") == "gone.gpx: cannot be read: No such file or directory"
    folder = tmp_path / "folder.gpx"
    folder.mkdir()
    assert _refusal(folder) == "folder.gpx: cannot be read: not a regular file"
    pipe = tmp_path / "pipe.gpx"
    os.mkfifo(pipe)
    assert _refusal(pipe) == "pipe.gpx: cannot be read: not a regular file"


def test_a_file_name_in_a_legacy_encoding_becomes_storable_text() -> None:
    name = b"/card/\xc4\xee\xec\xe1\xe0\xf3\xfb\xeb.gpx".decode("utf-8", "surrogateescape")
    assert source_file_name(name) == "\ufffd" * 8 + ".gpx"
    assert source_file_name("../../line\nbreak.gpx") == "line\ufffdbreak.gpx"
