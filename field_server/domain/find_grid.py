"""Where a find sits in the grid that lets the database hand out a find's neighbourhood.

Two finds may be one object when they lie within ``max(0.5 m, combined accuracy)`` of each
other (DESIGN §5), so how far apart they may be depends on both accuracies. A find's *reach* is
``max(0.5, √2 · accuracy)``: the combined accuracy of two finds (their root sum of squares) is
never more than √2 times the larger one, so a pair that may match always lies within the larger
reach of the two. Finds are filed by reach into bands (0.5 m, 2 m, 8 m, … each four times the
last), each band with its own grid whose cells are at least twice as wide as the band's reach; a
new find no further reaching than a band then looks at most at a 2 × 2 block of its cells.

A near match also needs the same site, material and kind, the same context where both have one,
and days of finding at most one apart, so a cell's key mixes these in too: a dense trench hands
a new sherd only the sherds of its own context (or of none) found within a day, not the whole
season's finds around it. Each find is filed under two keys:

- its *context key*: the cell, the day and its own context (or the mark of having none); a new
  find with a context looks up its own context and "none";
- its *area key*: the cell and the day, whatever the context; a new find without a context
  matches every context and looks up these.

A context key's top bits say its *shelf*: the band, and whether the find has no context. Which
shelves an expedition uses is then a few index range lookups, and a new find looks up no keys
on empty shelves: a trench dig whose finds all have a context searches no "none" keys, a
total-station dig no wide bands. The rest of a key is hashed into 57 bits: two cells sharing a
key only cost a few extra rows, never a miss.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

# Metres per degree of latitude on a sphere of the Earth's mean radius (6,371,008.8 m). Against
# the WGS 84 ellipsoid this is off by under 0.6 % at these latitudes: under 3 mm at 0.5 m.
METRES_PER_DEGREE = math.radians(1.0) * 6_371_008.8
FLOOR_M = 0.5
BAND_FACTOR = 4.0
BANDS = 8  # the widest band reaches 0.5 · 4⁷ ≈ 8.2 km; worse accuracies count as that
MIN_CELL_M = 2.0
MARGIN = 1.02  # the grid's flat-earth metric against the distance the rules measure
NO_CONTEXT = 0
_PRIME = (1 << 61) - 1
_SHELF_SHIFT = 57
_HASH_MASK = (1 << _SHELF_SHIFT) - 1


def reach_m(horizontal_accuracy_m: float | None) -> float:
    """How far away a find may lie from another record of itself, as far as it alone says."""
    return max(FLOOR_M, math.sqrt(2.0) * (horizontal_accuracy_m or 0.0))


def band_reach_m(band: int) -> float:
    return FLOOR_M * BAND_FACTOR**band


def band_of(reach: float) -> int:
    for band in range(BANDS):
        if reach <= band_reach_m(band):
            return band
    return BANDS - 1


@dataclass(frozen=True, slots=True)
class Shelf:
    """Where a find's context key sits: its band, and whether the find has no context."""

    band: int
    no_context: bool

    @property
    def lowest_key(self) -> int:
        return (2 * self.band + self.no_context) << _SHELF_SHIFT

    @property
    def highest_key(self) -> int:
        return self.lowest_key | _HASH_MASK


SHELVES = tuple(Shelf(band, flag) for band in range(BANDS) for flag in (False, True))


def shelf_of_key(context_key: int) -> Shelf:
    return SHELVES[context_key >> _SHELF_SHIFT]


def cell_size_m(band: int) -> float:
    return max(MIN_CELL_M, 2.0 * band_reach_m(band) * MARGIN)


def group_code(site_code: str | None, material: str, kind: str) -> int:
    """A stable number for the (site, material, kind) a near match must share."""
    return zlib.crc32(f"{site_code or ''}\x1f{material}\x1f{kind}".encode())


def context_code(trench: str | None, context: str | None) -> int:
    """A stable number for a find's context within its trench; NO_CONTEXT when it has none."""
    if context is None:
        return NO_CONTEXT
    return 1 + zlib.crc32(f"{trench or ''}\x1f{context}".encode())


def day_number(found_on: str) -> int:
    return date.fromisoformat(found_on).toordinal()


@dataclass(frozen=True, slots=True)
class GridPlace:
    """What of a find decides where it is filed: numbers from the functions above."""

    group: int
    context: int
    day: int
    horizontal_accuracy_m: float | None
    lon: float
    lat: float


def place_of(
    site_code: str | None,
    material: str,
    kind: str,
    trench: str | None,
    context: str | None,
    found_on: str,
    horizontal_accuracy_m: float | None,
    lon: float,
    lat: float,
) -> GridPlace:
    return GridPlace(
        group_code(site_code, material, kind),
        context_code(trench, context),
        day_number(found_on),
        horizontal_accuracy_m,
        lon,
        lat,
    )


def _mix(value: int, *parts: int) -> int:
    for part in parts:
        value = (value * 1_000_003 + part) % _PRIME
    return value


def _key(shelf: int, prefix: int, band: int, row: int, column: int) -> int:
    """A cell's key from the hashed (group, [context,] day) it is for."""
    return (shelf << _SHELF_SHIFT) | (_mix(prefix, band, row, column) & _HASH_MASK)


def _row_scale(row: int, size: float) -> float:
    """Metres per degree of longitude along the middle of a grid row."""
    latitude = (row + 0.5) * size / METRES_PER_DEGREE
    return METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 1e-6)


def _own_cell(place: GridPlace) -> tuple[int, int, int]:
    band = band_of(reach_m(place.horizontal_accuracy_m))
    size = cell_size_m(band)
    row = math.floor(place.lat * METRES_PER_DEGREE / size)
    column = math.floor(place.lon * _row_scale(row, size) / size)
    return band, row, column


def filed_keys(place: GridPlace) -> tuple[int, int]:
    """The (area key, context key) a find is filed under."""
    band, row, column = _own_cell(place)
    shelf = 2 * band + (place.context == NO_CONTEXT)
    return (
        _key(2 * band, _mix(0, place.group, place.day), band, row, column),
        _key(shelf, _mix(0, place.group, place.context, place.day), band, row, column),
    )


def _cells(place: GridPlace, bands: Iterable[int]) -> list[tuple[int, int, int]]:
    """(band, row, column) of every cell of these bands in which a find that may match this one
    is filed."""
    own = reach_m(place.horizontal_accuracy_m)
    cells = []
    y = place.lat * METRES_PER_DEGREE
    for band in sorted(set(bands)):
        size = cell_size_m(band)
        radius = max(own, band_reach_m(band)) * MARGIN
        for row in range(math.floor((y - radius) / size), math.floor((y + radius) / size) + 1):
            x = place.lon * _row_scale(row, size)
            first = math.floor((x - radius) / size)
            for column in range(first, math.floor((x + radius) / size) + 1):
                cells.append((band, row, column))
    return cells


def neighbourhood_keys(
    place: GridPlace, used: Collection[Shelf] = SHELVES
) -> tuple[set[int], set[int]]:
    """(area keys, context keys) under which every find that may match this one is filed.

    ``used`` are the shelves the expedition's finds are on; nothing is looked for elsewhere.
    """
    days = (place.day - 1, place.day, place.day + 1)
    if place.context == NO_CONTEXT:
        prefixes = [_mix(0, place.group, day) for day in days]
        area = {
            _key(2 * band, prefix, band, row, column)
            for band, row, column in _cells(place, (shelf.band for shelf in used))
            for prefix in prefixes
        }
        return area, set()
    keys: set[int] = set()
    for context, no_context in ((place.context, False), (NO_CONTEXT, True)):
        bands = [shelf.band for shelf in used if shelf.no_context == no_context]
        prefixes = [_mix(0, place.group, context, day) for day in days]
        keys.update(
            _key(2 * band + no_context, prefix, band, row, column)
            for band, row, column in _cells(place, bands)
            for prefix in prefixes
        )
    return set(), keys
