"""What an export holds, format aside: finds, sites, trenches and tracks in the chosen CRS.

Trenches have no geometry of their own in the field record: a trench's outline is derived from
its finds, the convex hull grown by 1 m (so a trench with finds along one wall still has an
area), or, with finds at fewer than three distinct places, their bounding box grown by 1 m.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Polygon
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


# What every export writes of a find, in one order: (column, source, kind). The source is a
# dotted member of the find's wire data or ``record.<column>`` of the stored record; kinds:
# text, integer, real, words (a list of strings, space-separated) and codes (the flags' codes).
FIND_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("find_number", "find_number", "text"),
    ("uuid", "record.uuid", "text"),
    ("survey_uuid", "survey_uuid", "text"),
    ("site_code", "site_code", "text"),
    ("trench", "trench", "text"),
    ("context", "context", "text"),
    ("kind", "kind", "text"),
    ("material", "material", "text"),
    ("object_name", "object_name", "text"),
    ("description", "description", "text"),
    ("quantity", "quantity", "integer"),
    ("weight_g", "weight_g", "real"),
    ("length_mm", "length_mm", "real"),
    ("width_mm", "width_mm", "real"),
    ("height_mm", "height_mm", "real"),
    ("condition", "condition", "text"),
    ("elevation_m", "position.elevation_m", "real"),
    ("depth_m", "position.depth_m", "real"),
    ("horizontal_accuracy_m", "position.horizontal_accuracy_m", "real"),
    ("vertical_accuracy_m", "position.vertical_accuracy_m", "real"),
    ("method", "position.method", "text"),
    ("found_on", "found_on", "text"),
    ("recorded_at", "recorded_at", "text"),
    ("recorded_by", "recorded_by", "text"),
    ("photos", "photos", "words"),
    ("notes", "notes", "text"),
    ("status", "record.status", "text"),
    ("register_number", "record.register_number", "text"),
    ("flags", "record.flags", "codes"),
)
COLUMN_NAMES = tuple(name for name, _, _ in FIND_COLUMNS)
COLUMN_INDEX = {name: index for index, name in enumerate(COLUMN_NAMES)}
# The columns taken from the find's wire data, which the find sheet keeps flat (the others are
# the record's own columns): what an export reads without parsing a find's JSON.
SHEET_COLUMNS = tuple(column for column in FIND_COLUMNS if not column[1].startswith("record."))
# The sheet also keeps, as one JSON object, the columns that lead FIND_COLUMNS and never change
# without the find's data (find_number to notes, the uuid among them): a JSON export writes it
# as it is and adds the record's state, the columns after them, which museum decisions change.
STATE_COLUMNS = ("status", "register_number", "flags")
OBJECT_COLUMNS = COLUMN_NAMES[: -len(STATE_COLUMNS)]
if COLUMN_NAMES[-len(STATE_COLUMNS) :] != STATE_COLUMNS:
    raise AssertionError("FIND_COLUMNS must end with the record's state")
# compact UTF-8 JSON as every JSON export writes it (no NaN: JSON has none)
json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "real":
        return float(value)
    if kind == "integer":
        return int(value)
    if kind == "words":
        return " ".join(value) or None
    if kind == "codes":
        return " ".join(flag["code"] for flag in value) or None
    return value


def _member(data: Mapping[str, Any], source: str) -> Any:
    value: Any = data
    for key in source.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _words(value: Any) -> str | None:
    return " ".join(value) or None


_CONVERT: dict[str, Any] = {"text": None, "real": float, "integer": int, "words": _words}
# sheet_row's way through the wire data, worked out once: (column, top-level key or None for a
# member of ``position``, the member, the conversion); the uuid is the record's
_SHEET_PLAN = tuple(
    (name, None if source.startswith("position.") else source,
     source.removeprefix("position."), _CONVERT[kind])
    for name, source, kind in FIND_COLUMNS
    if name in OBJECT_COLUMNS and name != "uuid"
)  # fmt: skip


def sheet_row(uuid: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A find's row of the find sheet: its SHEET_COLUMNS values and WGS 84 position, flat, and
    its OBJECT_COLUMNS as one JSON object (``object_json``); written beside the record
    whenever its data changes, so it is kept to a few microseconds a find."""
    position = data["position"]
    values: dict[str, Any] = {}
    for name, key, member, convert in _SHEET_PLAN:
        value = data.get(key) if key is not None else position.get(member)
        if value is not None and convert is not None:
            value = convert(value)
        values[name] = value
        if name == "find_number":
            values["uuid"] = uuid  # the second column
    text = json_text(values)
    values["lon"], values["lat"] = float(position["lon"]), float(position["lat"])
    values["object_json"] = text
    return values


def find_row(record: dict[str, Any], data: dict[str, Any]) -> tuple[Any, ...]:
    """A find's FIND_COLUMNS values from its stored record (``uuid``, ``status``,
    ``register_number``, ``flags``) and wire data: what an export reads of it, written out
    for readers and tests."""
    return tuple(
        _value(kind, record.get(source.removeprefix("record.")))
        if source.startswith("record.")
        else _value(kind, _member(data, source))
        for _, source, kind in FIND_COLUMNS
    )


@dataclass(frozen=True)
class FindFeature:
    """One find, its values by column name (photos and flags as space-separated text)."""

    values: dict[str, Any]
    lon: float  # WGS 84
    lat: float
    x: float  # in the export's CRS
    y: float

    def __getitem__(self, column: str) -> Any:
        return self.values[column]


@dataclass(frozen=True)
class FindChunk:
    """A chunk of selected finds: ``rows`` hold each find's values of the columns ``names``
    (FIND_COLUMNS unless a writer asked for fewer), then its WGS 84 lon and lat, as the
    database hands them over; the other lists the same finds' site, trench and position.
    Writers read the columns they need; nothing is built per find in vain."""

    rows: Sequence[Sequence[Any]]
    site_codes: list[str | None]
    trenches: list[str | None]
    lons: list[float]  # WGS 84
    lats: list[float]
    xs: list[float]  # in the export's CRS
    ys: list[float]
    names: tuple[str, ...] = COLUMN_NAMES

    @classmethod
    def of_rows(
        cls, rows: Sequence[Sequence[Any]], epsg: int, names: Sequence[str] = COLUMN_NAMES
    ) -> FindChunk:
        """The chunk of rows holding the columns ``names`` (``site_code`` and ``trench`` among
        them), then lon and lat; positions projected to ``epsg``."""
        names = tuple(names)
        site, trench = names.index("site_code"), names.index("trench")
        lons = [row[-2] for row in rows]
        lats = [row[-1] for row in rows]
        xs, ys = crs_module.project(epsg, lons, lats)
        return cls(
            rows,
            [row[site] for row in rows],
            [row[trench] for row in rows],
            lons,
            lats,
            xs.tolist(),
            ys.tolist(),
            names,
        )

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        index = self.names.index(name)
        return [row[index] for row in self.rows]

    def columns(self) -> list[tuple[Any, ...]]:
        """The values a column at a time, in the order of ``names`` (the position left out)."""
        return list(zip(*self.rows, strict=True))[: len(self.names)]

    def features(self) -> Iterator[FindFeature]:
        width = len(self.names)
        for row, lon, lat, x, y in zip(
            self.rows, self.lons, self.lats, self.xs, self.ys, strict=True
        ):
            yield FindFeature(dict(zip(self.names, row[:width], strict=True)), lon, lat, x, y)


@dataclass(frozen=True)
class FindObjectChunk:
    """A chunk of selected finds for a JSON format: ``objects`` hold each find's OBJECT_COLUMNS
    as one JSON object (UTF-8 bytes, keys in column order), ``states`` its STATE_COLUMNS
    values; then its WGS 84 position."""

    objects: list[bytes]
    states: list[tuple[Any, ...]]
    lons: list[float]
    lats: list[float]

    def __len__(self) -> int:
        return len(self.objects)


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
    """What a format writer reads. ``trenches`` is complete once ``find_chunks`` or
    ``find_objects`` is spent."""

    header: ExportHeader

    def sites(self) -> list[SiteFeature]: ...

    def find_chunks(self, names: Sequence[str] = COLUMN_NAMES) -> Iterator[FindChunk]: ...

    def find_objects(self) -> Iterator[FindObjectChunk]: ...

    def trenches(self) -> list[TrenchFeature]: ...

    def tracks(self) -> Iterator[TrackFeature]: ...


def trench_outline(
    lons: Sequence[float],
    lats: Sequence[float],
    centre: tuple[float, float] | None = None,
    three_places: bool | None = None,
) -> BaseGeometry:
    """The derived outline of a trench (WGS 84) from its finds' positions.

    ``centre`` places the local plane the outline is drawn in (by default the positions' mean)
    and ``three_places`` says whether the finds lie at three or more distinct positions (by
    default counted from those given): a caller that kept only the positions on the hull
    passes both, as they are facts of all the finds.
    """
    if centre is None:
        centre = (float(np.mean(lons)), float(np.mean(lats)))
    if three_places is None:
        three_places = len(set(zip(lons, lats, strict=True))) >= 3
    plane = crs_module.local_metric(round(centre[0], 6), round(centre[1], 6))
    xs, ys = plane.transform(np.asarray(lons), np.asarray(lats))
    points = MultiPoint(np.column_stack([xs, ys]))
    if three_places:
        outline = points.convex_hull.buffer(TRENCH_MARGIN_M)
    else:
        # one or two places: a box, square-ended also when the finds lie on one line or point
        box = points.envelope
        outline = box.buffer(TRENCH_MARGIN_M, cap_style="square", join_style="mitre")
    return shapely.transform(
        outline,
        lambda xy: np.column_stack(plane.transform(xy[:, 0], xy[:, 1], direction="INVERSE")),
    )


# A trench's gathered positions are cut down to its hull's corners past this many, so that a
# collector holds a few thousand positions a trench however many finds stream past.
_KEEP_AT_MOST = 4096


@dataclass
class _TrenchFinds:
    """What a trench's outline needs of its finds: their number, their positions' sums (for the
    centre), up to three distinct positions, and the positions that may lie on the hull."""

    count: int = 0
    sum_lon: float = 0.0
    sum_lat: float = 0.0
    lons: list[float] = field(default_factory=list)
    lats: list[float] = field(default_factory=list)
    places: set[tuple[float, float]] = field(default_factory=set)

    def add(self, lons: list[float], lats: list[float]) -> None:
        self.count += len(lons)
        self.sum_lon += math.fsum(lons)
        self.sum_lat += math.fsum(lats)
        self.lons += lons
        self.lats += lats
        for place in zip(lons, lats, strict=True):
            if len(self.places) >= 3:
                break
            self.places.add(place)
        if len(self.lons) > _KEEP_AT_MOST:
            # only the hull's corners shape the outline: a point inside the hull in degrees is
            # inside it in the trench's metric plane too, the few metres across being flat
            hull = MultiPoint(np.column_stack([self.lons, self.lats])).convex_hull
            corners = hull.exterior.coords[:-1] if isinstance(hull, Polygon) else hull.coords
            self.lons = [float(x) for x, _ in corners]
            self.lats = [float(y) for _, y in corners]

    def outline(self) -> BaseGeometry:
        centre = (self.sum_lon / self.count, self.sum_lat / self.count)
        return trench_outline(self.lons, self.lats, centre, len(self.places) >= 3)


@dataclass
class TrenchCollector:
    """Gathers the positions of each (site, trench) while finds stream past, in memory that
    does not grow with the number of finds."""

    gathered: dict[tuple[str | None, str], _TrenchFinds] = field(default_factory=dict)

    def add(
        self,
        site_codes: Sequence[str | None],
        trenches: Sequence[str | None],
        lons: Sequence[float],
        lats: Sequence[float],
    ) -> None:
        """The positions of a chunk of finds, with each find's site and trench."""
        chunk: dict[tuple[str | None, str], tuple[list[float], list[float]]] = {}
        for site_code, trench, lon, lat in zip(site_codes, trenches, lons, lats, strict=True):
            if trench:
                found = chunk.get((site_code, trench))
                if found is None:
                    found = chunk[(site_code, trench)] = ([], [])
                found[0].append(lon)
                found[1].append(lat)
        for key, (trench_lons, trench_lats) in chunk.items():
            finds = self.gathered.get(key)
            if finds is None:
                finds = self.gathered[key] = _TrenchFinds()
            finds.add(trench_lons, trench_lats)

    def trenches(self, epsg: int) -> list[TrenchFeature]:
        found = []
        for (site_code, trench), finds in sorted(
            self.gathered.items(), key=lambda item: (item[0][0] or "", item[0][1])
        ):
            outline = finds.outline()
            found.append(
                TrenchFeature(
                    site_code,
                    trench,
                    finds.count,
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
