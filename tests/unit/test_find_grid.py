"""The banded grid hands every find that may match a new one to the neighbourhood query."""

from __future__ import annotations

import math
import random

from field_server.domain.find_grid import (
    METRES_PER_DEGREE,
    NO_CONTEXT,
    GridPlace,
    band_of,
    band_of_key,
    context_code,
    day_number,
    filed_keys,
    group_code,
    neighbourhood_keys,
    reach_m,
)

SHERDS = group_code("BSK", "ceramic", "small_find")
DAY = day_number("2026-08-03")


def test_reach_is_at_least_half_a_metre_and_bands_cover_it() -> None:
    assert reach_m(None) == reach_m(0.01) == 0.5
    assert reach_m(3.0) == math.sqrt(2) * 3.0
    assert [band_of(r) for r in (0.5, 0.6, 2.0, 2.1, 30.0, 1e9)] == [0, 1, 1, 2, 3, 7]


def test_a_context_is_numbered_within_its_trench_and_none_has_its_own_mark() -> None:
    assert context_code("Р-1", None) == context_code(None, None) == NO_CONTEXT
    assert context_code("Р-1", "101") != context_code("Р-2", "101")
    assert context_code("Р-1", "101") != NO_CONTEXT


def test_every_find_that_may_match_is_in_the_neighbourhood() -> None:
    rng = random.Random(3)
    contexts = [NO_CONTEXT, context_code("Р-2", "201")]
    for _ in range(3000):
        lat, lon = rng.uniform(47.5, 48.7), rng.uniform(66.8, 68.8)
        mine, theirs = rng.choice([None, 0.01, 0.5, 3.0, 25.0]), rng.choice([None, 0.02, 4.0, 60.0])
        limit = max(reach_m(mine), reach_m(theirs))
        distance, bearing = rng.uniform(0, limit), rng.uniform(0, 2 * math.pi)
        other_lat = lat + distance * math.cos(bearing) / METRES_PER_DEGREE
        scale = METRES_PER_DEGREE * math.cos(math.radians((lat + other_lat) / 2))
        other_lon = lon + distance * math.sin(bearing) / scale
        my_context, their_context = rng.choice(contexts), rng.choice(contexts)
        new = GridPlace(SHERDS, my_context, DAY, mine, lon, lat)
        old = GridPlace(
            SHERDS, their_context, DAY + rng.choice([-1, 0, 1]), theirs, other_lon, other_lat
        )
        area_key, context_key = filed_keys(old)
        widest = max(band_of_key(area_key), rng.choice([0, 7]))
        area, by_context = neighbourhood_keys(new, widest)
        if my_context == NO_CONTEXT:
            assert area_key in area and not by_context
        else:
            assert context_key in by_context and not area


def test_the_widest_band_is_read_from_the_largest_key() -> None:
    precise = filed_keys(GridPlace(SHERDS, NO_CONTEXT, DAY, 0.02, 67.05, 48.2))
    phone = filed_keys(GridPlace(SHERDS, NO_CONTEXT, DAY, 25.0, 67.05, 48.2))
    assert {band_of_key(k) for k in precise} == {0}
    assert {band_of_key(k) for k in phone} == {band_of(reach_m(25.0))}
    assert band_of_key(max(*precise, *phone)) == band_of(reach_m(25.0))


def test_other_groups_contexts_and_days_file_under_other_keys() -> None:
    bones = group_code("BSK", "bone", "small_find")
    layer, pit = context_code("Р-2", "201"), context_code("Р-2", "202")
    new = GridPlace(SHERDS, layer, DAY, 0.02, 67.05, 48.2)
    area, by_context = neighbourhood_keys(new)
    assert not area  # a find with a context looks only by context
    for other in (
        GridPlace(bones, layer, DAY, 0.02, 67.05, 48.2),
        GridPlace(SHERDS, pit, DAY, 0.02, 67.05, 48.2),
        GridPlace(SHERDS, layer, DAY + 2, 0.02, 67.05, 48.2),
    ):
        assert filed_keys(other)[1] not in by_context
    assert filed_keys(GridPlace(SHERDS, NO_CONTEXT, DAY - 1, 0.02, 67.05, 48.2))[1] in by_context
