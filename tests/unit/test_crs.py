"""The CRS module against reference coordinates computed without PROJ."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon

from field_core.geo import crs

# Reference values computed by hand, independently of PROJ: the transverse Mercator by Krüger's
# series to n⁴ (C. F. F. Karney, "Transverse Mercator with an accuracy of a few nanometers",
# J. Geodesy 85 (2011), eqs. 7-9 and 35), WGS 84 a = 6378137, 1/f = 298.257223563;
# Krassowsky 1940 a = 6378245, 1/f = 298.3. WGS 84 → Pulkovo 1942 by the inverse of the
# coordinate-frame Helmert of EPSG:15865 (tX 25 m, tY −141 m, tZ −78.5 m, rX 0″, rY −0.35″,
# rZ −0.736″, dS 0), ellipsoidal height 0, then Gauss–Krüger zone 12 (lon₀ 69° E, k₀ 1,
# FE 12 500 000 m; EPSG:2502 the same with FE 500 000 m). UTM 42N: lon₀ 69° E, k₀ 0.9996,
# FE 500 000 m.
# (name, lon, lat, UTM 42N x, y, Pulkovo 1942 lon, lat, GK zone 12 x, y)
REFERENCE = [
    ("Dombauyl", 67.8447, 48.1933, 414142.8854, 5338430.3396, 67.845622191, 48.192970859,
     12414175.1086, 5340622.9439),
    ("Zhezkazgan", 67.71, 47.78, 403364.1717, 5292654.3147, 67.710916291, 47.779681255,
     12403391.9681, 5294828.8621),
    ("Terekty", 68.6103, 48.2122, 471049.5697, 5339959.2203, 68.611201296, 48.211862477,
     12471104.2965, 5342152.2208),
]  # fmt: skip
MM = 0.001
DEG_MM = 1e-8  # about a millimetre in degrees here


@pytest.mark.parametrize("ref", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_utm_42n_matches_the_hand_computed_krueger_series(ref: tuple) -> None:
    _, lon, lat, x, y, *_ = ref
    px, py = crs.project_point(crs.UTM_42N, lon, lat)
    assert px == pytest.approx(x, abs=MM) and py == pytest.approx(y, abs=MM)
    back = crs.to_wgs84(crs.UTM_42N).transform(px, py)
    assert back == pytest.approx((lon, lat), abs=DEG_MM)


@pytest.mark.parametrize("ref", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_pulkovo_1942_uses_the_gost_helmert_chosen_for_kazakhstan(ref: tuple) -> None:
    _, lon, lat, _, _, plon, plat, gx, gy = ref
    assert crs.project_point(crs.PULKOVO_1942, lon, lat) == pytest.approx((plon, plat), abs=DEG_MM)
    x, y = crs.project_point(crs.PULKOVO_GK_ZONE_12, lon, lat)
    assert x == pytest.approx(gx, abs=MM) and y == pytest.approx(gy, abs=MM)
    # the same projection without the zone prefix
    x2, y2 = crs.project_point(crs.PULKOVO_GK_CM_69E, lon, lat)
    assert (x2, y2) == pytest.approx((gx - 12_000_000, gy), abs=MM)
    # the Helmert's inverse is solved, not sign-flipped: the way back lands within a centimetre
    back = crs.to_wgs84(crs.PULKOVO_GK_ZONE_12).transform(x, y)
    assert back == pytest.approx((lon, lat), abs=1e-7)


def test_the_pulkovo_operation_is_named_with_its_accuracy() -> None:
    info = crs.crs_info(crs.PULKOVO_GK_ZONE_12)
    assert info.shift.name == "Pulkovo 1942 to WGS 84 (16) (EPSG:15865)"
    assert info.shift.accuracy_m == 4.5
    assert "stated accuracy 4.5 m" in info.metadata_note()
    assert info.label == "Pulkovo 1942 / Gauss-Kruger zone 12 (EPSG:28412)"


def test_crs_on_wgs_84_need_no_datum_shift() -> None:
    for code in (crs.WGS84, crs.UTM_42N):
        assert crs.crs_info(code).shift == crs.NO_SHIFT
    assert crs.crs_info(crs.WGS84).is_geographic
    assert not crs.crs_info(crs.UTM_42N).is_geographic


@pytest.mark.parametrize(
    ("text", "code"),
    [("EPSG:32642", 32642), ("epsg:28412", 28412), (" 2502 ", 2502), ("4326", 4326),
     ("utm42n", 32642), (3857, 3857)],
)  # fmt: skip
def test_a_crs_is_named_by_its_epsg_code(text: str | int, code: int) -> None:
    assert crs.parse_crs(text) == code


@pytest.mark.parametrize(
    "text", ["EPSG:99999", "EPSG:", "UTM", "EPSG:4326x", "1" * 40, "4978", "5773", "-4326", ""]
)
def test_an_unknown_or_unmappable_crs_is_refused(text: str) -> None:
    with pytest.raises(crs.CrsError) as caught:
        crs.parse_crs(text)
    assert caught.value.code == "unknown_crs"


def test_a_crs_that_does_not_cover_the_data_is_refused() -> None:
    region = (67.0, 47.7, 68.7, 48.4)
    crs.check_covers(crs.UTM_42N, region)
    crs.check_covers(crs.PULKOVO_1942, region)  # an area of use across the antimeridian
    crs.check_covers(crs.UTM_42N, None)  # nothing to cover
    for code in (32643, 3035, 28413):
        with pytest.raises(crs.CrsError) as caught:
            crs.check_covers(code, region)
        assert caught.value.code == "crs_does_not_cover"


def test_transformers_are_built_once() -> None:
    assert crs.from_wgs84(crs.UTM_42N) is crs.from_wgs84(crs.UTM_42N)


def test_geometries_and_arrays_project_like_points() -> None:
    _, lon, lat, x, y, *_ = REFERENCE[0]
    square = Polygon([(lon, lat), (lon + 0.001, lat), (lon + 0.001, lat + 0.001), (lon, lat)])
    projected = crs.project_geometry(crs.UTM_42N, square)
    assert projected.exterior.coords[0] == pytest.approx((x, y), abs=MM)
    xs, ys = crs.project(crs.UTM_42N, [lon], [lat])
    assert (xs[0], ys[0]) == pytest.approx((x, y), abs=MM)
    assert crs.project_geometry(crs.WGS84, square) is square


def test_the_local_plane_measures_metres() -> None:
    to_plane = crs.local_metric(67.8447, 48.1933)
    x, y = to_plane.transform(67.8447, 48.1933 + 1 / 60)
    # one minute of latitude at 48.2° N on WGS 84: 1853.24 m (meridian radius of curvature
    # M = a(1−e²)/(1−e² sin²φ)^1.5 at the mid-latitude, times π/10 800)
    assert x == pytest.approx(0.0, abs=MM) and y == pytest.approx(1853.24, abs=0.01)
