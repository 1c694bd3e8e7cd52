"""Exports of an expedition's finds, sites, trenches and tracks in the GIS formats (DESIGN §7).

``plan_export`` checks everything that can be wrong before a byte is written (the caller's
access, the format, the filters, the CRS and whether it covers the selected finds), so that bad
input is a problem document and never a half-written file. The plan then streams: finds are read
from the database a chunk at a time through one statement and written as they come.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from field_core.contract import LANGUAGES, MATERIAL_CODES, material_label
from shapely.geometry import shape

from field_core.geo import crs as crs_module
from field_core.geo.crs import CrsError
from field_server.adapters.repositories import ExpeditionRow, FindFilter
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.export_layers import (
    COLUMN_NAMES,
    STATE_COLUMNS,
    ExportHeader,
    FindChunk,
    FindObjectChunk,
    SiteFeature,
    TrackFeature,
    TrenchCollector,
    TrenchFeature,
    track_line,
)
from field_server.services.errors import Forbidden, InvalidInput, NotFound, ServiceError

STREAMED_FORMATS = ("geojson", "kml", "gpx", "csv")
FILE_FORMATS = ("gpkg",)
FIGURE_FORMATS = ("svg", "png", "pdf")
FORMATS = (*STREAMED_FORMATS, *FILE_FORMATS, *FIGURE_FORMATS)
# formats whose standard fixes WGS 84 (RFC 7946, KML 2.2, GPX 1.1)
WGS84_ONLY = ("geojson", "kml", "gpx")
FIGURE_DEFAULT_CRS = crs_module.UTM_42N
STATUSES = ("synced", "approved", "rejected", "merged", "accessioned")
FILTERS = ("survey", "site", "status", "material", "from", "to")
OPTIONS = ("crs", "bom", "lang")
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
    "gpx": "application/gpx+xml",
    "csv": "text/csv; charset=utf-8; header=present",
    "gpkg": "application/geopackage+sqlite3",
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SITE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


class UnknownFormat(ServiceError):
    def __init__(self, fmt: str) -> None:
        super().__init__(
            f"no export format {fmt[:20]!r}; formats: {', '.join(FORMATS)}", "unknown_format", 404
        )


@dataclass(frozen=True)
class ExportRequest:
    """The checked query of an export."""

    fmt: str
    filters: dict[str, str]
    epsg: int
    bom: bool = False
    lang: str = "kk"  # the interface's default language


def check_request(fmt: str, query: Mapping[str, str]) -> ExportRequest:
    """The format and query parameters, checked; InvalidInput lists every bad parameter."""
    if fmt not in FORMATS:
        raise UnknownFormat(fmt)
    errors: list[dict[str, str]] = []
    for name in query:
        if name not in FILTERS and name not in OPTIONS:
            errors.append({"field": name, "message": "unknown parameter"})
    filters: dict[str, str] = {}
    survey = query.get("survey")
    if survey is not None:
        if _UUID.fullmatch(survey):
            filters["survey"] = survey
        else:
            errors.append({"field": "survey", "message": "a survey's uuid, in lowercase"})
    site = query.get("site")
    if site is not None:
        if _SITE.fullmatch(site):
            filters["site"] = site
        else:
            errors.append({"field": "site", "message": "a site code, e.g. DMB"})
    status = query.get("status")
    if status is not None:
        if status in STATUSES:
            filters["status"] = status
        else:
            errors.append({"field": "status", "message": f"one of {', '.join(STATUSES)}"})
    material = query.get("material")
    if material is not None:
        if material in MATERIAL_CODES:
            filters["material"] = material
        else:
            errors.append({"field": "material", "message": "a material code of the vocabulary"})
    for name in ("from", "to"):
        value = query.get(name)
        if value is None:
            continue
        try:
            if len(value) != 10:
                raise ValueError(value)
            filters[name] = date.fromisoformat(value).isoformat()
        except ValueError:
            errors.append({"field": name, "message": "a date as YYYY-MM-DD"})
    if "from" in filters and "to" in filters and filters["from"] > filters["to"]:
        errors.append({"field": "to", "message": "'to' is before 'from'"})
    default_crs = FIGURE_DEFAULT_CRS if fmt in FIGURE_FORMATS else crs_module.WGS84
    epsg = default_crs
    if query.get("crs") is not None:
        try:
            epsg = crs_module.parse_crs(query["crs"])
        except CrsError as error:
            errors.append({"field": "crs", "message": str(error)})
        else:
            if fmt in WGS84_ONLY and epsg != crs_module.WGS84:
                message = f"{fmt} is always WGS 84 (EPSG:4326) by its standard"
                errors.append({"field": "crs", "message": message})
    bom = query.get("bom", "0")
    if bom not in ("0", "1"):
        errors.append({"field": "bom", "message": "0 or 1"})
    lang = query.get("lang", "kk")
    if lang not in LANGUAGES:
        errors.append({"field": "lang", "message": f"one of {', '.join(LANGUAGES)}"})
    if errors:
        detail = "the export's parameters are not valid"
        if len(errors) == 1:
            [error] = errors
            crs_message = error["field"] == "crs"
            detail = error["message"] if crs_message else f"{error['field']}: {error['message']}"
        raise InvalidInput(detail, errors)
    return ExportRequest(fmt, filters, epsg, bom == "1", lang)


@dataclass
class ExportPlan:
    """A checked export, ready to stream."""

    uow_factory: UnitOfWorkFactory
    expedition: ExpeditionRow
    request: ExportRequest
    selection: FindFilter
    header: ExportHeader

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.request.fmt]

    @property
    def filename(self) -> str:
        parts = [self.expedition.code]
        for name in ("site", "material", "status", "from", "to"):
            if name in self.request.filters:
                parts.append(self.request.filters[name])
        if self.request.epsg != crs_module.WGS84:
            parts.append(f"epsg{self.request.epsg}")
        return "-".join(parts) + "." + self.request.fmt

    def stream(self) -> Iterator[bytes]:
        """The export as chunks of bytes (the streamed formats)."""
        from field_server.adapters.exports import writer_for

        with self.uow_factory() as uow:
            yield from writer_for(self.request.fmt)(_Source(uow, self), bom=self.request.bom)

    def write_file(self, path: Path) -> None:
        """The export written to ``path`` (GeoPackage: a database file, not a stream)."""
        from field_server.adapters.exports.geopackage import write_geopackage

        with self.uow_factory() as uow:
            write_geopackage(_Source(uow, self), path)

    def write_figure(self, out: BinaryIO) -> None:
        """The map figure (svg, png, pdf)."""
        from field_server.adapters.map_figure import render_map_figure

        with self.uow_factory() as uow:
            figure = build_map_figure(_Source(uow, self), self.request.lang)
        render_map_figure(figure, self.request.fmt, out)  # type: ignore[arg-type]

    def write_to(self, out: BinaryIO, scratch_dir: Path) -> None:
        """Any format into a binary file object (the CLI and the demo)."""
        if self.request.fmt in STREAMED_FORMATS:
            for chunk in self.stream():
                out.write(chunk)
        elif self.request.fmt in FILE_FORMATS:
            path = scratch_dir / f".{self.filename}.part"
            try:
                self.write_file(path)
                with path.open("rb") as source:
                    while block := source.read(1 << 20):
                        out.write(block)
            finally:
                path.unlink(missing_ok=True)
        else:
            self.write_figure(out)


def plan_export(
    uow_factory: UnitOfWorkFactory,
    actor: Actor | None,
    code: str,
    fmt: str,
    query: Mapping[str, str],
    photo_base_url: str = "",
) -> ExportPlan:
    """Check an export; ``actor`` None is the server's own CLI. Raises a ServiceError."""
    with uow_factory() as uow:
        expedition = uow.expeditions.by_code(code)
        if expedition is None:
            raise NotFound(f"no expedition {code!r}")
        if actor is not None and not actor.may_read(expedition.id):
            raise Forbidden(f"{actor.username} is not a member of {code}")
        request = check_request(fmt, query)
        filters = request.filters
        if "site" in filters and filters["site"] not in {
            s.code for s in uow.expeditions.sites_of([expedition.id])
        }:
            raise InvalidInput(
                f"{code} has no site {filters['site']}",
                [{"field": "site", "message": f"not a site of {code}"}],
            )
        if "survey" in filters and not uow.records.survey_exists(expedition.id, filters["survey"]):
            raise InvalidInput(
                f"{code} has no survey {filters['survey']}",
                [{"field": "survey", "message": f"not a survey of {code}"}],
            )
        selection = FindFilter(
            expedition.id,
            survey_uuid=filters.get("survey"),
            site_code=filters.get("site"),
            status=filters.get("status"),
            material=filters.get("material"),
            found_from=filters.get("from"),
            found_to=filters.get("to"),
        )
        # WGS 84 covers every valid position: no need to scan the finds for their box
        bounds = None if request.epsg == crs_module.WGS84 else uow.sheets.bounds(selection)
    try:
        crs_module.check_covers(request.epsg, bounds)
    except CrsError as error:
        raise ServiceError(
            str(error), error.code, 422, [{"field": "crs", "message": str(error)}]
        ) from None
    header = ExportHeader(
        expedition.code,
        expedition.title,
        crs_module.crs_info(request.epsg),
        datetime.now(UTC).replace(microsecond=0),
        filters,
        photo_base_url,
    )
    return ExportPlan(uow_factory, expedition, request, selection, header)


@dataclass
class _Source:
    """The ExportSource the writers read, over one open unit of work."""

    uow: UnitOfWork
    plan: ExportPlan
    collector: TrenchCollector = field(default_factory=TrenchCollector)
    _finds_done: bool = False

    @property
    def header(self) -> ExportHeader:
        return self.plan.header

    @property
    def epsg(self) -> int:
        return self.plan.request.epsg

    def sites(self) -> list[SiteFeature]:
        wanted = self.plan.selection.site_code
        found = []
        for row in self.uow.expeditions.sites_of([self.plan.expedition.id]):
            if wanted is not None and row.code != wanted:
                continue
            geometry = shape(row.boundary)
            found.append(
                SiteFeature(
                    row.code, row.name, geometry, crs_module.project_geometry(self.epsg, geometry)
                )
            )
        return found

    def find_chunks(self, names: Sequence[str] = COLUMN_NAMES) -> Iterator[FindChunk]:
        # the trenches need each find's site and trench
        asked = [*names, *(n for n in ("site_code", "trench") if n not in names)]
        for rows in self.uow.sheets.stream_columns(
            self.plan.selection, asked, by_site=self._by_site
        ):
            chunk = FindChunk.of_rows(rows, self.epsg, asked)
            self.collector.add(chunk.site_codes, chunk.trenches, chunk.lons, chunk.lats)
            yield chunk
        self._finds_done = True

    def find_objects(self) -> Iterator[FindObjectChunk]:
        width = len(STATE_COLUMNS)
        for rows in self.uow.sheets.stream_objects(self.plan.selection, by_site=self._by_site):
            # each row: the object, the state's values, then site code, trench, lon and lat
            columns = list(zip(*rows, strict=True))
            objects = list(columns[0])
            states = list(zip(*columns[1 : 1 + width], strict=True))
            site_codes, trenches, lons, lats = (list(c) for c in columns[-4:])
            self.collector.add(site_codes, trenches, lons, lats)
            yield FindObjectChunk(objects, states, lons, lats)
        self._finds_done = True

    @property
    def _by_site(self) -> bool:
        return self.plan.request.fmt == "kml"  # a KML folder per site

    def trenches(self) -> list[TrenchFeature]:
        if not self._finds_done:
            raise RuntimeError("trenches are derived from the finds: read the finds first")
        return self.collector.trenches(self.epsg)

    def tracks(self) -> Iterator[TrackFeature]:
        for row in self.uow.records.stream_tracks(
            self.plan.expedition.id, self.plan.selection.survey_uuid
        ):
            data = json.loads(row.data)
            line = track_line(data["points"]) if data["kind"] != "waypoints" else None
            yield TrackFeature(
                row.uuid,
                data["kind"],
                data.get("name"),
                data["source_file"],
                data["points"],
                None if line is None else crs_module.project_geometry(self.epsg, line),
            )


# -- the map figure ------------------------------------------------------------------------

_TITLE_WORD = {"kk": "Экспедиция", "ru": "Экспедиция", "en": "Expedition"}
_LEGEND_TITLE = {"kk": "Материал", "ru": "Материал", "en": "Material"}
# the legend's keys to the site boundaries, trench outlines and GPS tracks on the map
_SITE_KEY = {"kk": "Ескерткіш", "ru": "Памятник", "en": "Site"}
_TRENCH_KEY = {"kk": "Қазба", "ru": "Раскоп", "en": "Trench"}
_TRACK_KEY = {"kk": "GPS жолы", "ru": "GPS-трек", "en": "GPS track"}
# the figure prints its CRS label itself; the note says how WGS 84 got there, in the language
_SAME_DATUM = {
    "kk": "WGS 84 координаталары датумды түрлендірусіз",
    "ru": "координаты WGS 84 без смены датума",
    "en": "WGS 84 positions, no datum transformation",
}
_SHIFTED = {
    "kk": "WGS 84-тен түрлендіру: {name}, мәлімделген дәлдігі {accuracy} м",
    "ru": "пересчёт из WGS 84: {name}, заявленная точность {accuracy} м",
    "en": "from WGS 84 by {name}, stated accuracy {accuracy} m",
}
_SHIFTED_UNSTATED = {
    "kk": "WGS 84-тен түрлендіру: {name} (дәлдігі көрсетілмеген)",
    "ru": "пересчёт из WGS 84: {name} (точность не указана)",
    "en": "from WGS 84 by {name} (accuracy not stated)",
}


def figure_note(shift: crs_module.DatumShift, lang: str) -> str:
    """The figure's small print on the datum transformation, in the figure's language."""
    if shift == crs_module.NO_SHIFT:
        text = _SAME_DATUM[lang]
    elif shift.accuracy_m is None:
        text = _SHIFTED_UNSTATED[lang].format(name=shift.name)
    else:
        accuracy = f"{shift.accuracy_m:g}"
        if lang != "en":
            accuracy = accuracy.replace(".", ",")  # the decimal comma of Kazakh and Russian
        text = _SHIFTED[lang].format(name=shift.name, accuracy=accuracy)
    return text[0].upper() + text[1:] + "."


def figure_title(code: str, expedition_title: str, site_name: str | None, lang: str) -> str:
    """A title that fits one printed line: the site's name when one site is drawn, else the
    expedition's title (without saying "expedition" twice when the title already does)."""
    word = _TITLE_WORD[lang]
    if site_name is not None:
        return f"{word} {code} — {site_name}"
    if any(w in expedition_title.casefold() for w in ("экспедиц", "expedition")):
        return f"{expedition_title} ({code})"
    return f"{word} {code} — {expedition_title}"


def build_map_figure(source: Any, lang: str) -> Any:
    """The MapFigure of an export source, in the figure's CRS and language."""
    from field_server.adapters.map_figure import MapFigure

    return MapFigure(**figure_fields(source, lang))


def figure_fields(source: Any, lang: str) -> dict[str, Any]:
    """The MapFigure's fields (kept apart so they can be checked without the renderer)."""
    header: ExportHeader = source.header
    sites = source.sites()
    finds: list[tuple[float, float, str]] = []
    for chunk in source.find_chunks(("material",)):
        finds.extend(zip(chunk.xs, chunk.ys, chunk.column("material"), strict=True))
    trenches = source.trenches()
    tracks = [
        (t.name or t.source_file, t.projected) for t in source.tracks() if t.projected is not None
    ]
    site_code = header.filters.get("site")
    site_name = next((s.name for s in sites if s.code == site_code), site_code)
    title = figure_title(header.expedition_code, header.expedition_title, site_name, lang)
    used = {material for _, _, material in finds}
    return {
        "title": title,
        "crs_label": header.crs.label,
        "crs_is_geographic": header.crs.is_geographic,
        "sites": [(s.code, s.projected) for s in sites],
        "trenches": [(t.trench, t.projected) for t in trenches],
        "tracks": tracks,
        "finds": finds,
        "material_labels": {
            code: material_label(code, lang) for code in MATERIAL_CODES if code in used
        },
        "legend_title": _LEGEND_TITLE[lang],
        "site_key": _SITE_KEY[lang],
        "trench_key": _TRENCH_KEY[lang],
        "track_key": _TRACK_KEY[lang],
        "note": figure_note(header.crs.shift, lang),
    }
