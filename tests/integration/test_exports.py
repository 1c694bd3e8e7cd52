"""Exports through the API on both databases: valid by their standards, and read by GDAL."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pypdf
import pytest
import shapely
from click.testing import CliRunner
from field_core.contract import material_label
from lxml import etree
from PIL import Image
from shapely import wkt
from shapely.geometry import Polygon, mapping, shape
from sqlalchemy import select

from field_core.geo import crs
from field_core.geo.gpx import read_gpx
from field_server import cli
from field_server.adapters.repositories import FindFilter
from field_server.adapters.tables import records
from field_server.domain.export_layers import COLUMN_NAMES, OBJECT_COLUMNS, find_row
from tests import samples
from tests.integration.conftest import World, sample_batch

STANDARD_PLACES = (
    "QAZBA_STANDARDS_DIR",
    "<repository>/../shared/standards",
    "/work/shared/standards",
)


def standards_dir(env: dict[str, str] | None = None) -> Path | None:
    """Where the XSDs and JSON Schemas of the standards are: QAZBA_STANDARDS_DIR if set, else
    the shared folder beside the repository, else /work/shared/standards; None if none is."""
    env = dict(os.environ) if env is None else env
    named = env.get("QAZBA_STANDARDS_DIR")
    if named:
        return Path(named) if Path(named).is_dir() else None
    for place in (
        Path(__file__).resolve().parents[3] / "shared" / "standards",
        Path("/work/shared/standards"),
    ):
        if place.is_dir():
            return place
    return None


def test_the_standards_are_found_where_the_environment_says(tmp_path: Path) -> None:
    assert standards_dir({"QAZBA_STANDARDS_DIR": str(tmp_path)}) == tmp_path
    assert standards_dir({"QAZBA_STANDARDS_DIR": str(tmp_path / "missing")}) is None


@pytest.fixture(scope="module")
def standards() -> Path:
    found = standards_dir()
    if found is not None:
        return found
    reason = f"the standards' schemas are in none of {', '.join(STANDARD_PLACES)}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must validate exports against them")
    pytest.skip(reason)


URL = "/api/v1/expeditions/ULY-2026/export."
DOMBAUYL = "uly-2026-dombauyl"


def dombauyl_batch() -> list[dict[str, Any]]:
    survey = next(s for s in samples.surveys() if s.folder == DOMBAUYL)
    return [json.loads(json.dumps(survey.survey)), *json.loads(json.dumps(survey.finds))]


def uly_batch() -> list[dict[str, Any]]:
    """Every ULY-2026 sample survey with its finds (the planted double entries too)."""
    return [
        json.loads(json.dumps(record))
        for s in samples.surveys()
        if s.expedition_code == "ULY-2026"
        for record in (s.survey, *s.finds)
    ]


@pytest.fixture
def filled(world: World) -> World:
    world.pushed("recorder", uly_batch())
    return world


def dombauyl_tracks() -> list[dict[str, Any]]:
    """The Dombauyl survey's GPS file as a device pushes it: its tracks and its waypoints."""
    survey = next(s for s in samples.surveys() if s.folder == DOMBAUYL)
    gpx = read_gpx(samples.SAMPLE_DIR / DOMBAUYL / "dombauyl-2026-gps.gpx")
    return [
        {"type": "track", "uuid": str(uuid.uuid4()), "base_rev": 0, "rev": 1,
         "data": track.track_data(survey.survey["uuid"])}
        for track in gpx.tracks
    ]  # fmt: skip


@pytest.fixture
def tracked(filled: World) -> World:
    """The ULY-2026 samples with the GPS tracks and waypoints of the Dombauyl survey."""
    filled.pushed("recorder", dombauyl_tracks())
    return filled


def expected_finds(**where: str) -> list[dict[str, Any]]:
    finds = [
        f["data"] for s in samples.surveys() if s.expedition_code == "ULY-2026" for f in s.finds
    ]
    return [f for f in finds if all(f.get(k) == v for k, v in where.items())]


def get(world: World, path: str, who: str = "reviewer") -> Any:
    response = world.client.get(path, headers=world.headers(who), buffered=True)
    return response


def run_ogrinfo(
    path: Path, *options: str, read_only: bool = True
) -> subprocess.CompletedProcess[str]:
    """ogrinfo on every layer of ``path``; its warnings are on stderr."""
    if shutil.which("ogrinfo") is None:
        pytest.fail("ogrinfo is missing: run scripts/install_test_tools.sh")
    return subprocess.run(
        ["ogrinfo", *(["-ro"] if read_only else []), "-al", *options, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def ogrinfo(path: Path, *options: str) -> str:
    return run_ogrinfo(path, *options).stdout


_FIELD = re.compile(r"^  (\S+) \((\w+)\) = (.*)$")
_GEOMETRY = re.compile(r"^  (POINT|LINESTRING|POLYGON|MULTI\w+|GEOMETRYCOLLECTION)\b")


def gdal_layers(path: Path, *options: str) -> dict[str, list[dict[str, Any]]]:
    """Every layer's features as GDAL reads them: ``ogrinfo -al`` text, parsed (GDAL 3.6 on
    Debian has no ``-json``)."""
    layers: dict[str, list[dict[str, Any]]] = {}
    feature: dict[str, Any] | None = None
    last_field = ""
    for line in ogrinfo(path, *options).splitlines():
        if line.startswith("Layer name: "):
            layer = layers.setdefault(line.removeprefix("Layer name: "), [])
            feature = None
        elif line.startswith("OGRFeature("):
            feature = {"properties": {}, "geometry": None}
            layer.append(feature)
        elif feature is not None and (match := _FIELD.match(line)):
            name, kind, value = match.groups()
            last_field = name
            feature["properties"][name] = _typed(kind, value)
        elif feature is not None and _GEOMETRY.match(line):
            feature["geometry"] = mapping(wkt.loads(line.strip()))
        elif feature is not None and line and last_field and not line.startswith("  "):
            # a text value that went on over several lines
            feature["properties"][last_field] += "\n" + line
    return layers


def _typed(kind: str, value: str) -> Any:
    if value == "(null)":
        return None
    if kind in ("Integer", "Integer64"):
        return int(value)
    if kind == "Real":
        return float(value)
    return value


def by_number(features: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["properties"]["find_number"]: f for f in features}


def by_number_and_name(features: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The sample data has a find number typed twice, for two different objects."""
    return {(f["properties"]["find_number"], f["properties"]["object_name"]): f for f in features}


# -- GeoJSON ---------------------------------------------------------------------------


def test_geojson_follows_rfc_7946_and_gdal_reads_every_find(
    filled: World, tmp_path: Path, standards: Path
) -> None:
    response = get(filled, URL + "geojson")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert "filename*=UTF-8''ULY-2026.geojson" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data())
    schema = json.loads((standards / "geojson-schema/FeatureCollection.json").read_text())
    jsonschema.validate(document, schema)
    assert "crs" not in document
    assert "EPSG:15865" not in document["qazba"]["datum_transformation"]
    polygons = 0
    for feature in document["features"]:
        geometry = feature["geometry"]
        rings = []
        if geometry["type"] == "Polygon":
            rings = [geometry["coordinates"]]
        elif geometry["type"] == "MultiPolygon":
            rings = geometry["coordinates"]
        for polygon in rings:
            polygons += 1
            for index, ring in enumerate(polygon):
                assert ring[0] == ring[-1], "a ring is closed"
                # right-hand rule: exteriors counterclockwise, holes clockwise
                assert Polygon(ring).exterior.is_ccw == (index == 0)
    layers = [f["properties"]["layer"] for f in document["features"]]
    assert layers.count("site") == 3 and polygons >= 3 + layers.count("trench")
    assert layers.count("find") == len(expected_finds())
    assert layers.count("trench") >= 2
    path = tmp_path / "finds.geojson"
    path.write_bytes(response.get_data())
    [features] = gdal_layers(path).values()
    assert len(features) == len(document["features"])
    finds = by_number_and_name([f for f in features if f["properties"]["layer"] == "find"])
    for data in expected_finds():
        feature = finds[data["find_number"], data["object_name"]]
        assert feature["properties"]["object_name"] == data["object_name"]
        assert feature["properties"]["material"] == data["material"]
        assert feature["geometry"]["coordinates"] == pytest.approx(
            [data["position"]["lon"], data["position"]["lat"]], abs=1e-8
        )


def test_geojson_refuses_any_crs_but_wgs_84(filled: World) -> None:
    response = get(filled, URL + "geojson?crs=EPSG:32642")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "crs"


# -- CSV -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [crs.UTM_42N, crs.PULKOVO_GK_ZONE_12])
def test_csv_in_a_national_grid_to_the_millimetre(filled: World, tmp_path: Path, code: int) -> None:
    response = get(filled, f"{URL}csv?crs=EPSG:{code}&bom=1&site=DMB")
    assert response.status_code == 200
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    wanted = {d["find_number"]: d for d in expected_finds(site_code="DMB")}
    assert {r["find_number"] for r in rows} == set(wanted)
    for row in rows:
        data = wanted[row["find_number"]]
        x, y = crs.project_point(code, data["position"]["lon"], data["position"]["lat"])
        assert row["x"] == f"{x:.3f}" and row["y"] == f"{y:.3f}"
        assert row["crs"] == f"EPSG:{code}" and row["object_name"] == data["object_name"]
    path = tmp_path / "finds.csv"
    path.write_bytes(body)
    [features] = gdal_layers(
        path, "-oo", "X_POSSIBLE_NAMES=x", "-oo", "Y_POSSIBLE_NAMES=y"
    ).values()
    gdal = by_number(features)
    assert set(gdal) == set(wanted)
    for row in rows:
        assert gdal[row["find_number"]]["geometry"]["coordinates"][:2] == pytest.approx(
            [float(row["x"]), float(row["y"])], abs=0.0005
        )


def test_exports_follow_a_correction_and_a_device_edit(filled: World) -> None:
    """The find sheet is rewritten with the record: a museum correction and a later device
    revision both show in the next export, in its values and its filters."""
    finds = [r for r in uly_batch() if r["type"] == "find"]
    corrected, edited = finds[0], finds[1]
    answer = filled.client.patch(
        f"/api/v1/finds/{corrected['uuid']}",
        json={"weight_g": 30.5, "notes": None, "reason": "reweighed"},
        headers=filled.headers("reviewer"),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    other = "slag" if edited["data"]["material"] != "slag" else "bone"
    revised = json.loads(json.dumps(edited))
    revised["base_rev"], revised["rev"] = revised["rev"], revised["rev"] + 1
    revised["data"]["material"] = other
    revised["data"]["description"] = "Қайта сипатталды, 2-пласт"
    filled.pushed("recorder", [revised])
    body = get(filled, f"{URL}csv").get_data().decode("utf-8")
    rows = {r["uuid"]: r for r in csv.DictReader(io.StringIO(body, newline=""))}
    assert rows[corrected["uuid"]]["weight_g"] == "30.5" and rows[corrected["uuid"]]["notes"] == ""
    assert rows[edited["uuid"]]["material"] == other
    assert rows[edited["uuid"]]["description"] == "Қайта сипатталды, 2-пласт"
    chosen = json.loads(get(filled, f"{URL}geojson?material={other}").get_data())
    uuids = {f["properties"]["uuid"] for f in chosen["features"] if "uuid" in f["properties"]}
    assert edited["uuid"] in uuids


# -- KML and GPX -------------------------------------------------------------------------


def xsd(path: Path) -> etree.XMLSchema:
    # the KML schema imports atom and xAL by relative path: parsed from the file, they resolve
    # from the same folder, never from the network
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def test_kml_is_valid_ogc_kml_2_2_and_gdal_reads_every_find(
    filled: World, tmp_path: Path, standards: Path
) -> None:
    sha = "ab" * 32
    photographed = samples.fresh_find(dombauyl_batch()[1], photos=[sha])["data"]
    filled.pushed("recorder", [samples.fresh_find(dombauyl_batch()[1], photos=[sha])])
    response = get(filled, URL + "kml")
    assert response.status_code == 200
    document = etree.fromstring(response.get_data())
    schema = xsd(standards / "kml22/ogckml22.xsd")
    assert schema.validate(document), schema.error_log
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    folders = [f.findtext("k:name", namespaces=ns) for f in document.iterfind(".//k:Folder", ns)]
    assert any(name.startswith("DMB — ") for name in folders)
    styles = {s.get("id") for s in document.iterfind(".//k:Style", ns)}
    assert {"material-ceramic", "material-slag"} <= styles
    descriptions = [
        p.findtext("k:description", namespaces=ns) for p in document.iterfind(".//k:Placemark", ns)
    ]
    thumb = f'<img src="http://localhost/api/v1/photos/{sha}/thumb"'
    assert sum(thumb in (d or "") for d in descriptions) == 1
    assert photographed["photos"] == [sha]
    path = tmp_path / "finds.kml"
    path.write_bytes(response.get_data())
    placemarks = [f for layer in gdal_layers(path).values() for f in layer]
    names = {f["properties"].get("Name") for f in placemarks}
    assert {d["find_number"] for d in expected_finds()} <= names


def test_gpx_is_valid_gpx_1_1_with_finds_as_waypoints(
    filled: World, tmp_path: Path, standards: Path
) -> None:
    response = get(filled, URL + "gpx")
    assert response.status_code == 200
    document = etree.fromstring(response.get_data())
    schema = xsd(standards / "gpx11/gpx.xsd")
    assert schema.validate(document), schema.error_log
    path = tmp_path / "finds.gpx"
    path.write_bytes(response.get_data())
    layers = gdal_layers(path)
    waypoints = {(f["properties"]["name"], f["properties"]["desc"]): f for f in layers["waypoints"]}
    assert len(layers["waypoints"]) == len(expected_finds())
    for data in expected_finds():
        point = waypoints[data["find_number"], data["object_name"]]
        assert point["geometry"]["coordinates"][:2] == pytest.approx(
            [data["position"]["lon"], data["position"]["lat"]], abs=1e-8
        )


# -- GeoPackage --------------------------------------------------------------------------


def test_geopackage_has_four_layers_in_the_chosen_srs(filled: World, tmp_path: Path) -> None:
    response = get(filled, URL + "gpkg?crs=EPSG:28412")
    assert response.status_code == 200
    assert response.mimetype == "application/geopackage+sqlite3"
    path = tmp_path / "finds.gpkg"
    path.write_bytes(response.get_data())
    summary = ogrinfo(path, "-so")
    assert summary.count('ID["EPSG",28412]]') == 4
    assert (
        summary.count("DESCRIPTION=") == summary.count("(EPSG:15865), stated accuracy 4.5 m") == 4
    )
    layers = gdal_layers(path)
    assert set(layers) == {"finds", "sites", "trenches", "tracks"}
    finds = by_number_and_name(layers["finds"])
    assert set(finds) == {(d["find_number"], d["object_name"]) for d in expected_finds()}
    for data in expected_finds():
        feature = finds[data["find_number"], data["object_name"]]
        x, y = crs.project_point(28412, data["position"]["lon"], data["position"]["lat"])
        assert feature["geometry"]["coordinates"] == pytest.approx([x, y], abs=0.001)
        assert feature["properties"]["quantity"] == data["quantity"]
        assert feature["properties"]["object_name"] == data["object_name"]
    assert len(layers["sites"]) == 3
    trenches = {(f["properties"]["site_code"], f["properties"]["trench"]) for f in
                layers["trenches"]}  # fmt: skip
    assert trenches == {(d["site_code"], d["trench"]) for d in expected_finds() if d["trench"]}


GPKG_LAYERS = ("finds", "sites", "trenches", "tracks")
# bytes of the envelope after a GeoPackage geometry header, by its contents indicator
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def near_float32(stored: float, value: float) -> bool:
    """An R-tree keeps 32-bit floats, rounded outwards (by up to half a metre on a UTM
    northing): ``stored`` is within two of their steps of ``value``."""
    return abs(stored - value) <= 2 * float(np.spacing(np.float32(abs(value))))


def gpkg_bounds(blob: bytes) -> tuple[float, float, float, float]:
    """The bounds of a GeoPackage geometry blob's WKB, not of the envelope in its header."""
    envelope = (blob[3] >> 1) & 0b111
    return shapely.from_wkb(blob[8 + _ENVELOPE_BYTES[envelope] :]).bounds


def rtree(path: Path, table: str) -> dict[int, tuple[float, float, float, float]]:
    """A layer's R-tree: fid -> (minx, maxx, miny, maxy)."""
    with closing(sqlite3.connect(path)) as db:
        return {row[0]: row[1:] for row in db.execute(f"SELECT * FROM rtree_{table}_geom")}


def projected_finds() -> dict[tuple[str, str], tuple[float, float]]:
    return {
        (d["find_number"], d["object_name"]): crs.project_point(
            crs.UTM_42N, d["position"]["lon"], d["position"]["lat"]
        )
        for d in expected_finds()
    }


def gpkg_export(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "finds.gpkg"
    path.write_bytes(get(world, URL + "gpkg?crs=EPSG:32642").get_data())
    return path


def test_every_geopackage_layer_has_an_rtree_of_its_feature_envelopes(
    tracked: World, tmp_path: Path
) -> None:
    path = gpkg_export(tracked, tmp_path)
    with closing(sqlite3.connect(path)) as db:
        assert sorted(db.execute("SELECT * FROM gpkg_extensions")) == [
            (table, "geom", "gpkg_rtree_index",
             "http://www.geopackage.org/spec120/#extension_rtree", "write-only")
            for table in sorted(GPKG_LAYERS)
        ]  # fmt: skip
        for table in GPKG_LAYERS:
            features = dict(db.execute(f"SELECT fid, geom FROM {table}"))
            entries = rtree(path, table)
            assert features and entries.keys() == features.keys(), table
            for fid, blob in features.items():
                min_x, min_y, max_x, max_y = gpkg_bounds(blob)
                r_min_x, r_max_x, r_min_y, r_max_y = entries[fid]
                # rounded outwards, so the entry still holds the whole feature
                assert r_min_x <= min_x and r_min_y <= min_y, (table, fid)
                assert r_max_x >= max_x and r_max_y >= max_y, (table, fid)
                expected = (min_x, max_x, min_y, max_y)
                assert all(map(near_float32, entries[fid], expected)), (table, fid)
        fids = {(number, name): fid for fid, number, name in
                db.execute("SELECT fid, find_number, object_name FROM finds")}  # fmt: skip
    entries = rtree(path, "finds")
    for key, (x, y) in projected_finds().items():
        assert all(map(near_float32, entries[fids[key]], (x, x, y, y))), key


def test_gdal_reads_the_geopackage_spatial_index_without_a_warning(
    tracked: World, tmp_path: Path
) -> None:
    path = gpkg_export(tracked, tmp_path)
    assert run_ogrinfo(path).stderr == ""
    has_index = ", ".join(f"HasSpatialIndex('{t}', 'geom') AS {t}" for t in GPKG_LAYERS)
    [answer] = gdal_layers(path, "-sql", f"SELECT {has_index}")["SELECT"]
    assert answer["properties"] == dict.fromkeys(GPKG_LAYERS, 1)
    # GDAL's spatial filter reads the R-tree: one missing or out of step would lose finds
    finds = projected_finds()
    dombauyl = [finds[d["find_number"], d["object_name"]] for d in expected_finds(site_code="DMB")]
    xs, ys = zip(*dombauyl, strict=True)
    box = (min(xs), min(ys), max(xs), max(ys))
    inside = {
        key for key, (x, y) in finds.items() if box[0] <= x <= box[2] and box[1] <= y <= box[3]
    }
    assert inside and len(inside) < len(finds)
    spat = [f"{v:.3f}" for v in (box[0] - 0.001, box[1] - 0.001, box[2] + 0.001, box[3] + 0.001)]
    found = gdal_layers(path, "-spat", *spat)["finds"]
    assert set(by_number_and_name(found)) == inside


def test_edits_through_gdal_keep_the_geopackage_spatial_index_in_step(
    filled: World, tmp_path: Path
) -> None:
    path = gpkg_export(filled, tmp_path)
    before = rtree(path, "finds")
    moved, source, deleted = sorted(before)[:3]
    copy = f"(SELECT geom FROM finds WHERE fid = {source})"
    for sql in (
        f"UPDATE finds SET geom = {copy} WHERE fid = {moved}",
        f"DELETE FROM finds WHERE fid = {deleted}",
    ):
        assert run_ogrinfo(path, "-sql", sql, read_only=False).stderr == ""
    after = rtree(path, "finds")
    assert after[moved] == before[source] != before[moved]
    assert deleted not in after
    assert len(after) == len(before) - 1


# -- filters and bad input ---------------------------------------------------------------


def test_filters_select_the_finds(filled: World) -> None:
    material = "slag"
    wanted = {d["find_number"] for d in expected_finds(material=material)}
    document = get(filled, f"{URL}geojson?material={material}").get_json(force=True)
    got = {f["properties"]["find_number"] for f in document["features"]
           if f["properties"]["layer"] == "find"}  # fmt: skip
    assert got == wanted
    dates = sorted(d["found_on"] for d in expected_finds())
    middle = dates[len(dates) // 2]
    document = get(filled, f"{URL}geojson?from={middle}&to={middle}").get_json(force=True)
    got = {f["properties"]["find_number"] for f in document["features"]
           if f["properties"]["layer"] == "find"}  # fmt: skip
    assert got == {d["find_number"] for d in expected_finds(found_on=middle)}


@pytest.mark.parametrize("fmt", ["geojson", "kml", "gpx", "csv", "gpkg"])
def test_nothing_matched_is_an_empty_valid_file(filled: World, tmp_path: Path, fmt: str) -> None:
    response = get(filled, f"{URL}{fmt}?from=1999-01-01&to=1999-01-02")
    assert response.status_code == 200
    path = tmp_path / f"empty.{fmt}"
    path.write_bytes(response.get_data())
    options = ("-oo", "X_POSSIBLE_NAMES=x", "-oo", "Y_POSSIBLE_NAMES=y") if fmt == "csv" else ()
    layers = gdal_layers(path, *options)
    finds = [
        f
        for name, features in layers.items()
        if name in ("finds", "waypoints", "finds.geojson", "empty", "ULY-2026")
        or fmt in ("geojson", "csv")
        for f in features
        if f["properties"].get("layer", "find") == "find" and name != "sites"
    ]
    assert finds == []


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("export.csv?crs=EPSG:99999", 422, "invalid_input"),
        ("export.csv?crs=EPSG:32643", 422, "crs_does_not_cover"),
        ("export.csv?crs=EPSG:4978", 422, "invalid_input"),
        ("export.shp", 404, "unknown_format"),
        ("export.csv?status=lost", 422, "invalid_input"),
        ("export.csv?material=gold", 422, "invalid_input"),
        ("export.csv?from=2026-13-01", 422, "invalid_input"),
        ("export.csv?from=2026-07-10&to=2026-07-01", 422, "invalid_input"),
        ("export.csv?site=NOPE", 422, "invalid_input"),
        ("export.csv?survey=00000000-0000-4000-8000-000000000000", 422, "invalid_input"),
        ("export.csv?colour=red", 422, "invalid_input"),
        ("export.csv?site=DMB&site=ALS", 422, "invalid_input"),
        ("export.csv?bom=yes", 422, "invalid_input"),
        ("export.pdf?lang=de", 422, "invalid_input"),
    ],
)
def test_bad_export_requests_are_problems(
    filled: World, query: str, status: int, code: str
) -> None:
    response = get(filled, "/api/v1/expeditions/ULY-2026/" + query)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code


def test_an_unknown_expedition_is_not_found(filled: World) -> None:
    assert get(filled, "/api/v1/expeditions/NOPE-1/export.csv").status_code == 404


# -- spatial checks ----------------------------------------------------------------------


def test_spatial_checks_rerun_the_push_flags_over_every_find(filled: World) -> None:
    pushed = {}
    for record in [*sample_batch("ULY-2026"), *dombauyl_batch()]:
        pushed[record["uuid"]] = record
    changes, _ = filled.pull_all("reviewer")
    stored_flags = {
        c["uuid"]: sorted(f["code"] for f in c["state"]["flags"])
        for c in changes
        if c["type"] == "find" and c["state"]["flags"]
    }
    report = get(filled, "/api/v1/expeditions/ULY-2026/spatial-checks").get_json()
    assert report["checked"] == len(expected_finds())
    checked = {f["uuid"]: sorted(flag["code"] for flag in f["flags"]) for f in report["finds"]}
    spatial = {"outside_site", "poor_accuracy", "unknown_site"}
    assert checked == {
        uuid: [c for c in codes if c in spatial]
        for uuid, codes in stored_flags.items()
        if any(c in spatial for c in codes)
    }
    assert checked, "the samples hold at least one flagged find"
    outside = [f for f in report["finds"] for flag in f["flags"] if flag["code"] == "outside_site"]
    for find in outside:
        data = pushed[find["uuid"]]["data"]
        site = next(
            s for e in samples.expeditions() for s in e["sites"] if s["code"] == data["site_code"]
        )
        assert not shape(site["boundary"]).contains(
            shape(
                {"type": "Point", "coordinates": [data["position"]["lon"], data["position"]["lat"]]}
            )
        )


# -- the map figure ----------------------------------------------------------------------

SVG_NS = "{http://www.w3.org/2000/svg}"
EXPEDITION_TITLE = "Ұлытау археологиялық экспедициясы 2026"


def svg_texts(payload: bytes) -> set[str]:
    root = etree.fromstring(payload, parser=etree.XMLParser(resolve_entities=False))
    return {"".join(element.itertext()) for element in root.iter(f"{SVG_NS}text")}


LEGEND_KEYS = {
    "kk": ("Ескерткіш", "Қазба", "GPS жолы"),
    "ru": ("Памятник", "Раскоп", "GPS-трек"),
    "en": ("Site", "Trench", "GPS track"),
}


def used_materials(**where: str) -> set[str]:
    return {d["material"] for d in expected_finds(**where)}


@pytest.mark.parametrize(
    ("query", "language"), [("", "kk"), ("?lang=ru", "ru"), ("?lang=en", "en")]
)
def test_the_svg_figure_holds_its_labels_as_text_in_the_language_asked(
    tracked: World, query: str, language: str
) -> None:
    response = get(tracked, URL + "svg" + query)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "filename*=UTF-8''ULY-2026-epsg32642.svg" in response.headers["Content-Disposition"]
    texts = svg_texts(response.get_data())
    assert f"{EXPEDITION_TITLE} (ULY-2026)" in texts
    legend = [t for t in texts if t.startswith(("Материал (", "Material ("))]
    assert legend == [f"{'Material' if language == 'en' else 'Материал'} ({len(expected_finds())})"]
    for code in used_materials():
        label = material_label(code, language)
        assert any(t.startswith(f"{label} — ") for t in texts), label
    # the keys to the site boundaries, trench outlines and GPS tracks
    assert set(LEGEND_KEYS[language]) <= texts
    if language == "kk":
        assert "Қож" in {material_label(code, "kk") for code in used_materials()}
        assert any(t.startswith("Қож — ") for t in texts)  # slag, in Kazakh
        assert any("WGS 84 координаталары датумды түрлендірусіз." in t for t in texts)
    if language == "ru":
        assert any(t.startswith("Шлак — ") for t in texts)
        assert any("Координаты WGS 84 без смены датума." in t for t in texts)


def test_a_figure_of_one_site_is_titled_by_the_site(filled: World) -> None:
    site = next(s for e in samples.expeditions() for s in e["sites"] if s["code"] == "DMB")
    texts = svg_texts(get(filled, URL + "svg?site=DMB&lang=ru").get_data())
    assert f"Экспедиция ULY-2026 — {site['name']}" in texts
    legend = [t for t in texts if t.startswith("Материал (")]
    assert legend == [f"Материал ({len(expected_finds(site_code='DMB'))})"]
    site, trench, track = LEGEND_KEYS["ru"]
    # no GPS track was pushed: the legend has no key to one
    assert {site, trench} <= texts and track not in texts


def test_the_png_figure_is_print_wide_and_not_blank(filled: World) -> None:
    response = get(filled, URL + "png?site=DMB")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    with Image.open(io.BytesIO(response.get_data())) as image:
        assert image.format == "PNG"
        assert image.width >= 1600
        pixels = image.convert("RGB")
    colours = pixels.getcolors(pixels.width * pixels.height)
    assert colours is not None and len(colours) > 50
    non_white = sum(n for n, colour in colours if colour != (255, 255, 255))
    assert non_white > 0.02 * pixels.width * pixels.height


def test_the_pdf_figure_opens_with_its_title_as_text(filled: World) -> None:
    response = get(filled, URL + "pdf?crs=EPSG:28412&lang=ru")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.get_data()))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert f"{EXPEDITION_TITLE} (ULY-2026)" in text
    assert "Pulkovo 1942 / Gauss-Kruger zone 12" in text
    assert reader.metadata is not None
    assert "EPSG:15865" in str(reader.metadata.subject)


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_a_figure_in_an_unknown_language_is_a_problem(filled: World, fmt: str) -> None:
    response = get(filled, f"{URL}{fmt}?lang=de")
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "lang", "message": "one of kk, ru, en"}]


def cli_env(world: World, tmp_path: Path) -> dict[str, str]:
    return {
        "FIELD_SERVER_DATABASE_URL": world.runtime.config.database_url,
        "FIELD_SERVER_DATA_DIR": str(tmp_path / "cli-data"),
        "FIELD_SERVER_SECRET_KEY": "test-secret",
    }


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_the_cli_writes_each_figure_format(filled: World, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"карта.{fmt}"
    done = CliRunner().invoke(
        cli.main,
        ["export", "ULY-2026", "--format", fmt, "--out", str(out), "--lang", "ru"],
        env=cli_env(filled, tmp_path),
    )
    assert done.exit_code == 0, done.output
    payload = out.read_bytes()
    if fmt == "svg":
        assert any(t.startswith("Шлак — ") for t in svg_texts(payload))
    elif fmt == "png":
        with Image.open(io.BytesIO(payload)) as image:
            assert image.format == "PNG" and image.width >= 1600
    else:
        text = pypdf.PdfReader(io.BytesIO(payload)).pages[0].extract_text()
        assert EXPEDITION_TITLE in text
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_the_cli_writes_a_geopackage_under_its_own_file_name(filled: World, tmp_path: Path) -> None:
    """``--out`` may be the export's own file name: the GeoPackage is made once, beside it."""
    out = tmp_path / "ULY-2026-epsg32642.gpkg"
    done = CliRunner().invoke(
        cli.main,
        ["export", "ULY-2026", "--format", "gpkg", "--crs", "EPSG:32642", "--out", str(out)],
        env=cli_env(filled, tmp_path),
    )
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"ULY-2026-epsg32642.gpkg written to {out}"
    assert set(gdal_layers(out)) == set(GPKG_LAYERS)
    with closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT count(*) FROM finds").fetchone() == (len(expected_finds()),)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_the_cli_refuses_an_unknown_language_in_one_line(filled: World, tmp_path: Path) -> None:
    out = tmp_path / "map.svg"
    done = CliRunner().invoke(
        cli.main,
        ["export", "ULY-2026", "--format", "svg", "--out", str(out), "--lang", "de"],
        env=cli_env(filled, tmp_path),
    )
    assert done.exit_code != 0
    assert done.output.strip() == "Error: lang: one of kk, ru, en"
    assert not out.exists()


# -- the database's reading of the stored finds -------------------------------------------


def test_the_find_sheet_holds_every_column_as_the_wire_data_has_it(filled: World) -> None:
    """The export columns come from the find sheet and the record's own columns; they must
    equal what the wire data says, photos and flags included, as values and as the JSON
    object the sheet keeps for GeoJSON."""
    photographed = samples.fresh_find(dombauyl_batch()[1], photos=["ab" * 32, "cd" * 32])
    filled.pushed("recorder", [photographed])
    with filled.runtime.uow() as unit:
        expedition = unit.expeditions.by_code("ULY-2026")
        assert expedition is not None
        selection = FindFilter(expedition.id)
        read = [row for rows in unit.sheets.stream_columns(selection) for row in rows]
        stored = unit.connection.execute(
            select(records).where(records.c.expedition_id == expedition.id,
                                  records.c.type == "find", records.c.merged_into.is_(None))
            .order_by(records.c.seq)
        ).all()  # fmt: skip
        objects = [row for rows in unit.sheets.stream_objects(selection) for row in rows]
    assert len(read) == len(stored) == len(objects) == len(expected_finds()) + 1
    flagged = photos = 0
    for row, record, built in zip(read, stored, objects, strict=True):
        data = json.loads(record.data)
        flags = json.loads(record.flags)
        expected = find_row(
            {"uuid": record.uuid, "status": record.status,
             "register_number": record.register_number, "flags": flags},
            data,
        )  # fmt: skip
        assert tuple(row[:-2]) == expected
        assert [type(v) for v in row[:-2]] == [type(v) for v in expected]
        position = (data["position"]["lon"], data["position"]["lat"])
        assert tuple(row[-2:]) == position
        properties = json.loads(bytes(built[0]), object_pairs_hook=list)
        assert [key for key, _ in properties] == list(OBJECT_COLUMNS)  # in column order
        assert (*(value for _, value in properties), *built[1:4]) == expected
        assert (built[4], built[5]) == (data.get("site_code"), data.get("trench"))
        assert tuple(built[6:]) == position
        flagged += bool(flags)
        photos += bool(data["photos"])
    assert flagged and photos == 1
    by_uuid = {row[1]: row for row in read}
    assert by_uuid[photographed["uuid"]][COLUMN_NAMES.index("photos")] == f"{'ab' * 32} {'cd' * 32}"
