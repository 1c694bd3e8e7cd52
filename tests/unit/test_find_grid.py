"""The banded grid hands every find that may match a new one to the neighbourhood query."""

from __future__ import annotations

import math
import random

from field_server.domain.find_grid import (
    METRES_PER_DEGREE,
    band_of,
    cell_key,
    group_code,
    neighbourhood_keys,
    reach_m,
)


def test_reach_is_at_least_half_a_metre_and_bands_cover_it() -> None:
    assert reach_m(None) == reach_m(0.01) == 0.5
    assert reach_m(3.0) == math.sqrt(2) * 3.0
    assert [band_of(r) for r in (0.5, 0.6, 2.0, 2.1, 30.0, 1e9)] == [0, 1, 1, 2, 3, 7]


def test_every_find_within_the_larger_reach_is_in_the_neighbourhood() -> None:
    rng = random.Random(3)
    group = group_code("BSK", "ceramic", "small_find")
    for _ in range(2000):
        lat, lon = rng.uniform(47.5, 48.7), rng.uniform(66.8, 68.8)
        mine, theirs = rng.choice([None, 0.01, 0.5, 3.0, 25.0]), rng.choice([None, 0.02, 4.0, 60.0])
        limit = max(reach_m(mine), reach_m(theirs))
        distance, bearing = rng.uniform(0, limit), rng.uniform(0, 2 * math.pi)
        other_lat = lat + distance * math.cos(bearing) / METRES_PER_DEGREE
        scale = METRES_PER_DEGREE * math.cos(math.radians((lat + other_lat) / 2))
        other_lon = lon + distance * math.sin(bearing) / scale
        assert cell_key(group, theirs, other_lon, other_lat) in neighbourhood_keys(
            group, mine, lon, lat
        )


def test_other_groups_file_under_other_keys() -> None:
    sherds = group_code("BSK", "ceramic", "small_find")
    bones = group_code("BSK", "bone", "small_find")
    assert cell_key(bones, 0.02, 67.05, 48.2) not in neighbourhood_keys(sherds, 0.02, 67.05, 48.2)
