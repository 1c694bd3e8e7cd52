"""Writes the Dombauyl sample survey's GPS file and find photos, the same bytes on every run.

The photos come from one camera whose clock runs CAMERA_FAST (2 min 13 s) ahead of true
time and is set to Kazakhstan time with no zone in EXIF. Some carry the camera's GPS position,
some do not: those are to be placed from the GPS track, which the recorder's handheld logged
while walking to each find and standing by it for a minute either side of the photo. Each
photo's name starts with the find number it shows, so a file-name pattern can attach it.

    python scripts/make_sample_media.py [--out sample_surveys]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

from PIL import ExifTags, Image, ImageDraw, ImageFilter, ImageFont
from PIL.TiffImagePlugin import IFDRational

ROOT = Path(__file__).resolve().parent.parent
SURVEY_FOLDER = "uly-2026-dombauyl"
GPX_NAME = "dombauyl-2026-gps.gpx"
LOCAL = timezone(timedelta(hours=5))
CAMERA_FAST = timedelta(minutes=2, seconds=13)
TRACK_STEP = timedelta(seconds=20)
STAND_BY_FIND = timedelta(seconds=60)  # either side of a photo
MAX_JPEG_BYTES = 40_000

# The camp lies south-west of the mausoleum; a track starts there each morning.
CAMP = (67.8405, 48.1910, 424.0)
# The site datum ДМБ-1 at the centre of the DMB boundary (sample_surveys/README.md).
DATUM = (67.8447, 48.1933, 428.1)
# The east end of trench Р-2, where each logged walk ends.
TRENCH_2_EAST = (67.84585, 48.19325, 427.9)

GpsForm = Literal["dms", "ddm-no-date"]


@dataclass(frozen=True)
class Shot:
    """One photo: its file, the find it shows, the true local time, what the camera wrote."""

    file_name: str
    find_number: str
    taken: datetime
    gps: GpsForm | None = None
    orientation: int = 1


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL)


SHOTS = (
    Shot("ULY26-0001_a.jpg", "ULY26-0001", _local("2026-07-08T10:39:40"), gps="dms"),
    Shot("ULY26-0001_b.jpg", "ULY26-0001", _local("2026-07-08T10:40:25")),
    Shot("ULY26-0003_a.jpg", "ULY26-0003", _local("2026-07-09T11:03:10")),
    Shot("ULY26-0006_a.jpg", "ULY26-0006", _local("2026-07-11T14:09:30"), "dms", orientation=6),
    Shot("ULY26-0007_a.jpg", "ULY26-0007", _local("2026-07-13T12:45:50")),
    Shot("ULY26-0008_a.jpg", "ULY26-0008", _local("2026-07-14T15:28:05"), gps="ddm-no-date"),
    Shot("ULY26-0010_a.jpg", "ULY26-0010", _local("2026-07-16T13:52:30")),
    Shot("ULY26-0012_a.jpg", "ULY26-0012", _local("2026-07-18T10:01:00")),
    Shot("ULY26-0017_a.jpg", "ULY26-0017", _local("2026-07-20T17:46:30")),
)
# Days the handheld logged a track: every day with a photo the camera's GPS missed, except
# 16 July, when its batteries were flat, so ULY26-0010_a.jpg cannot be placed.
TRACK_DAYS = ("2026-07-08", "2026-07-09", "2026-07-13", "2026-07-18", "2026-07-20")

MATERIAL_COLOURS = {
    "ceramic": (168, 92, 58),
    "iron": (92, 62, 48),
    "glass": (52, 96, 170),
    "copper_alloy": (74, 130, 104),
    "stone": (176, 150, 112),
    "flint": (120, 120, 126),
    "soil_sample": (110, 86, 60),
}


# --------------------------------------------------------------------------- geometry


def _moved(point: tuple[float, float, float], east_m: float, north_m: float) -> tuple[float, ...]:
    lon, lat, ele = point
    return (
        lon + east_m / (111_320 * math.cos(math.radians(lat))),
        lat + north_m / 111_320,
        ele,
    )


def _between(
    a: tuple[float, ...], b: tuple[float, ...], share: float
) -> tuple[float, float, float]:
    return (
        a[0] + share * (b[0] - a[0]),
        a[1] + share * (b[1] - a[1]),
        a[2] + share * (b[2] - a[2]),
    )


# --------------------------------------------------------------------------- GPX


def _walk(
    day: str, finds: dict[str, dict[str, Any]], rng: random.Random
) -> list[tuple[datetime, tuple[float, float, float]]]:
    """The day's logged points: from camp to each find (standing by it), then to Р-2."""
    shots = sorted((s for s in SHOTS if s.taken.date().isoformat() == day), key=lambda s: s.taken)
    anchors: list[tuple[datetime, tuple[float, ...]]] = [
        (shots[0].taken - timedelta(minutes=20), CAMP)
    ]
    for shot in shots:
        position = finds[shot.find_number]["position"]
        # The recorder stands on the surface above the find.
        surface = position["elevation_m"] + (position["depth_m"] or 0.0)
        spot = (position["lon"], position["lat"], surface)
        anchors += [(shot.taken - STAND_BY_FIND, spot), (shot.taken + STAND_BY_FIND, spot)]
    # Then over to Р-2 at a stroll, to work there until the logger is switched off.
    anchors.append((shots[-1].taken + timedelta(minutes=4), TRENCH_2_EAST))
    anchors.append((shots[-1].taken + timedelta(minutes=15), TRENCH_2_EAST))
    # Two photos of one find a minute apart overlap their standing times; the spot is the same.
    anchors.sort(key=lambda anchor: anchor[0])
    points = []
    moment = anchors[0][0]
    while moment <= anchors[-1][0]:
        after = next(i for i, (t, _) in enumerate(anchors) if t >= moment)
        (t0, p0), (t1, p1) = anchors[max(after - 1, 0)], anchors[after]
        share = 0.0 if t1 == t0 else (moment - t0) / (t1 - t0)
        here = _between(p0, p1, share)
        # A handheld's scatter: about a metre across, and a few metres in height.
        lon, lat, ele = _moved(here, rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8))
        points.append((moment, (round(lon, 7), round(lat, 7), round(ele + rng.uniform(-2, 2), 1))))
        moment += TRACK_STEP
    return points


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gpx(finds: dict[str, dict[str, Any]]) -> str:
    rng = random.Random(2026)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1"'
        ' creator="Qazba sample media (scripts/make_sample_media.py)"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="http://www.topografix.com/GPX/1/1'
        ' http://www.topografix.com/GPX/1/1/gpx.xsd">',
        "  <metadata>",
        "    <name>Домбауыл 2026: GPS-трек и точки / Dombauyl 2026 GPS tracks and waypoints</name>",
        f"    <time>{_utc(_local('2026-07-20T19:00:00'))}</time>",
        "  </metadata>",
    ]
    waypoints = [
        ("Лагерь", CAMP, _local("2026-07-06T09:00:00")),
        ("ДМБ-1", DATUM, _local("2026-07-06T10:15:00")),
    ]
    for number in ("ULY26-0017", "ULY26-0018"):
        data = finds[number]
        position = data["position"]
        spot = (position["lon"], position["lat"], position["elevation_m"])
        waypoints.append((number, spot, datetime.fromisoformat(data["recorded_at"])))
    for name, (lon, lat, ele), moment in waypoints:
        lines += [
            f"  <wpt lat={quoteattr(f'{lat:.7f}')} lon={quoteattr(f'{lon:.7f}')}>",
            f"    <ele>{ele:.1f}</ele>",
            f"    <time>{_utc(moment)}</time>",
            f"    <name>{escape(name)}</name>",
            "  </wpt>",
        ]
    for day in TRACK_DAYS:
        lines += ["  <trk>", f"    <name>{day} ДМБ</name>", "    <trkseg>"]
        for moment, (lon, lat, ele) in _walk(day, finds, rng):
            lines.append(
                f'      <trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>{ele:.1f}</ele>'
                f"<time>{_utc(moment)}</time></trkpt>"
            )
        lines += ["    </trkseg>", "  </trk>"]
    lines.append("</gpx>")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- photos


def _rationals(value: float, form: GpsForm) -> tuple[IFDRational, ...]:
    degrees = int(value)
    minutes = (value - degrees) * 60
    if form == "ddm-no-date":
        return (
            IFDRational(degrees, 1),
            IFDRational(round(minutes * 10000), 10000),
            IFDRational(0, 1),
        )
    whole = int(minutes)
    seconds = (minutes - whole) * 60
    return (IFDRational(degrees, 1), IFDRational(whole, 1), IFDRational(round(seconds * 100), 100))


def _exif(shot: Shot, find: dict[str, Any], rng: random.Random) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "OM Digital Solutions"
    exif[ExifTags.Base.Model] = "TG-7"
    exif[ExifTags.Base.Orientation] = shot.orientation
    camera_time = (shot.taken + CAMERA_FAST).strftime("%Y:%m:%d %H:%M:%S")
    exif[ExifTags.Base.DateTime] = camera_time
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = camera_time
    details[ExifTags.Base.DateTimeDigitized] = camera_time
    if shot.gps is None:
        return exif
    position = find["position"]
    # The camera's GPS: a few metres off the total-station position of the find.
    lon, lat, _ = _moved(
        (position["lon"], position["lat"], 0.0), rng.uniform(-2, 2), rng.uniform(-2, 2)
    )
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = _rationals(lat, shot.gps)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = _rationals(lon, shot.gps)
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = IFDRational(round((position["elevation_m"] + 1.5) * 10), 10)
    gps[ExifTags.GPS.GPSMapDatum] = "WGS-84"
    if shot.gps == "dms":
        # GPS time is true UTC time: it shows the camera clock's error to anyone who looks.
        utc = shot.taken.astimezone(UTC)
        gps[ExifTags.GPS.GPSDateStamp] = utc.strftime("%Y:%m:%d")
        gps[ExifTags.GPS.GPSTimeStamp] = tuple(
            IFDRational(part, 1) for part in (utc.hour, utc.minute, utc.second)
        )
        gps[ExifTags.GPS.GPSHPositioningError] = IFDRational(40, 10)
    return exif


def _picture(shot: Shot, find: dict[str, Any], rng: random.Random) -> Image.Image:
    """The find on soil beside a 5 cm scale bar and its number, upright as people see it."""
    width, height = (480, 640) if shot.orientation in (5, 6, 7, 8) else (640, 480)
    soil = Image.new("RGB", (width // 16, height // 16))
    grains = []
    for _ in range((width // 16) * (height // 16)):
        shade = rng.randrange(-18, 18)
        grains.append((120 + shade, 96 + shade, 66 + shade // 2))
    soil.putdata(grains)
    image = soil.resize((width, height), Image.Resampling.BICUBIC).filter(
        ImageFilter.GaussianBlur(3)
    )
    draw = ImageDraw.Draw(image)
    centre_x, centre_y = width / 2, height * 0.42
    corners = 9
    outline = []
    for corner in range(corners):
        angle = 2 * math.pi * corner / corners + rng.uniform(-0.2, 0.2)
        reach = min(width, height) * rng.uniform(0.18, 0.3)
        outline.append(
            (centre_x + reach * math.cos(angle), centre_y + reach * 0.75 * math.sin(angle))
        )
    colour = MATERIAL_COLOURS.get(find["material"], (150, 130, 110))
    draw.polygon(outline, fill=colour, outline=(60, 40, 30), width=3)
    # A scale bar of five 1 cm blocks, at 24 px to the centimetre.
    left, top = width * 0.1, height * 0.8
    for block in range(5):
        fill = (20, 20, 20) if block % 2 == 0 else (245, 245, 245)
        draw.rectangle(
            (left + block * 24, top, left + (block + 1) * 24, top + 10), fill=fill, outline="black"
        )
    font = ImageFont.load_default(size=22)
    draw.text((left, top + 16), "5 cm", fill="white", font=font)
    label = f"{find['find_number']}  {find['site_code']}  {find['found_on']}"
    draw.rectangle((width * 0.1 - 6, height * 0.06 - 4, width * 0.9, height * 0.06 + 30), "white")
    draw.text((width * 0.1, height * 0.06), label, fill="black", font=font)
    if shot.orientation == 6:
        # Stored turned a quarter anticlockwise; orientation 6 tells viewers to turn it back.
        image = image.transpose(Image.Transpose.ROTATE_90)
    return image


def _jpeg(shot: Shot, find: dict[str, Any], rng: random.Random) -> bytes:
    picture, exif = _picture(shot, find, rng), _exif(shot, find, rng)
    for quality in (80, 70, 60, 50):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality, exif=exif)
        if buffer.tell() <= MAX_JPEG_BYTES:
            return buffer.getvalue()
    raise SystemExit(f"{shot.file_name} stays above {MAX_JPEG_BYTES} bytes")


# --------------------------------------------------------------------------- main


def make(out: Path) -> list[Path]:
    folder = out / SURVEY_FOLDER
    if not (folder / "survey.json").is_file() or not (folder / "finds.json").is_file():
        raise SystemExit(f"make_sample_media: {folder} holds no survey.json and finds.json")
    survey = json.loads((folder / "survey.json").read_text(encoding="utf-8"))["data"]
    finds = {
        record["data"]["find_number"]: record["data"]
        for record in json.loads((folder / "finds.json").read_text(encoding="utf-8"))
    }
    first, last = survey["started_on"], survey["ended_on"]
    for shot in SHOTS:
        if not first <= shot.taken.date().isoformat() <= last:
            raise SystemExit(f"{shot.file_name} falls outside the survey's dates")
    written = [folder / GPX_NAME]
    written[0].write_text(_gpx(finds), encoding="utf-8", newline="\n")
    photos = folder / "photos"
    photos.mkdir(exist_ok=True)
    for number, shot in enumerate(SHOTS):
        path = photos / shot.file_name
        path.write_bytes(_jpeg(shot, finds[shot.find_number], random.Random(number)))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "sample_surveys")
    for path in make(parser.parse_args().out):
        print(f"{path.stat().st_size:>7} {path}")


if __name__ == "__main__":
    main()
