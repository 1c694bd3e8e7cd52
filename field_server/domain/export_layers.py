"""What an export holds, format aside: finds, sites, trenches and tracks in the chosen CRS.

Trenches have no geometry of their own in the field record: a trench's outline is derived from
its finds, the convex hull grown by 1 m (so a trench with finds along one wall still has an
area), or, with fewer than three finds, their bounding box grown by 1 m.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint
from shapely.geometry.base import BaseGeometry

from field_core.geo import crs as crs_module
from field_core.geo.crs import CrsInfo

TRENCH_MARGIN_M = 1.0


@dataclass(frozen=True)
class ExportHeader:
    """Who and what an export is of: written as each format's metadata."""

    expedition_code: str
    expedition_title: str
    crs: CrsInfo
    exported_at: datetime
    filters: dict[str, str]
    photo_base_url: str = ""  # "" leaves photo links relative to the server

    def photo_thumb_url(self, sha256: str) -> str:
        return f"{self.photo_base_url.rstrip('/')}/api/v1/photos/{sha256}/thumb"

    @property
    def note(self) -> str:
        return self.crs.metadata_note()


@dataclass(frozen=True)
class FindFeature:
    uuid: str
    data: dict[str, Any]
    status: str | None
    register_number: str | None
    flags: tuple[str, ...]
    x: float  # in the export's CRS
    y: float

    @property
    def lon(self) -> float:
        return float(self.data["position"]["lon"])

    @property
    def lat(self) -> float:
        return float(self.data["position"]["lat"])


@dataclass(frozen=True)
class FindChunk:
    """A chunk of selected finds column by column (index i of every list is one find): the
    writers walk the columns they need instead of an object per find."""

    uuids: list[str]
    datas: list[dict[str, Any]]  # the wire data
    statuses: list[str | None]
    register_numbers: list[str | None]
    flags: list[tuple[str, ...]]
    lons: list[float]  # WGS 84
    lats: list[float]
    xs: list[float]  # in the export's CRS
    ys: list[float]

    def __len__(self) -> int:
        return len(self.uuids)

    def features(self) -> Iterator[FindFeature]:
        columns = (self.uuids, self.datas, self.statuses, self.register_numbers, self.flags)
        for uuid, data, status, number, flags, x, y in zip(*columns, self.xs, self.ys, strict=True):
            yield FindFeature(uuid, data, status, number, flags, x, y)


@dataclass(frozen=True)
class SiteFeature:
    code: str
    name: str
    geometry: BaseGeometry  # WGS 84
    projected: BaseGeometry  # the export's CRS


@dataclass(frozen=True)
class TrenchFeature:
    site_code: str | None
    trench: str
    find_count: int
    geometry: BaseGeometry
    projected: BaseGeometry


@dataclass(frozen=True)
class TrackFeature:
    uuid: str
    kind: str  # track | route | waypoints
    name: str | None
    source_file: str
    points: list[list[Any]]  # the wire's [lon, lat, ele?, time?, name?]
    projected: BaseGeometry | None  # a LineString in the export's CRS; None for waypoints


class ExportSource(Protocol):
    """What a format writer reads. ``trenches`` is complete once ``find_chunks`` is spent."""

    header: ExportHeader

    def sites(self) -> list[SiteFeature]: ...

    def find_chunks(self) -> Iterator[FindChunk]: ...

    def trenches(self) -> list[TrenchFeature]: ...

    def tracks(self) -> Iterator[TrackFeature]: ...


def trench_outline(lons: list[float], lats: list[float]) -> BaseGeometry:
    """The derived outline of a trench (WGS 84) from its finds' positions."""
    centre_lon, centre_lat = float(np.mean(lons)), float(np.mean(lats))
    plane = crs_module.local_metric(round(centre_lon, 6), round(centre_lat, 6))
    xs, ys = plane.transform(np.asarray(lons), np.asarray(lats))
    points = MultiPoint(np.column_stack([xs, ys]))
    if len(set(zip(lons, lats, strict=True))) >= 3:
        outline = points.convex_hull.buffer(TRENCH_MARGIN_M)
    else:
        outline = points.envelope.buffer(TRENCH_MARGIN_M, join_style="mitre")
    return shapely.transform(
        outline,
        lambda xy: np.column_stack(plane.transform(xy[:, 0], xy[:, 1], direction="INVERSE")),
    )


@dataclass
class TrenchCollector:
    """Gathers the positions of each (site, trench) while finds stream past."""

    positions: dict[tuple[str | None, str], tuple[list[float], list[float]]] = field(
        default_factory=dict
    )

    def add_chunk(self, datas: list[dict[str, Any]], lons: list[float], lats: list[float]) -> None:
        positions = self.positions
        for data, lon, lat in zip(datas, lons, lats, strict=True):
            trench = data.get("trench")
            if trench:
                key = (data.get("site_code"), trench)
                found = positions.get(key)
                if found is None:
                    found = positions[key] = ([], [])
                found[0].append(lon)
                found[1].append(lat)

    def trenches(self, epsg: int) -> list[TrenchFeature]:
        found = []
        for (site_code, trench), (lons, lats) in sorted(
            self.positions.items(), key=lambda item: (item[0][0] or "", item[0][1])
        ):
            outline = trench_outline(lons, lats)
            found.append(
                TrenchFeature(
                    site_code,
                    trench,
                    len(lons),
                    outline,
                    crs_module.project_geometry(epsg, outline),
                )
            )
        return found


def track_line(points: list[list[Any]]) -> LineString | None:
    """A track's or route's line in WGS 84, or None with fewer than two points."""
    if len(points) < 2:
        return None
    return LineString([(float(p[0]), float(p[1])) for p in points])
