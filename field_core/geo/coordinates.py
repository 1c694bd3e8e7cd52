"""Plausibility rules for WGS 84 positions beyond what the wire schema's ranges catch."""

from __future__ import annotations

from dataclasses import dataclass

# Kazakhstan's extent with a margin: the region to test swapped coordinates against when an
# expedition has no site boundaries yet.
KAZAKHSTAN_BOUNDS = (46.0, 40.0, 88.0, 56.0)

Bounds = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class CoordinateProblem:
    code: str
    message: str


def check_position(
    lon: float, lat: float, region: Bounds = KAZAKHSTAN_BOUNDS
) -> CoordinateProblem | None:
    """Return why a position is impossible, or None when it is plausible.

    ``region`` is where the expedition works; a point outside it whose mirror image
    (lat, lon) falls inside it was almost certainly entered with the axes swapped.
    """
    if not (-180.0 <= lon <= 180.0):
        return CoordinateProblem("lon_out_of_range", f"longitude {lon} is outside -180..180")
    if not (-90.0 <= lat <= 90.0):
        if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0:
            return CoordinateProblem(
                "swapped_lon_lat",
                f"latitude {lat} is outside -90..90; longitude and latitude look swapped "
                "(the wire order is lon, lat)",
            )
        return CoordinateProblem("lat_out_of_range", f"latitude {lat} is outside -90..90")
    if abs(lon) < 1e-9 and abs(lat) < 1e-9:
        return CoordinateProblem(
            "null_island", "position 0, 0 is the default of a device that had no fix"
        )
    if not _inside(lon, lat, region) and _inside(lat, lon, region):
        return CoordinateProblem(
            "swapped_lon_lat",
            f"position ({lon}, {lat}) lies outside the expedition's region while ({lat}, {lon}) "
            "lies inside it: longitude and latitude look swapped (the wire order is lon, lat)",
        )
    return None


def _inside(lon: float, lat: float, region: Bounds) -> bool:
    min_lon, min_lat, max_lon, max_lat = region
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def expand_bounds(bounds: Bounds, margin_deg: float) -> Bounds:
    min_lon, min_lat, max_lon, max_lat = bounds
    return (
        max(min_lon - margin_deg, -180.0),
        max(min_lat - margin_deg, -90.0),
        min(max_lon + margin_deg, 180.0),
        min(max_lat + margin_deg, 90.0),
    )
