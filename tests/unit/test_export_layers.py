"""What every export holds besides the formats: the find sheet's row and the trenches' outlines
derived from finds that stream past a chunk at a time."""

from __future__ import annotations

import json
import random

import pytest

from field_server.domain import export_layers
from field_server.domain.export_layers import (
    COLUMN_NAMES,
    OBJECT_COLUMNS,
    SHEET_COLUMNS,
    TrenchCollector,
    find_row,
    sheet_row,
    trench_outline,
)
from tests import samples

LON, LAT = 67.0497, 48.2001  # Bylkyldak, in metres: 1e-5 degrees is about 0.74 m east


def chunks(n: int, size: int) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def collect(lons: list[float], lats: list[float], size: int = 2000) -> TrenchCollector:
    collector = TrenchCollector()
    for part in chunks(len(lons), size):
        collector.add(
            ["BSK"] * len(part), ["Р-1"] * len(part),
            [lons[i] for i in part], [lats[i] for i in part],
        )  # fmt: skip
    return collector


def test_a_trench_of_many_finds_has_the_outline_of_all_of_them_from_a_few_kept() -> None:
    rng = random.Random(5)
    lons = [LON + rng.uniform(0, 1e-4) for _ in range(20_000)]
    lats = [LAT + rng.uniform(0, 1e-4) for _ in range(20_000)]
    collector = collect(lons, lats)
    [kept] = collector.gathered.values()
    assert len(kept.lons) <= 4096 + 2000  # never more than one chunk past the hull's corners
    [trench] = collector.trenches(4326)
    whole = trench_outline(lons, lats)
    assert trench.find_count == 20_000
    assert trench.geometry.symmetric_difference(whole).area == pytest.approx(0, abs=1e-16)
    assert trench.geometry.area == pytest.approx(whole.area, rel=1e-9)


@pytest.mark.parametrize(
    ("lons", "three"),
    [
        ([LON, LON + 1e-5, LON + 2e-5] * 400, True),  # three places on a line: a buffered line
        ([LON, LON + 1e-5] * 600, False),  # two places: their box, grown
        ([LON] * 1200, False),  # one place: a 2 m square
    ],
    ids=["three-on-a-line", "two", "one"],
)
def test_few_places_repeated_keep_the_shape_they_had(lons: list[float], three: bool) -> None:
    lats = [LAT] * len(lons)
    [trench] = collect(lons, lats, size=500).trenches(4326)
    whole = trench_outline(lons, lats)
    assert whole.equals_exact(trench.geometry, 1e-12)
    assert trench.find_count == len(lons)
    box = trench.geometry.minimum_rotated_rectangle
    assert (trench.geometry.area < box.area * 0.999) == three  # round ends only on a line
    if not three:  # a box grown by a metre each way (about 1.35e-5 degrees of longitude here)
        west, south, east, north = trench.geometry.bounds
        assert east - west == pytest.approx(max(lons) - min(lons) + 2 / 74_200, rel=0.01)
        assert north - south == pytest.approx(2 / 111_200, rel=0.01)


def test_the_sheet_row_holds_the_values_an_export_reads() -> None:
    for survey in samples.surveys():
        for find in survey.finds:
            data = find["data"]
            row = sheet_row(find["uuid"], data)
            values = find_row({"uuid": find["uuid"]}, data)
            for name, _, _ in SHEET_COLUMNS:
                assert row[name] == values[COLUMN_NAMES.index(name)]
            assert (row["lon"], row["lat"]) == (data["position"]["lon"], data["position"]["lat"])
            assert json.loads(row["object_json"]) == dict(
                zip(OBJECT_COLUMNS, values[: len(OBJECT_COLUMNS)], strict=True)
            )
            assert list(json.loads(row["object_json"])) == list(OBJECT_COLUMNS)


def test_the_record_state_closes_the_columns() -> None:
    assert COLUMN_NAMES[len(OBJECT_COLUMNS) :] == export_layers.STATE_COLUMNS
