"""The shapes a survey map draws besides its finds: trench outlines from the finds in them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shapely.geometry import MultiPoint, mapping


@dataclass(frozen=True)
class TrenchOutline:
    site_code: str | None
    trench: str
    finds: int
    geometry: dict[str, Any]  # a GeoJSON Polygon in WGS 84


def trench_outlines(
    finds: Iterable[tuple[str | None, str | None, float, float]],
) -> list[TrenchOutline]:
    """The convex hull of each trench's finds, from (site, trench, lon, lat) tuples.

    A trench is only drawn when its finds span an area: one find, or finds in a line, say
    nothing about the trench's extent, and the finds themselves are on the map anyway.
    """
    points: dict[tuple[str | None, str], list[tuple[float, float]]] = {}
    for site, trench, lon, lat in finds:
        if trench:
            points.setdefault((site, trench), []).append((lon, lat))
    outlines = []
    for (site, trench), positions in sorted(points.items(), key=lambda item: str(item[0])):
        hull = MultiPoint(positions).convex_hull
        if hull.geom_type == "Polygon" and hull.area > 0:
            outlines.append(TrenchOutline(site, trench, len(positions), mapping(hull)))
    return outlines
