"""The banded grid hands every find that may match a new one to the neighbourhood query."""

from __future__ import annotations

import math
import random

from field_server.domain.find_grid import (
    METRES_PER_DEGREE,
    NO_CONTEXT,
    SHELVES,
    GridPlace,
    Shelf,
    band_of,
    context_code,
    day_number,
    filed_keys,
    group_code,
    neighbourhood_keys,
    reach_m,
    shelf_of_key,
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
        # the shelves of the expedition: at least the one the old find is on
        used = {shelf_of_key(context_key), *rng.sample(SHELVES, rng.choice([0, 3]))}
        area, by_context = neighbourhood_keys(new, used)
        if my_context == NO_CONTEXT:
            assert area_key in area and not by_context
        else:
            assert context_key in by_context and not area


def test_a_key_says_its_shelf_and_empty_shelves_are_not_searched() -> None:
    layer = context_code("Р-2", "201")
    precise = GridPlace(SHERDS, layer, DAY, 0.02, 67.05, 48.2)
    phone = GridPlace(SHERDS, NO_CONTEXT, DAY, 25.0, 67.05, 48.2)
    wide = band_of(reach_m(25.0))
    assert shelf_of_key(filed_keys(precise)[1]) == Shelf(0, no_context=False)
    assert shelf_of_key(filed_keys(phone)[1]) == Shelf(wide, no_context=True)
    for shelf in SHELVES:
        for key in (shelf.lowest_key, shelf.highest_key):
            assert shelf_of_key(key) == shelf
    # a dig whose finds all have a context and total-station positions: one shelf to search
    _, only_own = neighbourhood_keys(precise, {Shelf(0, no_context=False)})
    _, everything = neighbourhood_keys(precise)
    assert only_own < everything
    assert {shelf_of_key(k) for k in only_own} == {Shelf(0, no_context=False)}
    assert {shelf_of_key(k) for k in everything} == set(SHELVES)


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
