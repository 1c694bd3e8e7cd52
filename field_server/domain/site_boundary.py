"""Site boundaries: checking a GeoJSON polygon and measuring how far a find lies outside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from field_core.geo.crs import Transformer, local_metric

MAX_VERTICES = 100_000


class BoundaryError(ValueError):
    pass


def check_boundary(geometry: Any) -> BaseGeometry:
    """Parse a GeoJSON Polygon/MultiPolygon in WGS 84; raise BoundaryError with the reason."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise BoundaryError("a boundary is a GeoJSON Polygon or MultiPolygon")
    if set(geometry) - {"type", "coordinates", "bbox"}:
        raise BoundaryError("a boundary has only the members type and coordinates (and bbox)")
    depth = 3 if geometry["type"] == "Polygon" else 4
    _check_positions(geometry.get("coordinates"), depth)
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError) as error:
        raise BoundaryError(f"the boundary is not valid GeoJSON geometry: {error}") from None
    if polygon.is_empty:
        raise BoundaryError("the boundary is empty")
    if shapely.get_num_coordinates(polygon) > MAX_VERTICES:
        raise BoundaryError(f"the boundary has more than {MAX_VERTICES} vertices")
    coords = shapely.get_coordinates(polygon)
    if not np.isfinite(coords).all():
        raise BoundaryError("the boundary has a coordinate that is not a finite number")
    lon, lat = coords[:, 0], coords[:, 1]
    if (lon < -180).any() or (lon > 180).any() or (lat < -90).any() or (lat > 90).any():
        raise BoundaryError(
            "the boundary has a coordinate outside WGS 84 (lon -180..180, lat -90..90)"
        )
    if not polygon.is_valid:
        raise BoundaryError(
            f"the boundary is not a valid polygon: {shapely.is_valid_reason(polygon)}"
        )
    return polygon


def _check_positions(node: Any, depth: int) -> None:
    """Nested arrays ``depth`` deep ending in [lon, lat] or [lon, lat, ele] of finite numbers.

    shapely would take strings for numbers and overflow on integers too big for a double.
    """
    if depth == 1:
        ok = (
            isinstance(node, list)
            and 2 <= len(node) <= 3
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= 1e9 and v == v
                for v in node
            )
        )
        if not ok:
            raise BoundaryError("a position is [lon, lat] or [lon, lat, elevation] in numbers")
        return
    if not isinstance(node, list) or not node:
        raise BoundaryError("the boundary's coordinates are not nested as GeoJSON requires")
    for child in node:
        _check_positions(child, depth - 1)


@dataclass
class SiteBoundary:
    """A site polygon in a local equidistant projection, for distances in metres.

    An azimuthal equidistant projection centred on the site keeps distances within a site
    (a few kilometres) true to well under a millimetre per metre.
    """

    code: str
    polygon: BaseGeometry
    _metric: BaseGeometry
    _to_metric: Transformer

    @classmethod
    def from_geojson(cls, code: str, geometry: dict[str, Any]) -> SiteBoundary:
        polygon = shape(geometry)
        centre = polygon.centroid
        to_metric = local_metric(centre.x, centre.y)
        metric = shapely.transform(
            polygon, lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1]))
        )
        shapely.prepare(metric)
        shapely.prepare(polygon)
        return cls(code, polygon, metric, to_metric)

    def distances_outside_m(self, lons: list[float], lats: list[float]) -> list[float]:
        """0.0 for a point inside the boundary, else the distance to it in metres."""
        distances = np.zeros(len(lons))
        if not lons:
            return []
        lon_array, lat_array = np.asarray(lons, float), np.asarray(lats, float)
        # most finds lie inside their site: only the others need projecting
        outside = ~shapely.contains_xy(self.polygon, lon_array, lat_array)
        if outside.any():
            xs, ys = self._to_metric.transform(lon_array[outside], lat_array[outside])
            points = shapely.points(np.asarray(xs, float), np.asarray(ys, float))
            distances[outside] = shapely.distance(self._metric, points)
        return [float(d) for d in distances]


@lru_cache(maxsize=512)
def _cached_boundary(code: str, boundary_text: str) -> SiteBoundary:
    return SiteBoundary.from_geojson(code, json.loads(boundary_text))


def site_boundary(code: str, geometry: dict[str, Any]) -> SiteBoundary:
    """The measured boundary of a site, built once per process for each distinct polygon.

    Building the projection costs tens of milliseconds; the key is the polygon itself, so
    an edited boundary is a new entry and nothing stale is ever served.
    """
    return _cached_boundary(code, json.dumps(geometry, sort_keys=True))
