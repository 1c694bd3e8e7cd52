"""GPX 1.1: finds (and imported waypoints) as waypoints, tracks as tracks, routes as routes —
what a handheld GPS can take back into the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from field_server.adapters.exports.xml_text import attr, text, utc_time
from field_server.domain.export_layers import ExportSource, FindFeature, TrackFeature

DECIMALS = 8


def _wpt(tag: str, point: list[Any], name: str | None = None) -> str:
    lon, lat = float(point[0]), float(point[1])
    parts = [f'<{tag} lat="{lat:.{DECIMALS}f}" lon="{lon:.{DECIMALS}f}">']
    if len(point) > 2 and point[2] is not None:
        parts.append(f"<ele>{float(point[2]):.3f}</ele>")
    moment = utc_time(point[3]) if len(point) > 3 else None
    if moment:
        parts.append(f"<time>{moment}</time>")
    label = name if name is not None else (point[4] if len(point) > 4 else None)
    if label:
        parts.append(f"<name>{text(label)}</name>")
    parts.append(f"</{tag}>")
    return "".join(parts)


def _find_wpt(find: FindFeature, thumb_url: Any) -> str:
    values = find.values
    parts = [f'<wpt lat="{find.lat:.{DECIMALS}f}" lon="{find.lon:.{DECIMALS}f}">']
    if values["elevation_m"] is not None:
        parts.append(f"<ele>{float(values['elevation_m']):.3f}</ele>")
    moment = utc_time(values["recorded_at"])
    if moment:
        parts.append(f"<time>{moment}</time>")
    parts.append(f"<name>{text(values['find_number'])}</name>")
    where = " / ".join(str(values[k]) for k in ("site_code", "trench", "context") if values[k])
    if where:
        parts.append(f"<cmt>{text(where)}</cmt>")
    parts.append(f"<desc>{text(values['object_name'])}</desc>")
    parts.append("<src>Qazba</src>")
    for sha in (values["photos"] or "").split():
        parts.append(f"<link href={attr(thumb_url(sha))}><type>image/jpeg</type></link>")
    parts.append(f"<type>{text(values['material'])}</type>")
    parts.append("</wpt>")
    return "".join(parts)


def _line(tag: str, point_tag: str, track: TrackFeature) -> str:
    points = "".join(_wpt(point_tag, p) for p in track.points)
    name = f"<name>{text(track.name)}</name>" if track.name else ""
    src = f"<src>{text(track.source_file)}</src>"
    if tag == "trk":
        return f"<trk>{name}{src}<trkseg>{points}</trkseg></trk>"
    return f"<rte>{name}{src}{points}</rte>"


def write_gpx(source: ExportSource, *, bom: bool = False) -> Iterator[bytes]:
    header = source.header
    title = f"{header.expedition_code} — {header.expedition_title}"
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="Qazba" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
        'http://www.topografix.com/GPX/1/1/gpx.xsd">\n'
        f"<metadata><name>{text(title)}</name>"
        f"<desc>{text('WGS 84 (EPSG:4326). ' + header.crs.shift.describe())}</desc>"
        f"<time>{header.exported_at.strftime('%Y-%m-%dT%H:%M:%SZ')}</time></metadata>\n"
    ).encode()
    for chunk in source.find_chunks():
        yield (
            "\n".join(_find_wpt(f, header.photo_thumb_url) for f in chunk.features()).encode()
            + b"\n"
        )
    # GPX orders waypoints, then routes, then tracks; tracks are few, so they are read thrice
    for track in source.tracks():
        if track.kind == "waypoints":
            yield "\n".join(_wpt("wpt", p) for p in track.points).encode() + b"\n"
    for kind, tag, point_tag in (("route", "rte", "rtept"), ("track", "trk", "trkpt")):
        for track in source.tracks():
            if track.kind == kind and track.points:
                yield _line(tag, point_tag, track).encode() + b"\n"
    yield b"</gpx>\n"
