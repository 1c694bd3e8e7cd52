"""GeoPackage 1.3 (OGC 12-128r18) written with the standard library's sqlite3.

A GeoPackage is a plain SQLite database with three metadata tables and geometry blobs (a short
header and the ISO WKB that shapely writes), so no GDAL stack is needed on the server. Layers:
finds (POINT), sites (MULTIPOLYGON), trenches (POLYGON, derived from finds), tracks (GEOMETRY:
lines for tracks and routes, MULTIPOINT for waypoint sets), all in the export's CRS. Each
layer has the R-tree spatial index of the standard's extension F.3 (``gpkg_rtree_index``), so
QGIS and GDAL read the part of a 100,000-find layer in view without scanning every feature.
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
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""
LAYERS = ("finds", "sites", "trenches", "tracks")
GEOMETRY_COLUMN = "geom"
# the definition GDAL writes for GeoPackage 1.2 and later: the extension is the same in 1.3
RTREE_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"
# The triggers of extension F.3 that keep the index in step with edits. The file is written
# once here, but people edit it in QGIS (moving a find, deleting a double entry), and GDAL
# leaves the index to these triggers: without them an edited feature would drop out of every
# spatial filter, map view included. The ST_ functions they call are the ones GDAL and other
# GeoPackage readers provide; Python's sqlite3 has none, so the triggers come last, once every
# row and its index entry are written.
_RTREE_TRIGGERS = """
CREATE TRIGGER "{rtree}_insert" AFTER INSERT ON "{t}"
WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN
  INSERT OR REPLACE INTO "{rtree}" VALUES (NEW."fid",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}"));
END;
CREATE TRIGGER "{rtree}_update1" AFTER UPDATE OF "{c}" ON "{t}"
WHEN OLD."fid" = NEW."fid" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN
  INSERT OR REPLACE INTO "{rtree}" VALUES (NEW."fid",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}"));
END;
CREATE TRIGGER "{rtree}_update2" AFTER UPDATE OF "{c}" ON "{t}"
WHEN OLD."fid" = NEW."fid" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN
  DELETE FROM "{rtree}" WHERE id = OLD."fid";
END;
CREATE TRIGGER "{rtree}_update3" AFTER UPDATE ON "{t}"
WHEN OLD."fid" != NEW."fid" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN
  DELETE FROM "{rtree}" WHERE id = OLD."fid";
  INSERT OR REPLACE INTO "{rtree}" VALUES (NEW."fid",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}"));
END;
CREATE TRIGGER "{rtree}_update4" AFTER UPDATE ON "{t}"
WHEN OLD."fid" != NEW."fid" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN
  DELETE FROM "{rtree}" WHERE id IN (OLD."fid", NEW."fid");
END;
CREATE TRIGGER "{rtree}_delete" AFTER DELETE ON "{t}"
WHEN old."{c}" NOT NULL
BEGIN
  DELETE FROM "{rtree}" WHERE id = OLD."fid";
END;
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
        for table in LAYERS:
            _rtree_triggers(connection, table)
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
        f"{GEOMETRY_COLUMN} {geometry_type}, {defined})"
    )
    connection.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
        "VALUES (?, 'features', ?, ?, ?)",
        (table, table, description, srs_id),
    )
    connection.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
        (table, GEOMETRY_COLUMN, geometry_type, srs_id),
    )
    connection.execute(
        f'CREATE VIRTUAL TABLE "{rtree_name(table)}" USING rtree(id, minx, maxx, miny, maxy)'
    )
    connection.execute(
        "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', ?, 'write-only')",
        (table, GEOMETRY_COLUMN, RTREE_DEFINITION),
    )


def rtree_name(table: str) -> str:
    """The R-tree of a layer's geometry column, named as extension F.3 requires."""
    return f"rtree_{table}_{GEOMETRY_COLUMN}"


def _index(connection: sqlite3.Connection, table: str, entries: Iterable[Sequence[float]]) -> None:
    """Add (fid, minx, maxx, miny, maxy) rows to the layer's R-tree: the envelopes are already
    at hand in Python, and the triggers' ST_ functions are not (see _RTREE_TRIGGERS)."""
    connection.executemany(f'INSERT INTO "{rtree_name(table)}" VALUES (?, ?, ?, ?, ?)', entries)


def _rtree_triggers(connection: sqlite3.Connection, table: str) -> None:
    script = _RTREE_TRIGGERS.format(rtree=rtree_name(table), t=table, c=GEOMETRY_COLUMN)
    for statement in script.split("END;"):
        if statement.strip():
            connection.execute(statement + "END")


def _envelope_entry(fid: int, geometry: BaseGeometry) -> tuple[int, float, float, float, float]:
    min_x, min_y, max_x, max_y = geometry.bounds
    return fid, min_x, max_x, min_y, max_y


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
        f"INSERT INTO finds (fid, geom, {', '.join(chr(34) + n + chr(34) for n, _ in columns)}) "
        f"VALUES ({', '.join('?' * (len(columns) + 2))})"
    )
    extent = _Extent()
    # a point's blob: the GeoPackage header without envelope (a point is its own), then WKB
    # Point; everything but the two coordinates is the same for every find
    head = struct.pack("<2sBBi", b"GP", 0, _LITTLE_ENDIAN, srs_id) + struct.pack("<BI", 1, 1)
    pack_xy = struct.Struct("<dd").pack
    # fids are given, not left to AUTOINCREMENT, so the index rows can be written alongside
    first_fid = 1
    for chunk in source.find_chunks():
        if not len(chunk):
            continue
        xs, ys = chunk.xs, chunk.ys
        fids = range(first_fid, first_fid + len(chunk))
        first_fid += len(chunk)
        connection.executemany(
            sql,
            [
                (fid, head + pack_xy(x, y), *row)  # the row ends with lon and lat
                for fid, row, x, y in zip(fids, chunk.rows, xs, ys, strict=True)
            ],
        )
        # a point is its own envelope
        _index(connection, "finds", zip(fids, xs, xs, ys, ys, strict=True))
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
    entries = []
    for fid, site in enumerate(source.sites(), start=1):
        geometry = site.projected
        if isinstance(geometry, Polygon):
            geometry = MultiPolygon([geometry])
        extent.add(geometry.bounds)
        if not geometry.is_empty:  # the index holds non-empty geometries only
            entries.append(_envelope_entry(fid, geometry))
        connection.execute(
            "INSERT INTO sites (fid, geom, site_code, name) VALUES (?, ?, ?, ?)",
            (fid, geometry_blob(srs_id, geometry), site.code, site.name),
        )
    _index(connection, "sites", entries)
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
    entries = []
    for fid, trench in enumerate(source.trenches(), start=1):
        extent.add(trench.projected.bounds)
        entries.append(_envelope_entry(fid, trench.projected))
        connection.execute(
            "INSERT INTO trenches (fid, geom, site_code, trench, find_count) "
            "VALUES (?, ?, ?, ?, ?)",
            (fid, geometry_blob(srs_id, trench.projected), trench.site_code, trench.trench,
             trench.find_count),
        )  # fmt: skip
    _index(connection, "trenches", entries)
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
    entries = []
    fid = 0
    for track in source.tracks():
        geometry = track.projected
        if geometry is None:
            if not track.points:
                continue
            lons = [float(p[0]) for p in track.points]
            lats = [float(p[1]) for p in track.points]
            xs, ys = crs_module.project(srs_id, lons, lats)
            geometry = MultiPoint(list(zip(xs.tolist(), ys.tolist(), strict=True)))
        fid += 1
        extent.add(geometry.bounds)
        if not geometry.is_empty:  # the index holds non-empty geometries only
            entries.append(_envelope_entry(fid, geometry))
        connection.execute(
            "INSERT INTO tracks (fid, geom, uuid, kind, name, source_file, point_count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (fid, geometry_blob(srs_id, geometry), track.uuid, track.kind, track.name,
             track.source_file, len(track.points)),
        )  # fmt: skip
    _index(connection, "tracks", entries)
    _set_extent(connection, "tracks", extent)
