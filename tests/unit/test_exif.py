"""Photos give their identity, size, camera time, GPS and orientation; hostile files are refused."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from field_core.geo.exif import (
    PhotoError,
    PhotoPosition,
    read_photo,
    reading_as_json,
    reading_from_json,
)
from field_core.geo.geotag import CameraClock, photo_data, place_photo
from field_core.geo.source_file import UnreadableFile
from field_core.validation import validate_record_data
from tests import media_factory as make

SURVEY = "2007b0b8-2062-44a0-aba0-602805dc4e14"
FIND = "e220cbe0-7aea-4145-81e0-1726f7d9ca15"

PHOTOS: dict[str, Callable[[Path], Path]] = {
    "GPS in degrees, minutes and seconds": lambda d: make.jpeg(d, "dms.jpg", gps=make.DMS_FIX),
    "GPS in decimal minutes, no date": lambda d: make.jpeg(d, "ddm.jpg", gps=make.DDM_FIX),
    "orientation 3": lambda d: make.jpeg(d, "o3.jpg", orientation=3),
    "orientation 6": lambda d: make.jpeg(d, "o6.jpg", orientation=6),
    "orientation 8": lambda d: make.jpeg(d, "o8.jpg", orientation=8),
    "EXIF after XMP": lambda d: make.jpeg_exif_after_xmp(d, gps=make.DMS_FIX),
    "no EXIF": lambda d: make.jpeg(d, "plain.jpg", exif=False),
    "sub-seconds and offset": lambda d: make.jpeg(d, "sub.jpg", subsec="07", offset="+05:00"),
    "PNG": make.png_photo,
}


@pytest.mark.parametrize("maker", PHOTOS.values(), ids=PHOTOS.keys())
def test_every_photo_gives_a_record_the_contract_accepts(
    tmp_path: Path, maker: Callable[[Path], Path]
) -> None:
    reading = read_photo(maker(tmp_path))
    placement = place_photo(reading, CameraClock())
    data = photo_data(reading, placement, SURVEY, find_uuids=[FIND, FIND], caption="Ернеу")
    normalised, problems = validate_record_data("photo", data)
    assert problems == []
    assert normalised is not None and normalised["find_uuids"] == [FIND]
    assert reading.warnings == ()


def test_gps_in_degrees_minutes_and_seconds_gives_position_altitude_accuracy_and_utc_time(
    tmp_path: Path,
) -> None:
    reading = read_photo(make.jpeg(tmp_path, "dms.jpg", gps=make.DMS_FIX))
    assert reading.gps_position == PhotoPosition(67.8447, 48.1933, 428.1, 3.5)
    assert reading.gps_time == datetime(2026, 7, 8, 5, 44, 30, tzinfo=UTC)


def test_gps_in_degrees_and_decimal_minutes_without_a_date_gives_the_position_alone(
    tmp_path: Path,
) -> None:
    reading = read_photo(make.jpeg(tmp_path, "ddm.jpg", gps=make.DDM_FIX))
    assert reading.gps_position == PhotoPosition(67.8447, 48.1933, None, None)
    assert reading.gps_time is None


def test_southern_and_western_references_and_below_sea_level_are_negative(
    tmp_path: Path,
) -> None:
    fix = make.GpsFix(
        latitude=((33, 1), (30, 1), (0, 1)),
        latitude_ref="S",
        longitude=((70, 1), (39, 1), (0, 1)),
        longitude_ref="W",
        altitude=(4155, 10),
        altitude_ref=1,
    )
    reading = read_photo(make.jpeg(tmp_path, "south.jpg", gps=fix))
    assert reading.gps_position == PhotoPosition(-70.65, -33.5, -415.5, None)


def test_a_missing_hemisphere_reference_is_taken_as_north_or_east_with_a_warning(
    tmp_path: Path,
) -> None:
    fix = make.GpsFix(make.DDM_FIX.latitude, "", make.DDM_FIX.longitude, "E")
    reading = read_photo(make.jpeg(tmp_path, "noref.jpg", gps=fix))
    assert reading.gps_position is not None and reading.gps_position.lat == 48.1933
    assert reading.warnings == ("GPS latitude has no N/S reference; taken as N",)


@pytest.mark.parametrize(
    ("fix", "warning"),
    [
        (
            make.GpsFix(((0, 1),), "N", ((0, 1),), "E"),
            "GPS position ignored: position 0, 0 is the default of a device that had no fix",
        ),
        (
            make.GpsFix(make.DMS_FIX.latitude, "N", make.DMS_FIX.longitude, "E", status="V"),
            "GPS says its measurement was void (no fix); position ignored",
        ),
        (
            make.GpsFix(((48, 0), (0, 1), (0, 1)), "N", make.DMS_FIX.longitude, "E"),
            "GPS position unreadable, ignored",
        ),
    ],
    ids=["0, 0", "status void", "zero denominator"],
)
def test_a_gps_position_that_means_no_fix_is_ignored_with_a_warning(
    tmp_path: Path, fix: make.GpsFix, warning: str
) -> None:
    reading = read_photo(make.jpeg(tmp_path, "nofix.jpg", gps=fix))
    assert reading.gps_position is None
    assert reading.warnings == (warning,)


def test_an_altitude_outside_the_contract_is_dropped_and_the_position_kept(
    tmp_path: Path,
) -> None:
    fix = make.GpsFix(make.DDM_FIX.latitude, "N", make.DDM_FIX.longitude, "E", (99990, 1))
    reading = read_photo(make.jpeg(tmp_path, "high.jpg", gps=fix))
    assert reading.gps_position == PhotoPosition(67.8447, 48.1933, None, None)
    assert reading.warnings == ("GPS altitude 99990 m is outside -500..9000 m, ignored",)


@pytest.mark.parametrize(
    ("orientation", "shown"), [(1, (64, 48)), (3, (64, 48)), (6, (48, 64)), (8, (48, 64))]
)
def test_width_and_height_are_as_the_photo_is_shown_with_its_orientation(
    tmp_path: Path, orientation: int, shown: tuple[int, int]
) -> None:
    reading = read_photo(make.jpeg(tmp_path, "turned.jpg", orientation=orientation))
    assert reading.orientation == orientation
    assert (reading.width, reading.height) == shown


def test_an_orientation_outside_one_to_eight_is_ignored_with_a_warning(tmp_path: Path) -> None:
    reading = read_photo(make.jpeg(tmp_path, "o9.jpg", orientation=9))
    assert reading.orientation is None
    assert reading.warnings == ("orientation '9' is not 1-8, ignored",)


def test_exif_after_an_xmp_segment_is_still_read(tmp_path: Path) -> None:
    reading = read_photo(make.jpeg_exif_after_xmp(tmp_path, gps=make.DMS_FIX, orientation=8))
    assert reading.camera_time == datetime(2026, 7, 8, 10, 46, 43)
    assert reading.orientation == 8
    assert reading.gps_position == PhotoPosition(67.8447, 48.1933, 428.1, 3.5)


def test_a_photo_without_exif_has_no_time_position_or_orientation(tmp_path: Path) -> None:
    reading = read_photo(make.jpeg(tmp_path, "plain.jpg", exif=False))
    assert (reading.camera_time, reading.gps_position, reading.orientation) == (None, None, None)
    assert (reading.width, reading.height, reading.media_type) == (64, 48, "image/jpeg")


def test_camera_time_has_no_zone_and_takes_its_sub_seconds_and_recorded_offset(
    tmp_path: Path,
) -> None:
    reading = read_photo(make.jpeg(tmp_path, "sub.jpg", subsec="07", offset="+05:00"))
    assert reading.camera_time == datetime(2026, 7, 8, 10, 46, 43, 70000)
    assert reading.camera_utc_offset == timedelta(hours=5)


@pytest.mark.parametrize("written", ["0000:00:00 00:00:00", "    :  :     :  :  "])
def test_a_camera_with_no_date_set_gives_no_time_and_a_warning(
    tmp_path: Path, written: str
) -> None:
    reading = read_photo(make.jpeg(tmp_path, "nodate.jpg", camera_time=written))
    assert reading.camera_time is None
    assert len(reading.warnings) == 2  # DateTimeOriginal, then DateTimeDigitized
    assert reading.warnings[0].startswith("DateTimeOriginal ")


def test_the_media_type_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    png = make.png_photo(tmp_path)
    named_jpeg = png.rename(tmp_path / "scan.jpg")
    reading = read_photo(named_jpeg)
    assert (reading.media_type, reading.width, reading.height) == ("image/png", 40, 30)


def test_sha256_and_byte_count_are_those_of_the_whole_file(tmp_path: Path) -> None:
    path = make.jpeg(tmp_path, "hash.jpg", gps=make.DMS_FIX)
    reading = read_photo(path)
    content = path.read_bytes()
    assert reading.sha256 == hashlib.sha256(content).hexdigest()
    assert reading.byte_count == len(content)
    assert reading.source_file == "hash.jpg"


# --------------------------------------------------------------------------- hostile input


def _refusal(path: Path, **limits: int) -> str:
    with pytest.raises(PhotoError) as caught:
        read_photo(path, **limits)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.name}: ")
    assert isinstance(caught.value, UnreadableFile)
    return message


@pytest.mark.parametrize(
    "maker",
    [
        lambda d: make.jpeg_bomb(d, 65000, 65000),
        lambda d: make.jpeg_bomb(d, 10000, 10000),
        make.png_bomb,
    ],
    ids=["JPEG far above the limit", "JPEG in Pillow's warning band", "PNG"],
)
def test_a_decompression_bomb_is_refused_before_decoding(
    tmp_path: Path, maker: Callable[[Path], Path]
) -> None:
    assert "refused as a decompression bomb" in _refusal(maker(tmp_path))


def test_a_bomb_in_pillows_warning_band_is_refused_where_warnings_are_not_errors(
    tmp_path: Path,
) -> None:
    path = make.jpeg_bomb(tmp_path, 10000, 10000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        assert "refused as a decompression bomb" in _refusal(path)


def test_the_pixel_limit_can_be_set_lower(tmp_path: Path) -> None:
    path = make.jpeg(tmp_path, "small.jpg")
    assert "has more than 1,000 pixels" in _refusal(path, max_pixels=1000)


def test_a_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    assert "is truncated or damaged" in _refusal(make.truncated_jpeg(tmp_path))


@pytest.mark.parametrize(
    ("maker", "reason"),
    [
        (make.text_named_jpeg, "is not a photo: no JPEG, PNG, TIFF or WebP image in it"),
        (make.heic_photo, "is HEIC/HEIF, which this reader cannot decode; export it as JPEG"),
    ],
    ids=["text", "HEIC"],
)
def test_a_file_that_is_not_a_readable_image_is_refused_with_the_reason(
    tmp_path: Path, maker: Callable[[Path], Path], reason: str
) -> None:
    path = maker(tmp_path)
    assert _refusal(path) == f"{path.name}: {reason}"


def test_an_empty_file_a_missing_file_a_folder_and_a_huge_file_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert _refusal(empty) == "empty.jpg: is empty, not a photo"
    assert "cannot be read" in _refusal(tmp_path / "gone.jpg")
    (tmp_path / "DCIM.jpg").mkdir()
    assert _refusal(tmp_path / "DCIM.jpg") == "DCIM.jpg: cannot be read: not a regular file"
    assert "above the" in _refusal(make.jpeg(tmp_path, "big.jpg"), max_bytes=100)


@pytest.mark.parametrize("maker", PHOTOS.values(), ids=PHOTOS.keys())
def test_a_header_reading_says_what_a_full_one_says_and_comes_back_from_json(
    tmp_path: Path, maker: Callable[[Path], Path]
) -> None:
    path = maker(tmp_path)
    full = read_photo(path)
    header = read_photo(path, decode=False)
    if full.media_type != "image/png":  # a PNG's EXIF after its pixels is not looked for
        assert header == full
    assert reading_from_json(reading_as_json(header)) == header


def test_a_header_reading_decodes_no_pixel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (3000, 2000), 200).save(path)
    decoded: list[str] = []
    real_load = Image.Image.load

    def counted(image: Image.Image) -> object:
        decoded.append(str(image.format))
        return real_load(image)

    monkeypatch.setattr(Image.Image, "load", counted)
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", counted)
    reading = read_photo(path, decode=False)
    assert (reading.width, reading.height, decoded) == (3000, 2000, [])
    read_photo(path)
    assert decoded  # the check a new photo gets does decode it
