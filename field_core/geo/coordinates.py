"""Plausibility rules for WGS 84 positions beyond what the wire schema's ranges catch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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


# How far around its sites an expedition's finds may lie before a swapped pair is suspected.
REGION_MARGIN_DEG = 2.0


def work_region(site_boxes: Iterable[Bounds]) -> Bounds:
    """Where an expedition works: the box around its sites' boxes with a margin, or
    Kazakhstan before it has any site."""
    boxes = list(site_boxes)
    if not boxes:
        return KAZAKHSTAN_BOUNDS
    box = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return expand_bounds(box, REGION_MARGIN_DEG)


def geojson_box(geometry: Mapping[str, Any]) -> Bounds:
    """The box around a GeoJSON Polygon or MultiPolygon, from its coordinates alone."""
    if geometry.get("type") == "Polygon":
        rings = geometry["coordinates"]
    elif geometry.get("type") == "MultiPolygon":
        rings = [ring for polygon in geometry["coordinates"] for ring in polygon]
    else:
        raise ValueError(f"not a polygon: {str(geometry.get('type'))[:40]}")
    points = [(float(p[0]), float(p[1])) for ring in rings for p in ring]
    if not points:
        raise ValueError("a polygon without points")
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return (min(lons), min(lats), max(lons), max(lats))
