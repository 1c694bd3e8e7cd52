"""GeoJSON (RFC 7946): WGS 84 lon/lat, right-hand rings, no ``crs`` member, written a feature
at a time so memory does not grow with the number of finds."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from field_server.adapters.exports.fields import COLUMN_NAMES
from field_server.domain.export_layers import JSON_READY, ExportSource, FindChunk

DECIMALS = 8  # about a millimetre in degrees


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_dumps = _ENCODER.encode
# A find's feature is this template filled with its values already in JSON: the keys are the
# same for every find, so they are written once here instead of encoded a hundred thousand times.
_FIND_FEATURE = (
    '{"type":"Feature","properties":{"layer":"find",'
    + ",".join(f"{_dumps(name)}:%s" for name in COLUMN_NAMES)
    + '},"geometry":{"type":"Point","coordinates":[%s,%s]}}'
)


def _finite(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("a find holds a number JSON cannot carry")
    return float.__repr__(value)  # what json writes for a float


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)  # type: ignore[no-any-return]


# The columns the database does not hand over as JSON (JSON_READY), each with its encoder:
# only these few are encoded here, a handful of calls per find instead of one per column.
_ENCODE_HERE: tuple[tuple[int, Callable[[Any], str]], ...] = tuple(
    (index, encode_basestring if name == "uuid" else _text)
    for index, (name, ready) in enumerate(zip(COLUMN_NAMES, JSON_READY, strict=True))
    if not ready
)


def find_features(chunk: FindChunk) -> list[str]:
    """The finds of a chunk read ``as_json`` as GeoJSON Feature texts."""
    features = []
    for row, lon, lat in zip(chunk.rows, chunk.lons, chunk.lats, strict=True):
        values = list(row)
        for index, encode in _ENCODE_HERE:
            values[index] = encode(values[index])
        values.append(_finite(round(lon, DECIMALS)))
        values.append(_finite(round(lat, DECIMALS)))
        features.append(_FIND_FEATURE % tuple(values))
    return features


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
    yield ('{"type":"FeatureCollection","qazba":' + _dumps(metadata) + ',"features":[').encode()
    first = True

    def feature(properties: dict[str, Any], geometry: dict[str, Any]) -> bytes:
        nonlocal first
        text = ("" if first else ",\n") + _dumps(
            {"type": "Feature", "properties": properties, "geometry": geometry}
        )
        first = False
        return text.encode("utf-8")

    for site in source.sites():
        yield feature(
            {"layer": "site", "site_code": site.code, "name": site.name},
            geometry_json(site.geometry),
        )
    for chunk in source.find_chunks(as_json=True):
        if not len(chunk):
            continue
        texts = find_features(chunk)
        yield (("" if first else ",\n") + ",\n".join(texts)).encode("utf-8")
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
