"""GeoJSON (RFC 7946): WGS 84 lon/lat, right-hand rings, no ``crs`` member, written a feature
at a time so memory does not grow with the number of finds."""

from __future__ import annotations

import math
from collections.abc import Iterator
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from field_server.domain.export_layers import (
    STATE_COLUMNS,
    ExportSource,
    FindObjectChunk,
    json_text,
)

DECIMALS = 8  # about a millimetre in degrees


# A find's feature: the sheet's JSON object of its OBJECT_COLUMNS after the layer's name, then
# the record's state and the point; %r of a float is its repr, what json writes for it.
_FEATURE_HEAD = b'{"type":"Feature","properties":{"layer":"find",'
_FEATURE_TAIL = (
    "".join(f",{json_text(name)}:%s" for name in STATE_COLUMNS)
    + '},"geometry":{"type":"Point","coordinates":[%r,%r]}}'
)


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)  # type: ignore[no-any-return]


def find_features(chunk: FindObjectChunk) -> bytes:
    """The finds of a chunk as GeoJSON Feature texts, one a line, joined by commas."""
    if not all(map(math.isfinite, chunk.lons)) or not all(map(math.isfinite, chunk.lats)):
        raise ValueError("a find holds a position JSON cannot carry")
    head, tail = _FEATURE_HEAD, _FEATURE_TAIL
    return b",\n".join(
        [
            head
            + properties[1:-1]
            + (tail % (*map(_text, state), round(lon, DECIMALS), round(lat, DECIMALS))).encode()
            for properties, state, lon, lat in zip(
                chunk.objects, chunk.states, chunk.lons, chunk.lats, strict=True
            )
        ]
    )


def geometry_json(geometry: BaseGeometry) -> dict[str, Any]:
    """RFC 7946 geometry: exteriors counterclockwise, holes clockwise, coordinates rounded."""
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    rounded = shapely.transform(oriented, lambda xy: np.round(xy, DECIMALS))
    return mapping(rounded)


def write_geojson(source: ExportSource, *, bom: bool = False) -> Iterator[bytes]:
    header = source.header
    metadata = {
        "expedition_code": header.expedition_code,
        "expedition_title": header.expedition_title,
        "exported_at": header.exported_at.isoformat(),
        "filters": header.filters,
        "crs": "WGS 84 (EPSG:4326), longitude and latitude (RFC 7946)",
        "datum_transformation": header.crs.shift.describe(),
        "trenches": "outline derived from the trench's finds: convex hull grown by 1 m",
    }
    # a foreign member: RFC 7946 §6.1 lets readers ignore it
    yield ('{"type":"FeatureCollection","qazba":' + json_text(metadata) + ',"features":[').encode()
    first = True

    def feature(properties: dict[str, Any], geometry: dict[str, Any]) -> bytes:
        nonlocal first
        text = ("" if first else ",\n") + json_text(
            {"type": "Feature", "properties": properties, "geometry": geometry}
        )
        first = False
        return text.encode("utf-8")

    for site in source.sites():
        yield feature(
            {"layer": "site", "site_code": site.code, "name": site.name},
            geometry_json(site.geometry),
        )
    for chunk in source.find_objects():
        if not len(chunk):
            continue
        yield (b"" if first else b",\n") + find_features(chunk)
        first = False
    for trench in source.trenches():
        yield feature(
            {
                "layer": "trench",
                "site_code": trench.site_code,
                "trench": trench.trench,
                "find_count": trench.find_count,
            },
            geometry_json(trench.geometry),
        )
    for track in source.tracks():
        points = [
            [round(float(p[0]), DECIMALS), round(float(p[1]), DECIMALS)] for p in track.points
        ]
        if track.kind == "waypoints" or len(points) < 2:
            if not points:
                continue
            geometry: dict[str, Any] = {"type": "MultiPoint", "coordinates": points}
        else:
            geometry = {"type": "LineString", "coordinates": points}
        yield feature(
            {
                "layer": "track",
                "uuid": track.uuid,
                "kind": track.kind,
                "name": track.name,
                "source_file": track.source_file,
                "point_count": len(points),
            },
            geometry,
        )
    yield b"\n]}\n"
