"""Reading GPX 1.0 and 1.1 files into the wire contract's track data."""

# The XML is parsed once, by expat, into a tree that holds only what a track record needs
# (tracks, routes, waypoints; their names; each point's position, elevation, time and name).
# Everything else, device extensions above all, is dropped while the file streams past, so it
# can neither fail the import nor fill memory; gpxpy then reads that small tree. gpxpy.parse is
# not given the file itself: before parsing it runs regular expressions over the whole text,
# one of which takes quadratic time on a file full of stray "xmlns" words, and it decodes bytes
# as UTF-8 whatever the XML prolog declares.

from __future__ import annotations

import codecs
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import gpxpy.gpx
from gpxpy.gpxfield import gpx_fields_from_xml

from field_core.geo.coordinates import check_position
from field_core.geo.source_file import UnreadableFile, regular_file_size, source_file_name

__all__ = [
    "MAX_GPX_BYTES",
    "MAX_GPX_POINTS",
    "GpxError",
    "GpxImport",
    "GpxTrack",
    "WirePoint",
    "read_gpx",
    "read_gpx_bytes",
]

MAX_GPX_BYTES = 200 * 1024 * 1024
"""Largest GPX file read: a season of one-second logging is a few tens of megabytes."""

MAX_GPX_POINTS = 500_000
"""Most points one file may hold: the contract's limit for one track record."""

_ELEVATION_RANGE = (-100_000.0, 100_000.0)  # the contract's range for a point's elevation
_MAX_NAME = 500
_MAX_WARNINGS = 100
_CHUNK = 1 << 20

GPX_NAMESPACES = frozenset(
    {"http://www.topografix.com/GPX/1/0", "http://www.topografix.com/GPX/1/1"}
)

# Which children of each element the kept tree holds. The root is "gpx".
_KEEP: dict[str, frozenset[str]] = {
    "gpx": frozenset({"trk", "rte", "wpt"}),
    "trk": frozenset({"name", "trkseg"}),
    "trkseg": frozenset({"trkpt"}),
    "rte": frozenset({"name", "rtept"}),
    "trkpt": frozenset({"ele", "time", "name"}),
    "rtept": frozenset({"ele", "time", "name"}),
    "wpt": frozenset({"ele", "time", "name"}),
    "ele": frozenset(),
    "time": frozenset(),
    "name": frozenset(),
}
_POINTS = frozenset({"trkpt", "rtept", "wpt"})
_LEAVES = frozenset({"ele", "time", "name"})

# XSD decimals, with an exponent tolerated; float() alone would also take "nan", "1_000" and
# non-ASCII digits.
_DECIMAL = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
_WORLD = (-180.0, -90.0, 180.0, 90.0)
_WAYPOINTS = ("waypoints", 0)  # the key the file's waypoints are counted under
_PROLOG_ENCODING = re.compile(
    rb"<\?xml[^>]{0,300}?\bencoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]{0,63})[\"']"
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_SPACE = b" \t\r\n"
_ENTITY_DECLARATION = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)

Kind = Literal["track", "route", "waypoints"]
WirePoint = list[Any]
"""[lon, lat, ele | None, time (RFC 3339, UTC) | None, name | None]"""


class GpxError(UnreadableFile):
    """A file that is not GPX or cannot be read; str() is one line naming the file."""


@dataclass(frozen=True)
class GpxTrack:
    """One track, route or the file's waypoints, as wire track data without the survey."""

    kind: Kind
    name: str | None
    source_file: str
    points: list[WirePoint]

    def track_data(self, survey_uuid: str) -> dict[str, Any]:
        """The wire `track` data of this track for the given survey."""
        return {
            "survey_uuid": survey_uuid,
            "kind": self.kind,
            "name": self.name,
            "source_file": self.source_file,
            "points": self.points,
        }


@dataclass(frozen=True)
class GpxImport:
    """What one GPX file gave: its tracks, routes and waypoints, and what was skipped."""

    source_file: str
    version: str
    tracks: list[GpxTrack]
    warnings: list[str] = field(default_factory=list)


def read_gpx(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_GPX_BYTES,
    max_points: int = MAX_GPX_POINTS,
) -> GpxImport:
    """Read a GPX file; raise GpxError when it is not GPX, too big, damaged or hostile.

    A well-formed GPX file always gives a GpxImport, also when nothing in it can be used:
    empty tracks, routes and segments and points without a usable position are skipped with
    a warning each.
    """
    source = source_file_name(path)
    try:
        size = regular_file_size(path)
        if size > max_bytes:
            raise GpxError(source, _too_big(size, max_bytes))
        with open(path, "rb") as stream:
            # Read one byte more than allowed: a file still growing is caught too.
            raw = stream.read(max_bytes + 1)
    except OSError as error:
        raise GpxError(source, f"cannot be read: {error.strerror or error}") from None
    if len(raw) > max_bytes:
        raise GpxError(source, _too_big(len(raw), max_bytes))
    text = _decode(raw, source)
    del raw  # a big file is held three times otherwise: bytes, text and tree
    return _read_text(text, source, max_points)


def read_gpx_bytes(raw: bytes, source_file: str, *, max_points: int = MAX_GPX_POINTS) -> GpxImport:
    """Read GPX content already in memory; source_file names it in records and messages."""
    return _read_text(_decode(raw, source_file), source_file, max_points)


def _read_text(text: str, source: str, max_points: int) -> GpxImport:
    if _ENTITY_DECLARATION.search(text):
        raise GpxError(
            source,
            "declares a DOCTYPE or ENTITY, which GPX never needs; refused, as such "
            "declarations are how XML entity attacks work",
        )
    kept = _KeptTree(source, max_points)
    parser = ET.XMLParser(target=kept)
    try:
        for start in range(0, len(text), _CHUNK):
            parser.feed(text[start : start + _CHUNK])
        root = parser.close()
    except ET.ParseError as error:
        if kept.root_seen:
            reason = f"is cut off or damaged, the XML ends badly ({error})"
        else:
            reason = f"is not a GPX file: not well-formed XML ({error})"
        raise GpxError(source, reason) from None
    del text, parser
    version = kept.version()
    # gpxpy.parse would serialise and parse the tree again; this is the step it ends with.
    try:
        gpx = gpx_fields_from_xml(gpxpy.gpx.GPX(), root, version)
    except gpxpy.gpx.GPXException as error:
        raise GpxError(source, f"is not readable GPX: {error}") from None
    return _to_tracks(gpx, source, version, kept)


def _too_big(size: int, limit: int) -> str:
    return f"is {size / 1e6:.1f} MB, above the {limit / 1e6:.0f} MB a GPX import takes"


def _decode(raw: bytes, source: str) -> str:
    """The file's text: a byte order mark wins, then the prolog's encoding, then UTF-8."""
    # The BOM-reading codecs drop the mark themselves, so a big file is not copied to cut it.
    encoding = next((codec for bom, codec in _BOMS if raw.startswith(bom)), None)
    if encoding is None:
        if raw[:2] == b"<\x00":
            encoding = "utf-16-le"
        elif raw[:2] == b"\x00<":
            encoding = "utf-16-be"
        else:
            head = raw.lstrip(_XML_SPACE)  # the same object unless the file starts blank
            # Checked on the bytes, so a photo or a PDF named .gpx is not reported as bad UTF-8.
            _check_first_character(head[:1].decode("latin-1"), source)
            declared = _PROLOG_ENCODING.match(head)
            encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise GpxError(source, f"declares an encoding Python does not know: {encoding}") from None
    except UnicodeError as error:
        start = getattr(error, "start", 0)
        raise GpxError(
            source, f"is not valid {encoding} text (byte {start}); is the declared encoding right?"
        ) from None
    _check_first_character(text.lstrip(_XML_SPACE.decode())[:1], source)
    return text


def _check_first_character(character: str, source: str) -> None:
    if not character:
        raise GpxError(source, "is empty, not a GPX file")
    if character != "<":
        raise GpxError(source, "is not a GPX file: it holds no XML")


class _KeptTree:
    """An ElementTree parser target that builds only the elements listed in _KEEP.

    Tags lose their GPX namespace (whatever URI the root uses, since some apps write a wrong
    one), elements of other namespaces are skipped with everything inside them, and points
    whose position is unusable are skipped and counted. It runs once per element of the file,
    so it is written for speed.
    """

    def __init__(self, source: str, max_points: int) -> None:
        self._source = source
        self._max_points = max_points
        self._builder = ET.TreeBuilder()
        self._open: list[str] = []
        self._in_leaf = False
        self._skipping = 0
        self._names: dict[str, str] = {}  # tag -> local name, "" for other namespaces
        self._root_namespace = ""
        self._root_version: str | None = None
        self._container: tuple[str, int] = _WAYPOINTS
        self._counters = {"trk": 0, "rte": 0}
        self.points = 0
        self.root_seen = False
        self.bad_positions: dict[tuple[str, int], int] = {}
        self.bad_elevations: dict[tuple[str, int], int] = {}

    def version(self) -> str:
        if self._root_namespace.endswith("/GPX/1/1"):
            return "1.1"
        if self._root_namespace.endswith("/GPX/1/0"):
            return "1.0"
        return "1.1" if self._root_version == "1.1" else "1.0"

    def _local(self, tag: str) -> str:
        local = tag
        if tag.startswith("{"):
            namespace, _, local = tag[1:].partition("}")
            if namespace != self._root_namespace and namespace not in GPX_NAMESPACES:
                local = ""
        # Remembered, as a file repeats a handful of tags; bounded, as a hostile one may not.
        if len(self._names) < 1000:
            self._names[tag] = local
        return local

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if self._skipping:
            self._skipping += 1
            return
        if not self._open:
            self._start_root(tag, attrib)
            return
        local = self._names.get(tag)
        if local is None:
            local = self._local(tag)
        if local not in _KEEP[self._open[-1]]:
            self._skipping = 1
            return
        kept: dict[str, str] = {}
        if local in _POINTS:
            kept = self._start_point(local, attrib)
            if not kept:
                self._skipping = 1
                return
        elif local == "trk" or local == "rte":
            self._counters[local] += 1
            self._container = (local, self._counters[local])
        self._open.append(local)
        self._in_leaf = local in _LEAVES
        self._builder.start(local, kept)

    def _start_root(self, tag: str, attrib: dict[str, str]) -> None:
        namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if local != "gpx":
            raise GpxError(self._source, f"is not a GPX file: its root element is <{local[:40]}>")
        self.root_seen = True
        self._root_namespace = namespace
        self._root_version = attrib.get("version")
        self._open.append("gpx")
        self._builder.start("gpx", {})

    def _start_point(self, local: str, attrib: dict[str, str]) -> dict[str, str]:
        """The point's kept attributes, or {} when its position is unusable."""
        self.points += 1
        if self.points > self._max_points:
            raise GpxError(
                self._source,
                f"holds more than {self._max_points:,} points, the most one import takes",
            )
        lat, lon = _decimal(attrib.get("lat")), _decimal(attrib.get("lon"))
        if lat is None or lon is None or check_position(lon, lat, _WORLD) is not None:
            container = _WAYPOINTS if local == "wpt" else self._container
            self.bad_positions[container] = self.bad_positions.get(container, 0) + 1
            return {}
        return {"lat": attrib["lat"].strip(), "lon": attrib["lon"].strip()}

    def end(self, tag: str) -> None:
        if self._skipping:
            self._skipping -= 1
            return
        local = self._open.pop()
        element = self._builder.end(local)
        if self._in_leaf:
            self._in_leaf = False
            if element.text is not None:
                element.text = element.text.strip()
                if local == "ele":
                    self._check_elevation(element)
        elif local == "trk" or local == "rte":
            self._container = _WAYPOINTS

    def _check_elevation(self, element: ET.Element) -> None:
        elevation = _decimal(element.text)
        if elevation is None or not _ELEVATION_RANGE[0] <= elevation <= _ELEVATION_RANGE[1]:
            # gpxpy reads an empty <ele> as no elevation; the point itself is kept.
            element.text = None
            container = _WAYPOINTS if self._open[-1] == "wpt" else self._container
            self.bad_elevations[container] = self.bad_elevations.get(container, 0) + 1

    def data(self, text: str) -> None:
        # Only leaves keep text: whitespace between elements would only take memory.
        if self._in_leaf and not self._skipping:
            self._builder.data(text)

    def close(self) -> ET.Element:
        return self._builder.close()


def _decimal(text: str | None) -> float | None:
    if text is None or not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _to_tracks(gpx: gpxpy.gpx.GPX, source: str, version: str, tree: _KeptTree) -> GpxImport:
    warnings = _Warnings()
    tracks: list[GpxTrack] = []

    for number, track in enumerate(gpx.tracks, start=1):
        label = _label("track", number, track.name)
        points: list[WirePoint] = []
        empty_segments: list[int] = []
        for segment_number, segment in enumerate(track.segments, start=1):
            if not segment.points:
                empty_segments.append(segment_number)
            points.extend(_wire_point(p) for p in segment.points)
        _note_dropped(warnings, label, tree, ("trk", number))
        if not points:
            warnings.add(f"{label} has no points; skipped")
            continue
        for segment_number in empty_segments:
            warnings.add(f"{label}: segment {segment_number} has no points; skipped")
        tracks.append(_result("track", track.name, source, points, label, warnings))

    for number, route in enumerate(gpx.routes, start=1):
        label = _label("route", number, route.name)
        points = [_wire_point(p) for p in route.points]
        _note_dropped(warnings, label, tree, ("rte", number))
        if not points:
            warnings.add(f"{label} has no points; skipped")
            continue
        tracks.append(_result("route", route.name, source, points, label, warnings))

    _note_dropped(warnings, "waypoints", tree, _WAYPOINTS)
    if gpx.waypoints:
        points = [_wire_point(p) for p in gpx.waypoints]
        tracks.append(GpxTrack("waypoints", None, source, points))

    if not tracks and not warnings.items:
        warnings.add("holds no tracks, routes or waypoints")
    return GpxImport(source, version, tracks, warnings.done())


def _result(
    kind: Kind,
    name: str | None,
    source: str,
    points: list[WirePoint],
    label: str,
    warnings: _Warnings,
) -> GpxTrack:
    if kind == "track" and all(point[3] is None for point in points):
        warnings.add(f"{label} has no times, so it cannot place photos")
    return GpxTrack(kind, _name(name), source, points)


def _wire_point(point: gpxpy.gpx.GPXTrackPoint | gpxpy.gpx.GPXRoutePoint) -> WirePoint:
    # Track points rarely carry a name, but a few apps write one (a lap, a marked spot).
    return [
        point.longitude,
        point.latitude,
        point.elevation,
        _utc_text(point.time),
        _name(point.name),
    ]


def _utc_text(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC; a time without a zone is UTC, as the GPX schema says."""
    if moment is None:
        return None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        # An offset of a day or more, or a date that leaves the calendar once moved to UTC.
        return None
    text = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _name(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()[:_MAX_NAME]
    return name or None


def _label(kind: str, number: int, name: str | None) -> str:
    short = " ".join((name or "").split())[:60]
    return f'{kind} {number} "{short}"' if short else f"{kind} {number}"


def _note_dropped(warnings: _Warnings, label: str, tree: _KeptTree, key: tuple[str, int]) -> None:
    if count := tree.bad_positions.get(key):
        warnings.add(f"{label}: {count} point(s) without a usable position skipped")
    if count := tree.bad_elevations.get(key):
        warnings.add(
            f"{label}: {count} elevation(s) unreadable or outside ±100 km; kept without elevation"
        )


class _Warnings:
    """Warnings one line each, at most _MAX_WARNINGS of them and a count of the rest."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._more = 0

    def add(self, text: str) -> None:
        if len(self.items) < _MAX_WARNINGS:
            self.items.append(text)
        else:
            self._more += 1

    def done(self) -> list[str]:
        if self._more:
            return [*self.items, f"and {self._more} more warning(s) like these"]
        return list(self.items)
