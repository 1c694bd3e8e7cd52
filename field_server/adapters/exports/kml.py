"""KML 2.2 for Google Earth: a folder per site with its boundary and finds, a style per
material, photo thumbnails in the finds' descriptions, derived trenches and tracks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from field_core.contract import MATERIAL_CODES, material_label
from shapely.geometry.base import BaseGeometry

from field_server.adapters.exports.xml_text import attr, text
from field_server.domain.export_layers import ExportHeader, ExportSource, FindFeature, SiteFeature

DECIMALS = 8
# one colour per material, as KML's aabbggrr
_PALETTE = (
    "ff3c78d8", "ff1c9ef2", "ff5d5d5d", "ff00d7ff", "ff9e9e9e", "ff404040", "fff5f5dc",
    "ffb0c4de", "ffd3d3ff", "ff13458b", "ff2f6b55", "ffc8a2c8", "ffe6d8ad", "ff2222b2",
    "ff008080", "ff8b3d48", "ff111111", "ff60a4f4", "ffff00ff",
)  # fmt: skip
ICON = "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"


def _coords(coords: Any) -> str:
    return " ".join(f"{x:.{DECIMALS}f},{y:.{DECIMALS}f}" for x, y, *_ in coords)


def geometry_kml(geometry: BaseGeometry) -> str:
    kind = geometry.geom_type
    if kind == "Polygon":
        inner = "".join(
            f"<innerBoundaryIs><LinearRing><coordinates>{_coords(r.coords)}</coordinates>"
            "</LinearRing></innerBoundaryIs>"
            for r in geometry.interiors
        )
        return (
            "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
            f"{_coords(geometry.exterior.coords)}</coordinates></LinearRing></outerBoundaryIs>"
            f"{inner}</Polygon>"
        )
    if kind == "LineString":
        return f"<LineString><coordinates>{_coords(geometry.coords)}</coordinates></LineString>"
    if kind.startswith("Multi") or kind == "GeometryCollection":
        return (
            "<MultiGeometry>"
            + "".join(geometry_kml(g) for g in geometry.geoms)
            + "</MultiGeometry>"
        )
    if kind == "Point":
        return f"<Point><coordinates>{_coords(geometry.coords)}</coordinates></Point>"
    raise ValueError(f"no KML for {kind}")


def _data(values: dict[str, Any]) -> str:
    return (
        "<ExtendedData>"
        + "".join(
            f"<Data name={attr(k)}><value>{text(v)}</value></Data>"
            for k, v in values.items()
            if v is not None
        )
        + "</ExtendedData>"
    )


def _styles() -> str:
    parts = []
    for index, code in enumerate(MATERIAL_CODES):
        colour = _PALETTE[index % len(_PALETTE)]
        parts.append(
            f'<Style id="material-{code}"><IconStyle><color>{colour}</color><scale>0.8</scale>'
            f"<Icon><href>{ICON}</href></Icon></IconStyle></Style>"
        )
    parts.append(
        '<Style id="site"><LineStyle><color>ff0000ff</color><width>2</width></LineStyle>'
        "<PolyStyle><color>330000ff</color></PolyStyle></Style>"
        '<Style id="trench"><LineStyle><color>ff00a5ff</color><width>1.5</width></LineStyle>'
        "<PolyStyle><color>4400a5ff</color></PolyStyle></Style>"
        '<Style id="track"><LineStyle><color>ffff0000</color><width>2</width></LineStyle></Style>'
    )
    return "".join(parts)


def _find_placemark(find: FindFeature, header: ExportHeader) -> str:
    values = find.values
    label = material_label(values["material"], "ru")
    rows = [
        ("Объект / Object", values["object_name"]),
        ("Материал / Material", label),
        ("Контекст / Context", values["context"]),
        ("Дата / Found on", values["found_on"]),
    ]
    html = "<h3>{}</h3><p>{}</p>".format(
        text(values["find_number"]),
        "<br/>".join(f"{text(k)}: {text(v)}" for k, v in rows if v),
    )
    html += "".join(
        f'<img src={attr(header.photo_thumb_url(sha))} width="160"/>'
        for sha in (values["photos"] or "").split()
    )
    elevation = values["elevation_m"]
    coordinates = f"{find.lon:.{DECIMALS}f},{find.lat:.{DECIMALS}f}" + (
        f",{float(elevation):.3f}" if elevation is not None else ""
    )
    return (
        f"<Placemark><name>{text(values['find_number'])}</name>"
        f"<description>{text(html)}</description>"
        f"<styleUrl>#material-{values['material']}</styleUrl>"
        + _data(
            {
                name: values[name]
                for name in (
                    "uuid",
                    "material",
                    "trench",
                    "context",
                    "status",
                    "register_number",
                    "horizontal_accuracy_m",
                )
            }
        )
        + f"<Point><coordinates>{coordinates}</coordinates></Point></Placemark>"
    )


def _open_site(site: SiteFeature | None, code: str | None) -> str:
    if code is None:
        return "<Folder><name>Без памятника / No site</name>"
    if site is None:
        return f"<Folder><name>{text(code)}</name>"
    return (
        f"<Folder><name>{text(site.code + ' — ' + site.name)}</name>"
        f"<Placemark><name>{text(site.name)}</name><styleUrl>#site</styleUrl>"
        + _data({"site_code": site.code})
        + geometry_kml(site.geometry)
        + "</Placemark>"
    )


def write_kml(source: ExportSource, *, bom: bool = False) -> Iterator[bytes]:
    header = source.header
    title = f"{header.expedition_code} — {header.expedition_title}"
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><name>{text(title)}</name>"
        f"<description>{text('WGS 84 (EPSG:4326). ' + header.crs.shift.describe())}</description>"
        + _styles()
        + _data(
            {
                "crs": "WGS 84 (EPSG:4326)",
                "datum_transformation": header.crs.shift.describe(),
                "exported_at": header.exported_at.isoformat(),
                **{f"filter_{k}": v for k, v in header.filters.items()},
            }
        )
        + "\n"
    ).encode()
    sites = {s.code: s for s in source.sites()}
    shown: set[str] = set()
    current: object = ...  # no folder open yet
    for chunk in source.find_chunks():
        parts = []
        for find in chunk.features():
            code = find.values["site_code"]
            if code != current:
                if current is not ...:
                    parts.append("</Folder>\n")
                parts.append(_open_site(None if code in shown else sites.get(code), code))
                if code is not None:
                    shown.add(code)
                current = code
            parts.append(_find_placemark(find, header))
        yield "".join(parts).encode()
    tail = ["</Folder>\n"] if current is not ... else []
    for code, site in sites.items():
        if code not in shown:
            tail.append(_open_site(site, code) + "</Folder>\n")
    trenches = source.trenches()
    if trenches:
        tail.append("<Folder><name>Раскопы / Trenches (outline from finds)</name>")
        for trench in trenches:
            name = f"{trench.site_code or ''} {trench.trench}".strip()
            tail.append(
                f"<Placemark><name>{text(name)}</name><styleUrl>#trench</styleUrl>"
                + _data({"site_code": trench.site_code, "trench": trench.trench,
                         "find_count": trench.find_count})
                + geometry_kml(trench.geometry)
                + "</Placemark>"
            )  # fmt: skip
        tail.append("</Folder>\n")
    yield "".join(tail).encode()
    parts = []
    for track in source.tracks():
        if track.kind == "waypoints":
            for point in track.points:
                name = point[4] if len(point) > 4 and point[4] else track.source_file
                parts.append(
                    f"<Placemark><name>{text(name)}</name><Point><coordinates>"
                    f"{float(point[0]):.{DECIMALS}f},{float(point[1]):.{DECIMALS}f}"
                    "</coordinates></Point></Placemark>"
                )
        elif len(track.points) >= 2:
            parts.append(
                f"<Placemark><name>{text(track.name or track.source_file)}</name>"
                "<styleUrl>#track</styleUrl><LineString><coordinates>"
                + _coords((float(p[0]), float(p[1])) for p in track.points)
                + "</coordinates></LineString></Placemark>"
            )
    if parts:
        yield ("<Folder><name>Треки / Tracks</name>" + "".join(parts) + "</Folder>\n").encode()
    yield b"</Document></kml>\n"
