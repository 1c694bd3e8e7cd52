"""Every problem the submission reader, the contract and the photo reader write is said from
the review UI's catalog in kk, ru and en, with the values it carries."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest

from field_core.collect.find_from_submission import read_collected_photo
from field_core.validation import validate_record_data
from field_server.web.problem_words import problem_words
from tests import media_factory as make
from tests.unit.collect.test_find_from_submission import _map, _store

CATALOGS = Path(__file__).resolve().parents[2] / "field_server" / "web" / "translations"


def _said(message: str) -> tuple[str, dict[str, Any]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def translate(key: str, **values: Any) -> str:
        seen.append((key, values))
        return key

    problem_words(message, translate)
    (said,) = seen
    return said


SUBMISSION_ANSWERS = [
    ({"material": "bronze"}, "problem.material", {"value": "bronze"}),
    ({"material": ""}, "problem.required", {}),
    ({"kind": "hoard"}, "problem.kind", {"value": "hoard"}),
    ({"site_code": "X'Y"}, "problem.site", {"value": "X'Y"}),
    ({"quantity": "0"}, "problem.at_least", {"n": "1"}),
    ({"quantity": "two"}, "problem.whole_number", {"value": "two"}),
    ({"weight_g": "-3"}, "problem.at_least", {"n": "0"}),
    ({"weight_g": "nan"}, "problem.not_number", {"value": "nan"}),
    ({"found_on": "2026-07-19"}, "problem.future", {"day": "2026-07-19", "sent": "2026-07-14"}),
    ({"found_on": "2026-02-30"}, "problem.date", {}),
    ({"position": "0 0 0 0"}, "problem.no_fix", {}),
    ({"position": "95 120 400 3"}, "problem.latitude", {"lat": "95.0"}),
    ({"position": "48 200 400 3"}, "problem.longitude", {"lon": "200.0"}),
    ({"position": "148.19 67.84 400 3"}, "problem.swapped", {"lat": "148.19"}),
    ({"position": "67.84472 48.19331 427 4"}, "problem.swapped", {}),
    ({"position": "48.19 east"}, "problem.geopoint", {"value": "48.19 east"}),
    ({"position": "48.19 67.84 12000 3"}, "problem.at_most", {"n": "9000"}),
    ({"find_number": "N" * 65}, "problem.max_length", {"n": "64"}),
]


@pytest.mark.parametrize(("answers", "key", "values"), SUBMISSION_ANSWERS)
def test_a_submissions_problem_is_said_with_its_values(
    answers: dict[str, str], key: str, values: dict[str, str]
) -> None:
    (problem,) = _map(answers).problems
    assert _said(problem["message"]) == (key, values)


def test_the_contracts_problems_are_said_too() -> None:
    _, problems = validate_record_data(
        "find",
        {"expedition_code": "uly", "quantity": "3", "found_on": 5, "colour": "red"},
    )
    keys = {problem["field"]: _said(problem["message"])[0] for problem in problems}
    assert keys["data.expedition_code"] == "problem.other"  # the code's pattern: said as is
    assert keys["data.quantity"] == "problem.integer"
    assert keys["data.found_on"] == "problem.text"
    assert keys["data.colour"] == "problem.unknown_field"
    assert keys["data.material"] == "problem.required"


def test_photos_that_are_not_photos_are_said_by_their_name(tmp_path: Path) -> None:
    files = {
        "bomb.jpg": (make.jpeg_bomb_bytes(65_000, 65_000), "problem.photo_bomb"),
        "text.jpg": (b"not a photo\n", "problem.photo_not_image"),
        "cut.jpg": (make.jpeg_bytes(seed=3)[:400], "problem.photo_damaged"),
    }
    photos = {
        name: read_collected_photo(_store(tmp_path, data), name)
        for name, (data, _) in files.items()
    }
    result = _map(photos=photos, photo_files=tuple(files))
    said = [_said(problem["message"]) for problem in result.photo_problems]
    assert said == [(key, {"name": name}) for name, (_, key) in files.items()]


def test_a_sentence_of_no_known_shape_keeps_its_text() -> None:
    assert _said("the moon is not a site") == ("problem.other", {"text": "the moon is not a site"})


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_every_key_is_in_each_catalog_with_the_values_it_uses(lang: str) -> None:
    catalog = json.loads((CATALOGS / f"{lang}.json").read_text("utf-8"))
    english = json.loads((CATALOGS / "en.json").read_text("utf-8"))
    keys = {key for key in english if key.startswith("problem.")}
    assert keys == {key for key in catalog if key.startswith("problem.")}
    for key in keys:
        fields = {name for _, name, _, _ in string.Formatter().parse(catalog[key]) if name}
        wanted = {name for _, name, _, _ in string.Formatter().parse(english[key]) if name}
        assert fields == wanted, (lang, key)
