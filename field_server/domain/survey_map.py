"""The shapes a survey map draws besides its finds: trench outlines from the finds in them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping

from field_core.geo.crs import WGS84
from field_server.domain.export_layers import TrenchCollector


@dataclass(frozen=True)
class TrenchOutline:
    site_code: str | None
    trench: str
    finds: int
    geometry: dict[str, Any]  # a GeoJSON Polygon in WGS 84


def trench_outlines(
    finds: Iterable[tuple[str | None, str | None, float, float]],
) -> list[TrenchOutline]:
    """Each trench's outline from (site, trench, lon, lat) tuples, derived as every export
    derives it (``export_layers.trench_outline``), so the review map and the printed map
    draw the same trench."""
    found = list(finds)
    collector = TrenchCollector()
    if found:
        site_codes, trenches, lons, lats = (list(column) for column in zip(*found, strict=True))
        collector.add(site_codes, trenches, lons, lats)
    return [
        TrenchOutline(t.site_code, t.trench, t.find_count, mapping(t.geometry))
        for t in collector.trenches(WGS84)
    ]
