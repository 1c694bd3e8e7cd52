"""GPX files and photos as field devices write them, and hostile ones (decompression bombs,
truncated files, XXE, entity expansion), as files in a test's folder or as bytes; and the wire
records that name photos."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

# Near the Dombauyl mausoleum (DMB), where the sample survey works.
LON, LAT = 67.8447, 48.1933

GPX11_ROOT = (
    '<gpx xmlns="http://www.topografix.com/GPX/1/1" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
    'http://www.topografix.com/GPX/1/1/gpx.xsd"'
)


def _write(folder: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


# --------------------------------------------------------------------------- GPX, as devices write


def gpx10_gpsbabel(folder: Path) -> Path:
    """GPX 1.0 as GPSBabel converts an old Garmin's log: bounds, course and speed, a waypoint."""
    return _write(
        folder,
        "gpsbabel-10.gpx",
        """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.0" creator="GPSBabel - https://www.gpsbabel.org"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns="http://www.topografix.com/GPX/1/0"
 xsi:schemaLocation="http://www.topografix.com/GPX/1/0 http://www.topografix.com/GPX/1/0/gpx.xsd">
<time>2026-07-08T06:10:00Z</time>
<bounds minlat="48.193000000" minlon="67.844700000" maxlat="48.193400000" maxlon="67.845100000"/>
<wpt lat="48.193300000" lon="67.844700000">
  <ele>428.100000</ele>
  <time>2026-07-08T05:00:00Z</time>
  <name>DMB-1</name>
  <cmt>datum</cmt>
  <desc>datum</desc>
  <sym>Flag, Blue</sym>
</wpt>
<trk>
  <name>ACTIVE LOG</name>
  <number>1</number>
<trkseg>
<trkpt lat="48.193000000" lon="67.844700000">
  <ele>427.900000</ele>
  <time>2026-07-08T05:40:00Z</time>
  <course>45.000000</course>
  <speed>0.900000</speed>
</trkpt>
<trkpt lat="48.193200000" lon="67.844900000">
  <ele>428.000000</ele>
  <time>2026-07-08T05:41:00Z</time>
  <course>45.000000</course>
  <speed>0.800000</speed>
</trkpt>
<trkpt lat="48.193400000" lon="67.845100000">
  <ele>428.300000</ele>
  <time>2026-07-08T05:42:00Z</time>
</trkpt>
</trkseg>
</trk>
</gpx>
""",
    )


def gpx11_garmin(folder: Path) -> Path:
    """GPX 1.1 from a Garmin handheld: gpxx and gpxtpx extensions on tracks, points and routes.

    The route's extension holds Garmin's autorouting points (gpxx:rpt, with lat and lon), which
    are not route points and must not become any.
    """
    return _write(
        folder,
        "Track_2026-07-08 104500.gpx",
        f"""<?xml version="1.0" encoding="utf-8" standalone="no"?>
{GPX11_ROOT} xmlns:gpxx="http://www.garmin.com/xmlschemas/GpxExtensions/v3"
 xmlns:wptx1="http://www.garmin.com/xmlschemas/WaypointExtension/v1"
 xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
 creator="GPSMAP 66sr" version="1.1">
  <metadata>
    <link href="http://www.garmin.com"><text>Garmin International</text></link>
    <time>2026-07-08T05:45:00Z</time>
  </metadata>
  <wpt lat="48.1934961" lon="67.8463104">
    <ele>428.4</ele>
    <time>2026-07-08T05:46:10Z</time>
    <name>Р-2 NE</name>
    <sym>Flag, Green</sym>
    <extensions>
      <gpxx:WaypointExtension><gpxx:DisplayMode>SymbolAndName</gpxx:DisplayMode></gpxx:WaypointExtension>
      <wptx1:WaypointExtension><wptx1:DisplayMode>SymbolAndName</wptx1:DisplayMode></wptx1:WaypointExtension>
    </extensions>
  </wpt>
  <rte>
    <name>Лагерь – Домбауыл</name>
    <extensions><gpxx:RouteExtension><gpxx:IsAutoNamed>false</gpxx:IsAutoNamed>
      <gpxx:DisplayColor>Magenta</gpxx:DisplayColor></gpxx:RouteExtension></extensions>
    <rtept lat="48.1900000" lon="67.8400000">
      <name>Лагерь</name>
      <extensions><gpxx:RoutePointExtension><gpxx:Subclass>000000000000FFFFFFFFFFFFFFFF</gpxx:Subclass>
        <gpxx:rpt lat="48.1910000" lon="67.8420000"/><gpxx:rpt lat="48.1920000" lon="67.8430000"/>
      </gpxx:RoutePointExtension></extensions>
    </rtept>
    <rtept lat="48.1933000" lon="67.8447000"><name>ДМБ-1</name></rtept>
  </rte>
  <trk>
    <name>2026-07-08 10:45:00</name>
    <extensions>
      <gpxx:TrackExtension><gpxx:DisplayColor>Cyan</gpxx:DisplayColor></gpxx:TrackExtension>
    </extensions>
    <trkseg>
      <trkpt lat="48.1930010" lon="67.8446020">
        <ele>427.62</ele>
        <time>2026-07-08T05:45:00Z</time>
        <extensions>
          <gpxtpx:TrackPointExtension><gpxtpx:atemp>31.0</gpxtpx:atemp></gpxtpx:TrackPointExtension>
        </extensions>
      </trkpt>
      <trkpt lat="48.1931020" lon="67.8447030">
        <ele>427.81</ele>
        <time>2026-07-08T05:45:10Z</time>
        <extensions>
          <gpxtpx:TrackPointExtension><gpxtpx:atemp>31.5</gpxtpx:atemp></gpxtpx:TrackPointExtension>
        </extensions>
      </trkpt>
    </trkseg>
  </trk>
</gpx>
""",
    )


def gpx11_phone_subsecond(folder: Path) -> Path:
    """A phone logger: millisecond times, hdop and its own extensions, no elevation on one point."""
    return _write(
        folder,
        "20260708-phone.gpx",
        f"""<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
{GPX11_ROOT} version="1.1" creator="Android GPSLogger 131 - http://gpslogger.mendhak.com/">
<metadata><time>2026-07-08T05:40:00.000Z</time></metadata>
<trk><name>20260708</name><trkseg>
<trkpt lat="48.1930000" lon="67.8447000"><ele>440.0</ele><time>2026-07-08T05:40:01.250Z</time>
<course>12.0</course><speed>0.5</speed><geoidheight>-41.0</geoidheight><src>gps</src><sat>9</sat>
<hdop>0.9</hdop><pdop>1.4</pdop></trkpt>
<trkpt lat="48.1931000" lon="67.8448000"><time>2026-07-08T05:40:03.7Z</time><src>gps</src>
<sat>9</sat><hdop>1.1</hdop></trkpt>
<trkpt lat="48.1932000" lon="67.8449000"><ele>441.5</ele>
<time>2026-07-08T10:40:05.123456+05:00</time><extensions><speed>0.7</speed></extensions></trkpt>
</trkseg></trk>
</gpx>
""",
    )


def gpx11_osmand(folder: Path) -> Path:
    """OsmAnd: its own namespace on tracks, points and waypoints, and a waypoint group."""
    return _write(
        folder,
        "2026-07-08_10-40_Wed.gpx",
        """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<gpx version="1.1" creator="OsmAnd~ 4.7.8" xmlns="http://www.topografix.com/GPX/1/1"
 xmlns:osmand="https://osmand.net" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:schemaLocation="http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd">
  <metadata>
    <name>2026-07-08_10-40_Wed</name>
  </metadata>
  <wpt lat="48.1934" lon="67.8452">
    <time>2026-07-08T05:50:00Z</time>
    <name>керамика</name>
    <type>Finds</type>
    <extensions>
      <osmand:icon>special_star</osmand:icon>
      <osmand:background>circle</osmand:background>
      <osmand:color>#eecc22</osmand:color>
    </extensions>
  </wpt>
  <trk>
    <name>2026-07-08_10-40_Wed</name>
    <trkseg>
      <trkpt lat="48.1933" lon="67.8447">
        <ele>429.1</ele>
        <time>2026-07-08T05:40:00Z</time>
        <hdop>3.8</hdop>
        <extensions>
          <osmand:speed>0.6</osmand:speed>
          <osmand:bearing>74.0</osmand:bearing>
        </extensions>
      </trkpt>
      <trkpt lat="48.1934" lon="67.8449">
        <ele>429.4</ele>
        <time>2026-07-08T05:40:05Z</time>
        <hdop>3.9</hdop>
      </trkpt>
    </trkseg>
    <extensions>
      <osmand:color>#ff3400</osmand:color>
      <osmand:width>thin</osmand:width>
    </extensions>
  </trk>
  <extensions>
    <osmand:points_groups>
      <group name="Finds" color="#eecc22" icon="special_star" background="circle" />
    </osmand:points_groups>
  </extensions>
</gpx>
""",
    )


def gpx_without_times(folder: Path) -> Path:
    """A track drawn in a planning app and exported: positions, no times, no elevations."""
    return _write(
        folder,
        "planned.gpx",
        f"""<?xml version="1.0" encoding="UTF-8"?>
{GPX11_ROOT} version="1.1" creator="Planner">
<trk><name>Walk around the fence</name><trkseg>
<trkpt lat="48.1926575" lon="67.8434361"/>
<trkpt lat="48.1925381" lon="67.8449863"/>
<trkpt lat="48.1928195" lon="67.8461237"/>
</trkseg></trk>
</gpx>
""",
    )


def gpx_with_bom(folder: Path) -> Path:
    """UTF-8 with a byte order mark, as Windows tools write it, and Kazakh names."""
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
{GPX11_ROOT} version="1.1" creator="Notepad">
<wpt lat="48.1933" lon="67.8447"><name>Домбауыл, бақылау нүктесі Ә Ғ Қ Ң Ө Ұ Ү Һ І</name></wpt>
</gpx>
"""
    return _write(folder, "bom.gpx", b"\xef\xbb\xbf" + body.encode("utf-8"))


def gpx_latin1(folder: Path) -> Path:
    """ISO-8859-1 declared in the prolog (an old European desktop tool)."""
    body = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
{GPX11_ROOT} version="1.1" creator="Ancien logiciel">
<trk><name>Relevé à l'église</name><trkseg>
<trkpt lat="48.1933" lon="67.8447"><time>2026-07-08T05:40:00Z</time><name>Point über</name></trkpt>
</trkseg></trk>
</gpx>
"""
    return _write(folder, "latin1.gpx", body, encoding="iso-8859-1")


def gpx_windows1251(folder: Path) -> Path:
    """Windows-1251 declared in the prolog (an old Russian converter)."""
    body = """<?xml version="1.0" encoding="windows-1251"?>
<gpx version="1.0" creator="Конвертер" xmlns="http://www.topografix.com/GPX/1/0">
<wpt lat="48.1933" lon="67.8447"><name>Репер ДМБ-1</name></wpt>
</gpx>
"""
    return _write(folder, "cp1251.gpx", body, encoding="windows-1251")


def gpx_utf16(folder: Path) -> Path:
    """UTF-16 with a byte order mark, as some Windows software saves XML."""
    body = """<?xml version="1.0" encoding="UTF-16"?>
<gpx version="1.1" creator="Win" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="48.1933" lon="67.8447"><name>Ұлытау</name></wpt>
</gpx>
"""
    return _write(folder, "utf16.gpx", body.encode("utf-16"))


def gpx_times_without_zone(folder: Path) -> Path:
    """Times with no zone, which the GPX schema says are UTC."""
    return _write(
        folder,
        "nozone.gpx",
        f"""<?xml version="1.0"?>
{GPX11_ROOT} version="1.1" creator="Logger">
<trk><trkseg>
<trkpt lat="48.1930" lon="67.8447"><time>2026-07-08T05:40:00</time></trkpt>
<trkpt lat="48.1931" lon="67.8448"><time>  2026-07-08T05:40:10.5
</time></trkpt>
</trkseg></trk>
</gpx>
""",
    )


def gpx_empty_parts(folder: Path) -> Path:
    """A track with an empty segment between two real ones, an empty track, an empty route."""
    return _write(
        folder,
        "gaps.gpx",
        f"""<?xml version="1.0" encoding="UTF-8"?>
{GPX11_ROOT} version="1.1" creator="eTrex 22x">
<trk><name>Day 1</name>
<trkseg><trkpt lat="48.1930" lon="67.8447"><time>2026-07-08T05:40:00Z</time></trkpt></trkseg>
<trkseg></trkseg>
<trkseg><trkpt lat="48.1931" lon="67.8448"><time>2026-07-08T05:50:00Z</time></trkpt></trkseg>
</trk>
<trk><name>Day 2</name><trkseg/></trk>
<rte><name>nowhere</name></rte>
</gpx>
""",
    )


def gpx_routes(folder: Path) -> Path:
    """Two planned routes with named points and no times."""
    return _write(
        folder,
        "routes.gpx",
        f"""<?xml version="1.0" encoding="UTF-8"?>
{GPX11_ROOT} version="1.1" creator="Route planner">
<rte><name>To Alasha Khan</name>
<rtept lat="48.1933" lon="67.8447"><name>Dombauyl</name></rtept>
<rtept lat="48.2800" lon="67.8440"><ele>431</ele><name>Ford</name></rtept>
<rtept lat="48.3675" lon="67.8431"><name>Alasha Khan</name></rtept>
</rte>
<rte><rtept lat="48.1933" lon="67.8447"/><rtept lat="48.1940" lon="67.8450"/></rte>
</gpx>
""",
    )


def gpx_waypoints_only(folder: Path) -> Path:
    return _write(
        folder,
        "waypoints.gpx",
        f"""<?xml version="1.0" encoding="UTF-8"?>
{GPX11_ROOT} version="1.1" creator="eTrex 32x">
<wpt lat="48.1933" lon="67.8447"><ele>428.1</ele><time>2026-07-06T04:00:00Z</time>
<name>ДМБ-1</name></wpt>
<wpt lat="48.1936534" lon="67.8438806"><ele>428.7</ele><name>017</name></wpt>
<wpt lat="48.1930343" lon="67.8456533"></wpt>
</gpx>
""",
    )


def gpx_odd_values(folder: Path) -> Path:
    """Points without a usable position and elevations no contract accepts, among good ones."""
    return _write(
        folder,
        "odd.gpx",
        f"""<?xml version="1.0" encoding="UTF-8"?>
{GPX11_ROOT} version="1.1" creator="Broken app">
<trk><name>odd</name><trkseg>
<trkpt lat="48.1930" lon="67.8447"><ele>427.5</ele><time>2026-07-08T05:40:00Z</time></trkpt>
<trkpt lat="" lon="67.8447"><time>2026-07-08T05:40:01Z</time></trkpt>
<trkpt lat="95.0" lon="67.8447"/>
<trkpt lat="0" lon="0"><ele>0</ele></trkpt>
<trkpt lat="nan" lon="67.8447"/>
<trkpt lat="48,1930" lon="67,8447"/>
<trkpt lat="48.1931" lon="67.8448"><ele>250000</ele><time>2026-07-08T05:40:02Z</time></trkpt>
<trkpt lat="48.1932" lon="67.8449"><ele>NaN</ele><time>not a time</time></trkpt>
<trkpt lat="48.1933" lon="67.8450"><ele>four hundred</ele></trkpt>
</trkseg></trk>
</gpx>
""",
    )


def gpx_prefixed_namespace(folder: Path) -> Path:
    """The GPX namespace on a prefix rather than as the default, as some XML libraries write."""
    return _write(
        folder,
        "prefixed.gpx",
        """<?xml version="1.0" encoding="UTF-8"?>
<g:gpx xmlns:g="http://www.topografix.com/GPX/1/1" version="1.1" creator="lib">
<g:trk><g:name>prefixed</g:name><g:trkseg>
<g:trkpt lat="48.1930" lon="67.8447"><g:time>2026-07-08T05:40:00Z</g:time></g:trkpt>
</g:trkseg></g:trk>
</g:gpx>
""",
    )


def gpx_nothing(folder: Path) -> Path:
    """A well-formed GPX file with nothing in it but metadata."""
    return _write(
        folder,
        "nothing.gpx",
        f'<?xml version="1.0"?>\n{GPX11_ROOT} version="1.1" creator="x">'
        "<metadata><name>empty</name></metadata></gpx>",
    )


WELL_FORMED_GPX: dict[str, Callable[[Path], Path]] = {
    "GPX 1.0 from GPSBabel": gpx10_gpsbabel,
    "GPX 1.1 from a Garmin with extensions": gpx11_garmin,
    "a phone logger with sub-second times": gpx11_phone_subsecond,
    "OsmAnd": gpx11_osmand,
    "no times": gpx_without_times,
    "a byte order mark": gpx_with_bom,
    "ISO-8859-1": gpx_latin1,
    "Windows-1251": gpx_windows1251,
    "UTF-16": gpx_utf16,
    "times without a zone": gpx_times_without_zone,
    "empty segments and tracks": gpx_empty_parts,
    "routes": gpx_routes,
    "waypoints only": gpx_waypoints_only,
    "odd values": gpx_odd_values,
    "a prefixed namespace": gpx_prefixed_namespace,
    "nothing": gpx_nothing,
}


# --------------------------------------------------------------------------- GPX, hostile


def gpx_xxe(folder: Path, secret: Path) -> Path:
    """An external entity that would pull a local file into a waypoint's name."""
    return _write(
        folder,
        "xxe.gpx",
        f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file://{secret}">]>
{GPX11_ROOT} version="1.1" creator="x"><wpt lat="48.19" lon="67.84"><name>&xxe;</name></wpt></gpx>
""",
    )


def gpx_billion_laughs(folder: Path) -> Path:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    return _write(
        folder,
        "laughs.gpx",
        '<?xml version="1.0"?>\n<!DOCTYPE gpx [' + "".join(entities) + "]>\n"
        f'{GPX11_ROOT} version="1.1" creator="x"><wpt lat="48.19" lon="67.84">'
        "<name>&lol9;</name></wpt></gpx>\n",
    )


def gpx_entity_in_utf16(folder: Path) -> Path:
    """An entity declaration hidden from a byte scan by the UTF-16 encoding."""
    body = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE gpx [<!ENTITY a "b">]>\n'
        '<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="1" lon="1">'
        "<name>&a;</name></wpt></gpx>"
    )
    return _write(folder, "hidden.gpx", body.encode("utf-16"))


def text_named_gpx(folder: Path) -> Path:
    return _write(folder, "notes.gpx", "Day 3: walked the fence line, no GPS today.\n")


def kml_named_gpx(folder: Path) -> Path:
    return _write(
        folder,
        "placemarks.gpx",
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>',
    )


def jpeg_named_gpx(folder: Path) -> Path:
    return _write(folder, "photo.gpx", jpeg_bytes())


def truncated_gpx(folder: Path) -> Path:
    whole = gpx11_garmin(folder).read_bytes()
    return _write(folder, "cut.gpx", whole[: len(whole) * 2 // 3])


def gpx_with_stray_xmlns(folder: Path, count: int = 40_000) -> Path:
    """Many 'xmlns' words in a name, which make a regular expression in gpxpy.parse quadratic."""
    return _write(
        folder,
        "xmlns.gpx",
        f'<?xml version="1.0"?>\n{GPX11_ROOT} version="1.1" creator="x">'
        f'<wpt lat="48.19" lon="67.84"><name>{" xmlns" * count}</name></wpt></gpx>\n',
    )


def gpx_with_points(folder: Path, count: int) -> Path:
    points = "".join(f'<trkpt lat="48.{n % 10000:04d}" lon="67.8447"/>' for n in range(count))
    return _write(
        folder,
        f"points-{count}.gpx",
        f'<?xml version="1.0"?>\n{GPX11_ROOT} version="1.1" creator="x">'
        f"<trk><trkseg>{points}</trkseg></trk></gpx>\n",
    )


# --------------------------------------------------------------------------- photos


@dataclass(frozen=True)
class GpsFix:
    """What a camera's GPS writes into EXIF. latitude and longitude as written: a tuple of
    (degrees, minutes, seconds) rationals given as (numerator, denominator) pairs."""

    latitude: tuple[tuple[int, int], ...]
    latitude_ref: str
    longitude: tuple[tuple[int, int], ...]
    longitude_ref: str
    altitude: tuple[int, int] | None = None
    altitude_ref: int = 0
    date_stamp: str | None = None
    time_stamp: tuple[tuple[int, int], ...] | None = None
    accuracy_m: tuple[int, int] | None = None
    status: str | None = None


# 48° 11' 35.88" N, 67° 50' 40.92" E (48.193300, 67.844700), 428 m, in the DMS form cameras use.
DMS_FIX = GpsFix(
    latitude=((48, 1), (11, 1), (3588, 100)),
    latitude_ref="N",
    longitude=((67, 1), (50, 1), (4092, 100)),
    longitude_ref="E",
    altitude=(4281, 10),
    date_stamp="2026:07:08",
    time_stamp=((5, 1), (44, 1), (30, 1)),
    accuracy_m=(35, 10),
)
# The same place as degrees and decimal minutes (48° 11.598', 67° 50.682'), with no date.
DDM_FIX = GpsFix(
    latitude=((48, 1), (11598, 1000), (0, 1)),
    latitude_ref="N",
    longitude=((67, 1), (50682, 1000), (0, 1)),
    longitude_ref="E",
)


def _exif(
    *,
    camera_time: str | None,
    subsec: str | None,
    offset: str | None,
    orientation: int | None,
    gps: GpsFix | None,
) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "OM Digital Solutions"
    exif[ExifTags.Base.Model] = "TG-7"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if camera_time is not None:
        details[ExifTags.Base.DateTimeOriginal] = camera_time
        details[ExifTags.Base.DateTimeDigitized] = camera_time
    if subsec is not None:
        details[ExifTags.Base.SubsecTimeOriginal] = subsec
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
        ifd[ExifTags.GPS.GPSLatitudeRef] = gps.latitude_ref
        ifd[ExifTags.GPS.GPSLatitude] = tuple(IFDRational(*r) for r in gps.latitude)
        ifd[ExifTags.GPS.GPSLongitudeRef] = gps.longitude_ref
        ifd[ExifTags.GPS.GPSLongitude] = tuple(IFDRational(*r) for r in gps.longitude)
        if gps.altitude is not None:
            ifd[ExifTags.GPS.GPSAltitudeRef] = bytes([gps.altitude_ref])
            ifd[ExifTags.GPS.GPSAltitude] = IFDRational(*gps.altitude)
        if gps.date_stamp is not None:
            ifd[ExifTags.GPS.GPSDateStamp] = gps.date_stamp
        if gps.time_stamp is not None:
            ifd[ExifTags.GPS.GPSTimeStamp] = tuple(IFDRational(*r) for r in gps.time_stamp)
        if gps.accuracy_m is not None:
            ifd[ExifTags.GPS.GPSHPositioningError] = IFDRational(*gps.accuracy_m)
        if gps.status is not None:
            ifd[ExifTags.GPS.GPSStatus] = gps.status
    return exif


def _picture(size: tuple[int, int], seed: int) -> Image.Image:
    """Soil with a sherd on it, with enough texture that the JPEG has real entropy-coded data."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (132, 104, 72))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(width * height // 40):
        x, y = rng.randrange(width), rng.randrange(height)
        shade = rng.randrange(90, 170)
        draw.point((x, y), fill=(shade, shade * 4 // 5, shade * 3 // 5))
    draw.polygon(
        [(width * 0.3, height * 0.3), (width * 0.7, height * 0.25), (width * 0.6, height * 0.7)],
        fill=(176, 96, 60),
    )
    return image


def jpeg_bytes(
    *,
    size: tuple[int, int] = (64, 48),
    camera_time: str | None = "2026:07:08 10:46:43",
    subsec: str | None = None,
    offset: str | None = None,
    orientation: int | None = 1,
    gps: GpsFix | None = None,
    exif: bool = True,
    seed: int = 1,
) -> bytes:
    buffer = io.BytesIO()
    options = {}
    if exif:
        options["exif"] = _exif(
            camera_time=camera_time,
            subsec=subsec,
            offset=offset,
            orientation=orientation,
            gps=gps,
        )
    _picture(size, seed).save(buffer, "JPEG", quality=85, **options)
    return buffer.getvalue()


def jpeg(folder: Path, name: str, **options: object) -> Path:
    return _write(folder, name, jpeg_bytes(**options))  # type: ignore[arg-type]


def _segments(data: bytes) -> list[tuple[int, int]]:
    """(offset, length with marker) of each marker segment before the scan data of a JPEG."""
    found, offset = [], 2
    while data[offset] == 0xFF and data[offset + 1] not in (0xDA, 0xD9):
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        found.append((offset, length + 2))
        offset += length + 2
    return found


XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" rdf:about=""><dc:title>ULY26-0001'
    b'</dc:title></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def jpeg_exif_after_xmp(folder: Path, **options: object) -> Path:
    """An XMP APP1 segment before the EXIF one, as some editors and phones order them."""
    data = jpeg_bytes(**options)  # type: ignore[arg-type]
    exif_at = next(o for o, _ in _segments(data) if data[o + 4 : o + 10] == b"Exif\x00\x00")
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + XMP_PACKET
    xmp = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return _write(folder, "xmp-first.jpg", data[:exif_at] + xmp + data[exif_at:])


def jpeg_bomb_bytes(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose frame header claims width × height pixels."""
    data = bytearray(jpeg_bytes(exif=False))
    sof = next(o for o, _ in _segments(bytes(data)) if data[o + 1] in (0xC0, 0xC2))
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_bomb(folder: Path, width: int, height: int) -> Path:
    return _write(folder, f"bomb-{width}x{height}.jpg", jpeg_bomb_bytes(width, height))


def png_bomb_bytes(width: int = 60_000, height: int = 60_000) -> bytes:
    """A PNG of a few dozen bytes claiming width × height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def png_bomb(folder: Path) -> Path:
    return _write(folder, "bomb.png", png_bomb_bytes())


def truncated_jpeg_bytes() -> bytes:
    whole = jpeg_bytes(size=(320, 240), seed=7)
    return whole[: len(whole) * 3 // 5]


def truncated_jpeg(folder: Path) -> Path:
    return _write(folder, "cut.jpg", truncated_jpeg_bytes())


def text_named_jpeg(folder: Path) -> Path:
    return _write(folder, "IMG_0001.JPG", "not a photo\n")


def heic_photo(folder: Path) -> Path:
    """The start of an iPhone's HEIC file: an ISO media ftyp box."""
    box = struct.pack(">I", 24) + b"ftypheic" + struct.pack(">I", 0) + b"mif1heic"
    return _write(folder, "IMG_0002.HEIC", box + b"\x00" * 64)


def png_photo(folder: Path) -> Path:
    image = _picture((40, 30), seed=3)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return _write(folder, "scan.png", buffer.getvalue())


# --------------------------------------------------------------------------- photos as bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def noise_jpeg_bytes(
    width: int = 64, height: int = 48, *, seed: int = 0, orientation: int | None = None
) -> bytes:
    """A JPEG of noise (so it does not compress to nothing: a large one makes a large file),
    optionally with an EXIF orientation; the left half is dark and the right half light, to
    tell turns apart."""
    pixels = random.Random(seed).randbytes(width * height * 3)
    noise = Image.frombytes("RGB", (width, height), pixels)
    image = noise.point(lambda v: 170 + v * 85 // 255)
    half = width // 2
    if half:
        image.paste(noise.crop((0, 0, half, height)).point(lambda v: v * 90 // 255), (0, 0))
    output = io.BytesIO()
    if orientation is None:
        image.save(output, "JPEG", quality=92)
    else:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        image.save(output, "JPEG", quality=92, exif=exif)
    return output.getvalue()


def png_bytes(width: int = 32, height: int = 24, mode: str = "RGBA") -> bytes:
    output = io.BytesIO()
    Image.new(mode, (width, height), (10, 120, 30, 128) if mode == "RGBA" else 128).save(
        output, "PNG"
    )
    return output.getvalue()


# --------------------------------------------------------------------------- photo records


def survey_record(expedition_code: str = "ULY-2026") -> dict[str, Any]:
    return {
        "type": "survey",
        "uuid": str(uuid.uuid4()),
        "base_rev": 0,
        "rev": 1,
        "data": {
            "expedition_code": expedition_code,
            "title": "Фотосъёмка раскопа",
            "team": ["recorder"],
            "started_on": "2026-06-01",
            "ended_on": None,
            "notes": None,
        },
    }


def photo_record(
    survey_uuid: str, data: bytes, width: int = 64, height: int = 48
) -> dict[str, Any]:
    return {
        "type": "photo",
        "uuid": str(uuid.uuid4()),
        "base_rev": 0,
        "rev": 1,
        "data": {
            "survey_uuid": survey_uuid,
            "sha256": sha256(data),
            "bytes": len(data),
            "media_type": "image/jpeg",
            "width": width,
            "height": height,
            "taken_at": "2026-06-02T10:15:00+05:00",
            "position": None,
            "position_source": "none",
            "caption": "Басқамыр, шурф 2",
            "find_uuids": [],
        },
    }
