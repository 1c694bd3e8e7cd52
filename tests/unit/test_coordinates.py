"""Impossible positions are caught before they reach a report."""

from __future__ import annotations

import pytest

from field_core.geo.coordinates import check_position, expand_bounds

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
