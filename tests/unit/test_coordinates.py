"""Impossible positions are caught before they reach a report."""

from __future__ import annotations

import pytest

from field_core.geo.coordinates import (
    KAZAKHSTAN_BOUNDS,
    check_position,
    expand_bounds,
    geojson_box,
    work_region,
)

DOMBAUYL = (67.8447, 48.1933)


def test_a_position_at_the_dombauyl_mausoleum_is_plausible() -> None:
    assert check_position(*DOMBAUYL) is None


@pytest.mark.parametrize(
    ("lon", "lat", "code"),
    [
        (181.0, 48.0, "lon_out_of_range"),
        (-180.5, 48.0, "lon_out_of_range"),
        (67.8, 90.5, "swapped_lon_lat"),
        (120.0, -95.0, "lat_out_of_range"),
        (0.0, 0.0, "null_island"),
        (48.1933, 67.8447, "swapped_lon_lat"),
    ],
)
def test_impossible_positions_are_named(lon: float, lat: float, code: str) -> None:
    problem = check_position(lon, lat)
    assert problem is not None and problem.code == code
    assert problem.message


def test_a_swap_is_judged_against_the_expeditions_region() -> None:
    region = expand_bounds((67.0, 48.0, 68.7, 48.7), 2.0)
    assert check_position(48.1933, 67.8447, region).code == "swapped_lon_lat"  # type: ignore[union-attr]
    # far from the region but not a mirror of it: plausible, only the site check may flag it
    assert check_position(76.9, 43.2, region) is None


def test_expanded_bounds_stay_on_the_globe() -> None:
    assert expand_bounds((179.0, 89.0, 180.0, 90.0), 5.0) == (174.0, 84.0, 180.0, 90.0)


def test_the_work_region_is_the_sites_box_with_a_margin_or_kazakhstan() -> None:
    dombauyl = {
        "type": "Polygon",
        "coordinates": [[[67.84, 48.19], [67.85, 48.19], [67.85, 48.20], [67.84, 48.19]]],
    }
    taskudyk = {
        "type": "MultiPolygon",
        "coordinates": [[[[67.59, 47.79], [67.60, 47.79], [67.60, 47.80], [67.59, 47.79]]]],
    }
    assert geojson_box(dombauyl) == (67.84, 48.19, 67.85, 48.20)
    region = work_region([geojson_box(dombauyl), geojson_box(taskudyk)])
    assert region == pytest.approx((65.59, 45.79, 69.85, 50.20))
    assert work_region([]) == KAZAKHSTAN_BOUNDS
    swapped = check_position(48.195, 67.845, region)
    assert swapped is not None and swapped.code == "swapped_lon_lat"
    with pytest.raises(ValueError, match="not a polygon"):
        geojson_box({"type": "Point", "coordinates": [67.8, 48.1]})
