"""GeoPackage 1.3 (OGC 12-128r18) written with the standard library's sqlite3.

A GeoPackage is a plain SQLite database with three metadata tables and geometry blobs (a short
header and the ISO WKB that shapely writes), so no GDAL stack is needed on the server. Layers:
finds (POINT), sites (MULTIPOLYGON), trenches (POLYGON, derived from finds), tracks (GEOMETRY:
lines for tracks and routes, MULTIPOINT for waypoint sets), all in the export's CRS.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from field_core.geo import crs as crs_module
from field_server.adapters.exports.fields import COLUMN_NAMES, INTEGER_COLUMNS, REAL_COLUMNS
from field_server.domain.export_layers import ExportSource

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # 1.3.0
_LITTLE_ENDIAN = 1
_ENVELOPE_XY = 1 << 1  # envelope contents indicator 1: [minx, maxx, miny, maxy]

_CORE_TABLES = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""


def geometry_blob(srs_id: int, geometry: BaseGeometry) -> bytes:
    min_x, min_y, max_x, max_y = geometry.bounds
    header = struct.pack(
        "<2sBBi4d", b"GP", 0, _ENVELOPE_XY | _LITTLE_ENDIAN, srs_id, min_x, max_x, min_y, max_y
    )
    return header + shapely.to_wkb(geometry, output_dimension=2, byte_order=1)


class _Extent:
    def __init__(self) -> None:
        self.box = [math.inf, math.inf, -math.inf, -math.inf]

    def add(self, bounds: Sequence[float]) -> None:
        box = self.box
        box[0], box[1] = min(box[0], bounds[0]), min(box[1], bounds[1])
        box[2], box[3] = max(box[2], bounds[2]), max(box[3], bounds[3])

    def values(self) -> list[float | None]:
        return [None if math.isinf(v) else v for v in self.box]


def write_geopackage(source: ExportSource, path: Path) -> None:
    """Write the export as a new GeoPackage at ``path`` (which must not exist yet)."""
    header = source.header
    info = header.crs
    srs_id = info.epsg
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version={USER_VERSION}")
        connection.execute("BEGIN")
        for statement in _CORE_TABLES.split(";"):
            if statement.strip():
                connection.execute(statement)
        _spatial_ref_sys(connection, srs_id)
        note = f"{header.expedition_code}: {header.note}"
        _finds(connection, source, srs_id, note)
        _sites(connection, source, srs_id, note)
        _trenches(connection, source, srs_id, note)
        _tracks(connection, source, srs_id, note)
        connection.execute("COMMIT")
    finally:
        connection.close()


def _spatial_ref_sys(connection: sqlite3.Connection, srs_id: int) -> None:
    # the two rows the standard requires besides WGS 84 (requirement 11)
    rows: list[tuple[Any, ...]] = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian CRS"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic CRS"),
    ]
    for epsg in sorted({crs_module.WGS84, srs_id}):
        info = crs_module.crs_info(epsg)
        rows.append((info.name, epsg, "EPSG", epsg, info.wkt, info.metadata_note()))
    connection.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows)


def _layer(
    connection: sqlite3.Connection,
    table: str,
    geometry_type: str,
    columns: Iterable[tuple[str, str]],
    srs_id: int,
    description: str,
) -> None:
    defined = ", ".join(f'"{name}" {kind}' for name, kind in columns)
    connection.execute(
        f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
        f"geom {geometry_type}, {defined})"
    )
    connection.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
        "VALUES (?, 'features', ?, ?, ?)",
        (table, table, description, srs_id),
    )
    connection.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
        (table, geometry_type, srs_id),
    )


def _set_extent(connection: sqlite3.Connection, table: str, extent: _Extent) -> None:
    connection.execute(
        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
        (*extent.values(), table),
    )


def _kind(column: str) -> str:
    if column in INTEGER_COLUMNS:
        return "INTEGER"
    if column in REAL_COLUMNS:
        return "REAL"
    return "TEXT"


def _finds(connection: sqlite3.Connection, source: ExportSource, srs_id: int, note: str) -> None:
    columns = [(name, _kind(name)) for name in COLUMN_NAMES] + [("lon", "REAL"), ("lat", "REAL")]
    _layer(connection, "finds", "POINT", columns, srs_id, f"Finds. {note}")
    sql = (
        f"INSERT INTO finds (geom, {', '.join(chr(34) + n + chr(34) for n, _ in columns)}) "
        f"VALUES ({', '.join('?' * (len(columns) + 1))})"
    )
    extent = _Extent()
    # a point's blob: the GeoPackage header without envelope (a point is its own), then WKB
    # Point; everything but the two coordinates is the same for every find
    head = struct.pack("<2sBBi", b"GP", 0, _LITTLE_ENDIAN, srs_id) + struct.pack("<BI", 1, 1)
    pack_xy = struct.Struct("<dd").pack
    for chunk in source.find_chunks():
        if not len(chunk):
            continue
        xs, ys = chunk.xs, chunk.ys
        connection.executemany(
            sql,
            [
                (head + pack_xy(x, y), *row)  # the row ends with lon and lat
                for row, x, y in zip(chunk.rows, xs, ys, strict=True)
            ],
        )
        extent.add((min(xs), min(ys), max(xs), max(ys)))
    _set_extent(connection, "finds", extent)


def _sites(connection: sqlite3.Connection, source: ExportSource, srs_id: int, note: str) -> None:
    _layer(
        connection,
        "sites",
        "MULTIPOLYGON",
        [("site_code", "TEXT"), ("name", "TEXT")],
        srs_id,
        f"Site boundaries. {note}",
    )
    extent = _Extent()
    for site in source.sites():
        geometry = site.projected
        if isinstance(geometry, Polygon):
            geometry = MultiPolygon([geometry])
        extent.add(geometry.bounds)
        connection.execute(
            "INSERT INTO sites (geom, site_code, name) VALUES (?, ?, ?)",
            (geometry_blob(srs_id, geometry), site.code, site.name),
        )
    _set_extent(connection, "sites", extent)


def _trenches(connection: sqlite3.Connection, source: ExportSource, srs_id: int, note: str) -> None:
    _layer(
        connection,
        "trenches",
        "POLYGON",
        [("site_code", "TEXT"), ("trench", "TEXT"), ("find_count", "INTEGER")],
        srs_id,
        f"Trench outlines derived from their finds (convex hull grown by 1 m). {note}",
    )
    extent = _Extent()
    for trench in source.trenches():
        extent.add(trench.projected.bounds)
        connection.execute(
            "INSERT INTO trenches (geom, site_code, trench, find_count) VALUES (?, ?, ?, ?)",
            (geometry_blob(srs_id, trench.projected), trench.site_code, trench.trench,
             trench.find_count),
        )  # fmt: skip
    _set_extent(connection, "trenches", extent)


def _tracks(connection: sqlite3.Connection, source: ExportSource, srs_id: int, note: str) -> None:
    _layer(
        connection,
        "tracks",
        "GEOMETRY",
        [("uuid", "TEXT"), ("kind", "TEXT"), ("name", "TEXT"), ("source_file", "TEXT"),
         ("point_count", "INTEGER")],
        srs_id,
        f"GPS tracks, routes and waypoints. {note}",
    )  # fmt: skip
    extent = _Extent()
    for track in source.tracks():
        geometry = track.projected
        if geometry is None:
            if not track.points:
                continue
            lons = [float(p[0]) for p in track.points]
            lats = [float(p[1]) for p in track.points]
            xs, ys = crs_module.project(srs_id, lons, lats)
            geometry = MultiPoint(list(zip(xs.tolist(), ys.tolist(), strict=True)))
        extent.add(geometry.bounds)
        connection.execute(
            "INSERT INTO tracks (geom, uuid, kind, name, source_file, point_count) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (geometry_blob(srs_id, geometry), track.uuid, track.kind, track.name,
             track.source_file, len(track.points)),
        )  # fmt: skip
    _set_extent(connection, "tracks", extent)
