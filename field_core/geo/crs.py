"""Coordinate reference systems: the one place where positions leave WGS 84 (DESIGN §7).

Every conversion in Qazba goes through this module, so that the datum transformation is the
same everywhere and can be named. Transformers are built once per process (PROJ takes tens of
milliseconds to set one up) and always take and give x/east/longitude first, as the wire does.

WGS 84 → Pulkovo 1942 is chosen deliberately, not left to PROJ's ranking: PROJ ranks
"Pulkovo 1942 to WGS 84 (20)" (EPSG:5044, 3 m) first, but its area of use is the Russian
Federation only, and Kazakhstan lies outside it. We use "Pulkovo 1942 to WGS 84 (16)"
(EPSG:15865, the GOST R 51794-2001 seven-parameter Helmert), whose stated accuracy is 4.5 m and
whose area of use names Kazakhstan and the other former Soviet states.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from pyproj.transformer import TransformerGroup
from shapely.geometry.base import BaseGeometry

WGS84 = 4326
UTM_42N = 32642
PULKOVO_1942 = 4284
PULKOVO_GK_ZONE_12 = 28412  # false easting with the zone prefix: 12 500 000 m
PULKOVO_GK_CM_69E = 2502  # the same projection, false easting 500 000 m

# The operations named in the module docstring.
PULKOVO_OPERATION_EPSG = 15865
PULKOVO_OPERATION_NAME = "Pulkovo 1942 to WGS 84 (16)"
PULKOVO_DATUM_NAME = "Pulkovo 1942"

NAMED_CRS: dict[str, int] = {
    "wgs84": WGS84,
    "utm42n": UTM_42N,
    "pulkovo1942": PULKOVO_1942,
    "gk12": PULKOVO_GK_ZONE_12,
    "gk69e": PULKOVO_GK_CM_69E,
}

_CODE = re.compile(r"^(?:EPSG:)?([0-9]{1,6})$", re.IGNORECASE)

Bounds = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat (WGS 84)


class CrsError(ValueError):
    """A CRS that cannot be used; ``code`` is ``unknown_crs`` or ``crs_does_not_cover``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DatumShift:
    """How positions get from WGS 84 into a CRS's datum, as written into exports' metadata."""

    name: str
    accuracy_m: float | None  # None when PROJ states no accuracy

    def describe(self) -> str:
        if self.accuracy_m is None:
            return f"{self.name} (accuracy not stated)"
        if self.accuracy_m == 0:
            return self.name
        return f"{self.name}, stated accuracy {self.accuracy_m:g} m"


NO_SHIFT = DatumShift("no datum transformation (the CRS is on WGS 84)", 0.0)


@dataclass(frozen=True)
class CrsInfo:
    epsg: int
    name: str
    is_geographic: bool
    area_of_use: Bounds
    shift: DatumShift

    @property
    def label(self) -> str:
        return f"{self.name} (EPSG:{self.epsg})"

    @property
    def wkt(self) -> str:
        """The CRS as WKT 1 (what the GeoPackage 1.3 ``definition`` column expects)."""
        return _crs(self.epsg).to_wkt("WKT1_GDAL")

    def metadata_note(self) -> str:
        return f"{self.label}; from WGS 84 by {self.shift.describe()}"


def parse_crs(text: str | int) -> int:
    """``EPSG:32642``, ``32642``, ``epsg:4326`` or a name of NAMED_CRS → the EPSG code."""
    if isinstance(text, int) and not isinstance(text, bool):
        code = text
    else:
        raw = str(text).strip()
        if raw.lower() in NAMED_CRS:
            return NAMED_CRS[raw.lower()]
        match = _CODE.fullmatch(raw)
        if match is None:
            raise CrsError(
                "unknown_crs",
                f"{raw[:40]!r} is not an EPSG code; write it as EPSG:32642 or 32642",
            )
        code = int(match.group(1))
    crs_info(code)
    return code


@lru_cache(maxsize=64)
def _crs(epsg: int) -> CRS:
    try:
        return CRS.from_epsg(epsg)
    except (CRSError, ProjError):
        raise CrsError("unknown_crs", f"EPSG:{epsg} is not a CRS that PROJ knows") from None


@lru_cache(maxsize=64)
def crs_info(epsg: int) -> CrsInfo:
    """What exports need to know of a CRS; CrsError for codes that are no 2D map CRS."""
    crs = _crs(epsg)
    two_d = len(crs.axis_info) == 2 and not crs.is_compound
    if not (two_d and (crs.is_projected or crs.is_geographic)):
        raise CrsError(
            "unknown_crs",
            f"EPSG:{epsg} ({crs.name}) is not a 2D geographic or projected CRS",
        )
    area = crs.area_of_use
    bounds = (-180.0, -90.0, 180.0, 90.0) if area is None else area.bounds
    return CrsInfo(epsg, crs.name, crs.is_geographic, bounds, _shift_of(epsg))


def _shift_of(epsg: int) -> DatumShift:
    if epsg == WGS84:
        return NO_SHIFT
    transformer = _from_wgs84(epsg)
    operations = transformer.operations or ()
    named = [op.name for op in operations if _is_datum_operation(op.name)]
    if not named:
        return NO_SHIFT
    accuracy = transformer.accuracy
    name = "; ".join(n.removeprefix("Inverse of ") for n in named)
    code = _operation_code(transformer)
    if code is not None:
        name = f"{name} (EPSG:{code})"
    return DatumShift(name, accuracy if accuracy >= 0 else None)


def _is_datum_operation(name: str) -> bool:
    lowered = name.lower()
    return " to " in lowered and "axis order" not in lowered and "null geographic" not in lowered


def _operation_code(transformer: Transformer) -> int | None:
    for op in transformer.operations or ():
        if not _is_datum_operation(op.name):
            continue
        ident = op.to_json_dict().get("id") or {}
        # an inverted operation keeps its EPSG code under the authority "INVERSE(EPSG)"
        if ident.get("authority") in ("EPSG", "INVERSE(EPSG)"):
            return int(ident["code"])
    return None


@lru_cache(maxsize=64)
def _from_wgs84(epsg: int) -> Transformer:
    target = _crs(epsg)
    if epsg != WGS84 and _on_pulkovo_1942(target):
        return _pulkovo_transformer(CRS.from_epsg(WGS84), target)
    return Transformer.from_crs(CRS.from_epsg(WGS84), target, always_xy=True)


@lru_cache(maxsize=64)
def _to_wgs84(epsg: int) -> Transformer:
    source = _crs(epsg)
    if epsg != WGS84 and _on_pulkovo_1942(source):
        return _pulkovo_transformer(source, CRS.from_epsg(WGS84))
    return Transformer.from_crs(source, CRS.from_epsg(WGS84), always_xy=True)


def _on_pulkovo_1942(crs: CRS) -> bool:
    datum = crs.datum
    return datum is not None and datum.name == PULKOVO_DATUM_NAME


def _pulkovo_transformer(source: CRS, target: CRS) -> Transformer:
    group = TransformerGroup(source, target, always_xy=True)
    for transformer in group.transformers:
        if _operation_code(transformer) == PULKOVO_OPERATION_EPSG:
            return transformer
    # PROJ's database always holds EPSG:15865; its absence means a broken installation
    raise CrsError(
        "unknown_crs",
        f"PROJ offers no {PULKOVO_OPERATION_NAME} between {source.name} and {target.name}",
    )


def from_wgs84(epsg: int) -> Transformer:
    """The cached transformer WGS 84 lon/lat → ``epsg`` x/y (easting first)."""
    crs_info(epsg)
    return _from_wgs84(epsg)


def to_wgs84(epsg: int) -> Transformer:
    """The cached transformer ``epsg`` x/y → WGS 84 lon/lat."""
    crs_info(epsg)
    return _to_wgs84(epsg)


def check_covers(epsg: int, bounds: Bounds | None) -> None:
    """CrsError unless the CRS's area of use holds every position (bounds in WGS 84)."""
    if bounds is None:
        return
    info = crs_info(epsg)
    west, south, east, north = info.area_of_use
    min_lon, min_lat, max_lon, max_lat = bounds
    if west > east:  # an area across the antimeridian: take longitudes east of ``west``
        min_lon, max_lon = min_lon % 360, max_lon % 360
        east += 360
        west = west % 360
    inside = west <= min_lon and max_lon <= east and south <= min_lat and max_lat <= north
    if not inside:
        raise CrsError(
            "crs_does_not_cover",
            f"{info.label} covers lon {west:g}..{east:g}, lat {south:g}..{north:g}; the data "
            f"spans lon {min_lon:.4f}..{max_lon:.4f}, lat {min_lat:.4f}..{max_lat:.4f}: "
            "choose a CRS that covers the data",
        )


def project(
    epsg: int, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of x and y in ``epsg`` for WGS 84 positions (a copy when ``epsg`` is WGS 84)."""
    lon_array, lat_array = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    if epsg == WGS84:
        return lon_array.copy(), lat_array.copy()
    xs, ys = from_wgs84(epsg).transform(lon_array, lat_array)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def project_point(epsg: int, lon: float, lat: float) -> tuple[float, float]:
    if epsg == WGS84:
        return lon, lat
    x, y = from_wgs84(epsg).transform(lon, lat)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CrsError("crs_does_not_cover", f"({lon}, {lat}) cannot be put into EPSG:{epsg}")
    return float(x), float(y)


def project_geometry(epsg: int, geometry: BaseGeometry) -> BaseGeometry:
    """A shapely geometry in WGS 84 lon/lat, carried into ``epsg``."""
    if epsg == WGS84:
        return geometry
    transformer = from_wgs84(epsg)
    return shapely.transform(
        geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


@lru_cache(maxsize=512)
def local_metric(lon: float, lat: float) -> Transformer:
    """WGS 84 → an azimuthal equidistant plane centred on (lon, lat), in metres.

    Within a site (a few kilometres) distances measured there are true to well under a
    millimetre per metre, whatever UTM zone the site lies in.
    """
    return Transformer.from_crs(
        CRS.from_epsg(WGS84),
        CRS.from_proj4(f"+proj=aeqd +lat_0={lat!r} +lon_0={lon!r} +datum=WGS84 +units=m"),
        always_xy=True,
    )
