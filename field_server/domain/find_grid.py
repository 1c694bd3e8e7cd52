"""Where a find sits in the grid that lets the database hand out a find's neighbourhood.

Two finds may be one object when they lie within ``max(0.5 m, combined accuracy)`` of each
other (DESIGN §5), so how far apart they may be depends on both accuracies. A find's *reach* is
``max(0.5, √2 · accuracy)``: the combined accuracy of two finds (their root sum of squares) is
never more than √2 times the larger one, so a pair that may match always lies within the larger
reach of the two. Finds are filed by reach into bands (0.5 m, 2 m, 8 m, … each four times the
last), each band with its own grid whose cells are at least as wide as the band's reach; a new
find's neighbourhood is then at most a 2 × 2 block of cells in each band.

A cell's key also mixes in the find's site, material and kind (a near match needs all three
equal), so a trench full of sherds does not hand its bone and slag to every sherd's query. Keys
are hashed into 61 bits: two cells sharing a key only cost a few extra rows, never a miss.
"""

from __future__ import annotations

import math
import zlib

# Metres per degree of latitude on a sphere of the Earth's mean radius (6,371,008.8 m). Against
# the WGS 84 ellipsoid this is off by under 0.6 % at these latitudes: under 3 mm at 0.5 m.
METRES_PER_DEGREE = math.radians(1.0) * 6_371_008.8
FLOOR_M = 0.5
BAND_FACTOR = 4.0
BANDS = 8  # the widest band reaches 0.5 · 4⁷ ≈ 8.2 km; worse accuracies count as that
MIN_CELL_M = 2.0
MARGIN = 1.02  # the grid's flat-earth metric against the distance the rules measure
_PRIME = (1 << 61) - 1


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


def cell_size_m(band: int) -> float:
    return max(MIN_CELL_M, band_reach_m(band))


def group_code(site_code: str | None, material: str, kind: str) -> int:
    """A stable number for the (site, material, kind) a near match must share."""
    return zlib.crc32(f"{site_code or ''}\x1f{material}\x1f{kind}".encode())


def _key(group: int, band: int, row: int, column: int) -> int:
    value = group
    for part in (band, row, column):
        value = (value * 1_000_003 + part) % _PRIME
    return value


def _row_scale(row: int, size: float) -> float:
    """Metres per degree of longitude along the middle of a grid row."""
    latitude = (row + 0.5) * size / METRES_PER_DEGREE
    return METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 1e-6)


def cell_key(group: int, horizontal_accuracy_m: float | None, lon: float, lat: float) -> int:
    """The key a find is filed under: its own band's cell."""
    band = band_of(reach_m(horizontal_accuracy_m))
    size = cell_size_m(band)
    row = math.floor(lat * METRES_PER_DEGREE / size)
    column = math.floor(lon * _row_scale(row, size) / size)
    return _key(group, band, row, column)


def neighbourhood_keys(
    group: int, horizontal_accuracy_m: float | None, lon: float, lat: float
) -> set[int]:
    """Every key under which a find that may match this one can be filed."""
    own = reach_m(horizontal_accuracy_m)
    keys: set[int] = set()
    y = lat * METRES_PER_DEGREE
    for band in range(BANDS):
        size = cell_size_m(band)
        radius = max(own, band_reach_m(band)) * MARGIN
        for row in range(math.floor((y - radius) / size), math.floor((y + radius) / size) + 1):
            x = lon * _row_scale(row, size)
            first = math.floor((x - radius) / size)
            for column in range(first, math.floor((x + radius) / size) + 1):
                keys.add(_key(group, band, row, column))
    return keys
