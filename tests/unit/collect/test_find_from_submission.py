"""A submission becomes a wire find and its photo records, or a draft with problems that a
reviewer corrects: never an exception, never a number used up by a find not made."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from field_core.collect.find_from_submission import (
    CollectedPhoto,
    FindFromSubmission,
    SubmissionContext,
    find_from_submission,
    read_collected_photo,
)
from field_core.collect.submission import parse_submission
from field_core.validation import validate_record_data
from tests import media_factory as make
from tests.unit.collect.instances import INSTANCE_ID, instance

SURVEY = "2007b0b8-2062-44a0-aba0-602805dc4e14"
RECEIVED = datetime(2026, 7, 14, 6, 40, 12, tzinfo=UTC)  # 11:40:12 in Kazakhstan


class Numbers:
    """The expedition's next numbers, counting how many were taken."""

    def __init__(self) -> None:
        self.taken: list[str] = []

    def __call__(self) -> str:
        self.taken.append(f"ULY26-{42 + len(self.taken):04d}")
        return self.taken[-1]


def _context(numbers: Callable[[], str], **changes: object) -> SubmissionContext:
    options: dict[str, object] = {
        "expedition_code": "ULY-2026",
        "survey_uuid": SURVEY,
        "recorded_by": "aigerim",
        "received_at": RECEIVED,
        "next_find_number": numbers,
        "site_codes": ("DMB", "ALS", "BSK"),
    }
    return SubmissionContext(**{**options, **changes})  # type: ignore[arg-type]


def _store(folder: Path, data: bytes) -> Path:
    """An attachment as the content-addressed store keeps it: named by its SHA-256."""
    path = folder / hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    return path


def _map(
    answers: dict[str, str] | None = None,
    photos: dict[str, CollectedPhoto] | None = None,
    numbers: Callable[[], str] | None = None,
    photo_files: tuple[str, ...] = (),
    **context: object,
) -> FindFromSubmission:
    submission = parse_submission(instance(answers=answers, photos=photo_files))
    return find_from_submission(submission, _context(numbers or Numbers(), **context), photos or {})


def test_a_submission_makes_a_valid_find(tmp_path: Path) -> None:
    with_gps = make.jpeg_bytes(gps=make.DMS_FIX, seed=2)
    without_gps = make.jpeg_bytes(seed=3)
    photos = {
        "1720934921312.jpg": read_collected_photo(_store(tmp_path, with_gps), "1720934921312.jpg"),
        "1720934987411.jpg": read_collected_photo(
            _store(tmp_path, without_gps), "1720934987411.jpg"
        ),
    }
    numbers = Numbers()
    submission = parse_submission(instance())
    result = find_from_submission(submission, _context(numbers), photos)

    assert result.problems == () and result.photo_problems == () and result.missing_photos == ()
    assert not result.needs_review
    assert result.find_uuid == INSTANCE_ID
    data = result.data
    assert data is not None
    assert validate_record_data("find", data) == (data, [])
    # ODK's "lat lon altitude accuracy" in the wire's order, lon first
    assert data["position"] == {
        "lon": 67.84472,
        "lat": 48.19331,
        "elevation_m": 427.3,
        "depth_m": 0.85,
        "horizontal_accuracy_m": 3.9,
        "vertical_accuracy_m": None,
        "method": "gnss",
    }
    assert numbers.taken == ["ULY26-0042"]
    assert data["find_number"] == "ULY26-0042"
    assert data["recorded_by"] == "aigerim"
    assert data["survey_uuid"] == SURVEY and data["expedition_code"] == "ULY-2026"
    assert data["recorded_at"] == "2026-07-14T10:32:05.117000+05:00"
    assert data["found_on"] == "2026-07-14"
    assert (data["trench"], data["context"], data["object_name"]) == (
        "Қазба 2",
        "Қабат 3",
        "Қола пышақ",
    )
    assert (data["quantity"], data["weight_g"], data["length_mm"], data["width_mm"]) == (
        1,
        12.5,
        84.0,
        16.5,
    )
    assert data["height_mm"] is None and data["notes"] is None
    # photos named by the SHA-256 of their bytes, in the order the phone took them
    assert data["photos"] == [make.sha256(with_gps), make.sha256(without_gps)]
    first, second = result.photos
    assert first["sha256"] == make.sha256(with_gps)
    assert first["position_source"] == "exif"
    assert first["position"] == {
        "lon": 67.8447,
        "lat": 48.1933,
        "elevation_m": 428.1,
        "horizontal_accuracy_m": 3.5,
    }
    assert first["find_uuids"] == [INSTANCE_ID] and first["survey_uuid"] == SURVEY
    assert (first["width"], first["height"], first["media_type"]) == (64, 48, "image/jpeg")
    assert first["taken_at"] == "2026-07-08T10:46:43+05:00"  # camera time read as Kazakh time
    assert second["position"] is None and second["position_source"] == "none"
    for photo in result.photos:
        assert validate_record_data("photo", photo) == (photo, [])


def test_a_typed_number_is_kept_and_no_number_is_taken() -> None:
    numbers = Numbers()
    result = _map({"find_number": "ULY26-0007"}, numbers=numbers)
    assert result.data is not None and result.data["find_number"] == "ULY26-0007"
    assert numbers.taken == []


def _problems(result: FindFromSubmission) -> dict[str, str]:
    assert result.data is None and result.needs_review
    return {p["field"]: p["message"] for p in result.problems}


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"material": "bronze"}, "material", "'bronze' is not in the material vocabulary"),
        ({"material": ""}, "material", "is required"),
        ({"kind": "hoard"}, "kind", "'hoard' is not in the kinds"),
        ({"site_code": "XYZ"}, "site_code", "'XYZ' is not one of the expedition's sites"),
        ({"quantity": "0"}, "quantity", "must be at least 1"),
        ({"quantity": "two"}, "quantity", "'two' is not a whole number"),
        ({"weight_g": "-3"}, "weight_g", "must be at least 0"),
        ({"weight_g": "nan"}, "weight_g", "'nan' is not a number"),
        ({"length_mm": "1_000"}, "length_mm", "'1_000' is not a number"),
        ({"depth_m": "1e400"}, "depth_m", "'1e400' is not a number"),
        ({"object_name": "  "}, "object_name", "is required"),
        ({"found_on": "2026-07-19"}, "found_on", "after the day the find was sent (2026-07-14)"),
        ({"found_on": "2026-02-30"}, "found_on", "date"),
        ({"position": ""}, "position", "is required"),
        ({"position": "0 0 0 0"}, "position", "position 0, 0 is the default of a device"),
        ({"position": "148.19 67.84 400 3"}, "position", "latitude 148.19 is outside -90..90"),
        ({"position": "67.84472 48.19331 427 4"}, "position", "look swapped"),
        ({"position": "48.19 east"}, "position", "is not a geopoint"),
        ({"position": "48.19 67.84 400 -2"}, "position.horizontal_accuracy_m", "at least 0"),
        ({"position": "48.19 67.84 12000 3"}, "position.elevation_m", "at most 9000"),
        ({"find_number": "N" * 65}, "find_number", "at most 64"),
    ],
)
def test_values_that_cannot_make_a_find_are_problems(
    answers: dict[str, str], field: str, message: str
) -> None:
    numbers = Numbers()
    result = _map(answers, numbers=numbers)
    problems = _problems(result)
    assert list(problems) == [field], problems
    assert message in problems[field]
    assert numbers.taken == []  # a submission kept for review uses up no number
    # the draft keeps what was sent, for the reviewer to correct
    assert result.draft["recorded_by"] == "aigerim"
    assert result.draft["find_number"] is None or "find_number" in answers


def test_the_draft_keeps_a_value_outside_the_vocabulary() -> None:
    result = _map({"material": "bronze", "site_code": "XYZ"})
    assert result.draft["material"] == "bronze"
    assert result.draft["site_code"] == "XYZ"
    assert set(_problems(result)) == {"material", "site_code"}


def test_a_number_that_does_not_fit_is_a_problem() -> None:
    result = _map(numbers=lambda: "")
    assert _problems(result) == {"find_number": "must be at least 1 character long"}


def test_without_a_site_list_any_site_code_is_taken() -> None:
    result = _map({"site_code": "NEW"}, site_codes=None)
    assert result.data is not None and result.data["site_code"] == "NEW"


@pytest.mark.parametrize(
    ("answers", "recorded_at"),
    [
        ({"end": ""}, "2026-07-14T10:28:41.302000+05:00"),
        ({"end": "", "start": ""}, "2026-07-14T11:40:12+05:00"),
        ({"end": "2026-07-14T10:32:05"}, "2026-07-14T10:32:05+05:00"),
        ({"end": "2026-07-14T05:32:05Z"}, "2026-07-14T05:32:05+00:00"),
        ({"end": "yesterday"}, "2026-07-14T11:40:12+05:00"),
    ],
)
def test_recorded_at(answers: dict[str, str], recorded_at: str) -> None:
    result = _map(answers)
    assert result.data is not None and result.data["recorded_at"] == recorded_at


def test_a_received_time_needs_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        _map(received_at=datetime(2026, 7, 14, 11, 40))


def test_photos_that_are_not_photos_are_kept_for_the_reviewer(tmp_path: Path) -> None:
    bomb = make.jpeg_bomb_bytes(65_000, 65_000)
    text = b"not a photo\n"
    good = make.jpeg_bytes(seed=5)
    names = ("bomb.jpg", "text.jpg", "good.jpg", "late.jpg")
    photos = {
        name: read_collected_photo(_store(tmp_path, data), name)
        for name, data in zip(names, (bomb, text, good), strict=False)
    }
    assert photos["bomb.jpg"].reading is None
    assert photos["bomb.jpg"].sha256 == make.sha256(bomb)
    assert photos["bomb.jpg"].byte_count == len(bomb)
    result = _map(photos=photos, photo_files=names)

    # the find is still made, with the photo that is one
    assert result.data is not None and result.data["photos"] == [make.sha256(good)]
    assert [p["sha256"] for p in result.photos] == [make.sha256(good)]
    assert result.needs_review
    bomb_note, text_note = (p["message"] for p in result.photo_problems)
    assert bomb_note.startswith(f"photo bomb.jpg (sha256 {make.sha256(bomb)})")
    assert "decompression bomb" in bomb_note
    assert text_note.startswith(f"photo text.jpg (sha256 {make.sha256(text)})")
    assert "is not a photo" in text_note
    # Collect sends large attachments in later requests
    assert result.missing_photos == ("late.jpg",)


def test_the_same_photo_twice_is_one_photo(tmp_path: Path) -> None:
    data = make.jpeg_bytes(seed=9)
    path = _store(tmp_path, data)
    photos = {name: read_collected_photo(path, name) for name in ("a.jpg", "b.jpg")}
    result = _map(photos=photos, photo_files=("a.jpg", "b.jpg"))
    assert result.data is not None and result.data["photos"] == [make.sha256(data)]
    assert len(result.photos) == 1


def test_a_geopoint_without_altitude_and_accuracy() -> None:
    result = _map({"position": "48.19331 67.84472", "depth_m": ""})
    assert result.data is not None
    assert result.data["position"] == {
        "lon": 67.84472,
        "lat": 48.19331,
        "elevation_m": None,
        "depth_m": None,
        "horizontal_accuracy_m": None,
        "vertical_accuracy_m": None,
        "method": "gnss",
    }


def test_a_submission_of_an_earlier_form_version_is_still_taken() -> None:
    """A phone may send finds for days with the form it had: an older version, perhaps with a
    question since dropped, still makes a find."""
    xml = instance(version="ref-000000000000").replace(
        b"<notes/>", b"<notes/><bag_colour>green</bag_colour>"
    )
    submission = parse_submission(xml)
    assert submission.version == "ref-000000000000"
    result = find_from_submission(submission, _context(Numbers()), {})
    assert result.data is not None and result.problems == ()
