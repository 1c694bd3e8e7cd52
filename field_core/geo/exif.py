"""Reading a photo's identity, size, camera time, GPS position and orientation, with Pillow."""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import ExifTags, Image

from field_core.geo.coordinates import check_position
from field_core.geo.source_file import UnreadableFile, regular_file_size, source_file_name

__all__ = [
    "MAX_PHOTO_BYTES",
    "PhotoError",
    "PhotoPosition",
    "PhotoReading",
    "read_photo",
]

MAX_PHOTO_BYTES = 1024 * 1024 * 1024
"""Largest photo file read: far above any camera JPEG, room for a scanned plan as TIFF."""

# Only these decoders are ever tried, so no file can reach a plugin that runs an outside
# program (EPS runs Ghostscript) or one nobody reviewed for hostile input.
_DECODERS = ["JPEG", "PNG", "TIFF", "WEBP"]
_MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    # A JPEG with a second, preview image, as many cameras write; the JPEG decoder opens it.
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
_CHUNK = 1 << 20
_WORLD = (-180.0, -90.0, 180.0, 90.0)
_ELEVATION_RANGE = (-500.0, 9000.0)  # the contract's range for a photo's elevation
_ACCURACY_RANGE = (0.0, 100_000.0)

_EXIF_TIME = re.compile(
    r"([0-9]{4})[:\-/]([0-9]{2})[:\-/]([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})"
)
_EXIF_DATE = re.compile(r"([0-9]{4})[:\-/]([0-9]{2})[:\-/]([0-9]{2})")
_EXIF_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
_SUBSECONDS = re.compile(r"[0-9]{1,9}")


class PhotoError(UnreadableFile):
    """A file that is not a photo this reader accepts; str() is one line naming the file."""


@dataclass(frozen=True)
class PhotoPosition:
    """Where a photo was taken, WGS 84: from the camera's GPS or from a track."""

    lon: float
    lat: float
    elevation_m: float | None = None
    horizontal_accuracy_m: float | None = None

    def wire(self) -> dict[str, float | None]:
        """The position as the wire `photo` record holds it."""
        return {
            "lon": self.lon,
            "lat": self.lat,
            "elevation_m": self.elevation_m,
            "horizontal_accuracy_m": self.horizontal_accuracy_m,
        }


@dataclass(frozen=True)
class PhotoReading:
    """What a photo file says about itself.

    width and height are as the photo is shown, with its orientation applied (a portrait
    taken with the camera turned is 3000 × 4000, though its pixels are stored 4000 × 3000).
    camera_time is the camera clock's reading, with no zone and no correction: the camera
    clock and its zone are the user's to state (field_core.geo.geotag).
    """

    source_file: str
    sha256: str
    byte_count: int
    media_type: str
    width: int
    height: int
    orientation: int | None
    camera_time: datetime | None
    camera_utc_offset: timedelta | None
    gps_position: PhotoPosition | None
    gps_time: datetime | None
    warnings: tuple[str, ...] = ()


def read_photo(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_PHOTO_BYTES,
    max_pixels: int | None = None,
    decode: bool = True,
) -> PhotoReading:
    """Read a photo file; raise PhotoError when it is not an image, too big, cut off or a bomb.

    ``decode=False`` reads the header and EXIF only, at a cost that does not grow with the
    image: for a photo already accepted, whose pixels nobody needs to check again.

    The content decides the media type, never the file's name. Every pixel is decoded once (at
    an eighth of the size for a JPEG, which is fast) so that a truncated file is refused here
    rather than found broken after the camera card was wiped. max_pixels defaults to Pillow's
    decompression-bomb limit, Image.MAX_IMAGE_PIXELS (about 89 million), read at each call.
    """
    source = source_file_name(path)
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        size = regular_file_size(path)
        if size > max_bytes:
            raise PhotoError(source, _too_big(size, max_bytes))
        with open(path, "rb") as stream:
            sha256, byte_count = _digest(stream, source, max_bytes)
            if byte_count == 0:
                raise PhotoError(source, "is empty, not a photo")
            stream.seek(0)
            return _read_image(stream, source, sha256, byte_count, limit, decode)
    except OSError as error:
        raise PhotoError(source, f"cannot be read: {error.strerror or error}") from None


def _too_big(size: int, limit: int) -> str:
    return f"is {size / 1e6:.0f} MB, above the {limit / 1e6:.0f} MB a photo may have"


def _digest(stream: Any, source: str, max_bytes: int) -> tuple[str, int]:
    digest, count = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        count += len(chunk)
        if count > max_bytes:
            # The file grew while it was read (a camera still writing to the card).
            raise PhotoError(source, _too_big(count, max_bytes))
        digest.update(chunk)
    return digest.hexdigest(), count


def _read_image(
    stream: Any, source: str, sha256: str, byte_count: int, max_pixels: int, decode: bool
) -> PhotoReading:
    head = stream.read(32)
    stream.seek(0)
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        raise PhotoError(source, "is HEIC/HEIF, which this reader cannot decode; export it as JPEG")
    bomb = f"has more than {max_pixels:,} pixels: refused as a decompression bomb"
    try:
        image = Image.open(stream, formats=_DECODERS)
    except Image.UnidentifiedImageError:
        raise PhotoError(source, "is not a photo: no JPEG, PNG, TIFF or WebP image in it") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow warns between its limit and twice that and raises above; a warning turned into
        # an error by the warnings filter arrives here too.
        raise PhotoError(source, bomb) from None
    except Exception as error:
        # Pillow's decoders raise many kinds (SyntaxError, struct.error, ValueError, ...) on
        # damaged headers; each is the same thing to a user.
        raise PhotoError(source, f"is damaged: {_why(error)}") from None
    with image:
        stored_width, stored_height = image.size
        if stored_width * stored_height > max_pixels:
            raise PhotoError(source, bomb)
        warnings: list[str] = []
        if not decode and image.format == "PNG" and "exif" not in image.info:
            # Pillow decodes every pixel of a PNG to look for an eXIf chunk after the image
            # data; one before it is in info already, and cameras write no PNG
            exif = Image.Exif()
        else:
            exif = _exif(image, warnings)
        if decode:
            _decode_all(image, source)
        orientation = _orientation(exif, warnings)
        width, height = stored_width, stored_height
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        details = _ifd(exif, ExifTags.IFD.Exif, warnings)
        gps = _ifd(exif, ExifTags.IFD.GPSInfo, warnings)
        camera_time, camera_offset = _camera_time(details, warnings)
        return PhotoReading(
            source_file=source,
            sha256=sha256,
            byte_count=byte_count,
            media_type=_MEDIA_TYPES[image.format or ""],
            width=width,
            height=height,
            orientation=orientation,
            camera_time=camera_time,
            camera_utc_offset=camera_offset,
            gps_position=_gps_position(gps, warnings),
            gps_time=_gps_time(gps),
            warnings=tuple(warnings),
        )


def _why(error: BaseException) -> str:
    text = " ".join(str(error).split())[:120]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _decode_all(image: Image.Image, source: str) -> None:
    if image.format in ("JPEG", "MPO"):
        # A JPEG decoder can scale by 1/8 while it decodes: every byte is still read, so a
        # truncated file is still caught, for a fraction of the time and memory.
        width, height = image.size
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    try:
        image.load()
    except OSError as error:
        raise PhotoError(source, f"is truncated or damaged: {_why(error)}") from None
    except Exception as error:
        raise PhotoError(source, f"is damaged: {_why(error)}") from None


def _exif(image: Image.Image, warnings: list[str]) -> Image.Exif:
    try:
        return image.getexif()
    except Exception as error:
        warnings.append(f"EXIF unreadable, ignored ({_why(error)})")
        return Image.Exif()


def _ifd(exif: Image.Exif, which: ExifTags.IFD, warnings: list[str]) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(which))
    except Exception as error:
        warnings.append(f"EXIF {which.name} block unreadable, ignored ({_why(error)})")
        return {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", " ").strip()
    return value or None


def _number(value: Any) -> float | None:
    if isinstance(value, tuple | list):
        value = value[0] if len(value) == 1 else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _orientation(exif: Image.Exif, warnings: list[str]) -> int | None:
    value = exif.get(ExifTags.Base.Orientation)
    if value is None:
        return None
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    warnings.append(f"orientation {str(value)[:20]!r} is not 1-8, ignored")
    return None


def _camera_time(
    details: dict[int, Any], warnings: list[str]
) -> tuple[datetime | None, timedelta | None]:
    """DateTimeOriginal with its sub-seconds and offset; DateTimeDigitized when it is absent."""
    for time_tag, subsec_tag, offset_tag in (
        (
            ExifTags.Base.DateTimeOriginal,
            ExifTags.Base.SubsecTimeOriginal,
            ExifTags.Base.OffsetTimeOriginal,
        ),
        (
            ExifTags.Base.DateTimeDigitized,
            ExifTags.Base.SubsecTimeDigitized,
            ExifTags.Base.OffsetTimeDigitized,
        ),
    ):
        text = _text(details.get(time_tag))
        if text is None:
            continue
        match = _EXIF_TIME.match(text)
        try:
            if match is None:
                raise ValueError
            moment = datetime(*(int(part) for part in match.groups()))
        except ValueError:
            # Cameras with no date set write "0000:00:00 00:00:00" or blanks.
            warnings.append(f"{time_tag.name} {text[:30]!r} is not a date and time, ignored")
            continue
        subseconds = _SUBSECONDS.match(_text(details.get(subsec_tag)) or "")
        if subseconds:
            moment = moment.replace(microsecond=int(subseconds.group()[:6].ljust(6, "0")))
        return moment, _offset(_text(details.get(offset_tag)), warnings)
    return None, None


def _offset(text: str | None, warnings: list[str]) -> timedelta | None:
    if text is None:
        return None
    match = _EXIF_OFFSET.fullmatch(text)
    if match is None or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        if text.strip(" :"):
            warnings.append(f"time offset {text[:20]!r} is not ±HH:MM, ignored")
        return None
    sign = -1 if match.group(1) == "-" else 1
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def _gps_position(gps: dict[int, Any], warnings: list[str]) -> PhotoPosition | None:
    if ExifTags.GPS.GPSLatitude not in gps and ExifTags.GPS.GPSLongitude not in gps:
        return None
    if (_text(gps.get(ExifTags.GPS.GPSStatus)) or "").upper().startswith("V"):
        warnings.append("GPS says its measurement was void (no fix); position ignored")
        return None
    lat = _coordinate(gps, ExifTags.GPS.GPSLatitude, ExifTags.GPS.GPSLatitudeRef, "NS", warnings)
    lon = _coordinate(gps, ExifTags.GPS.GPSLongitude, ExifTags.GPS.GPSLongitudeRef, "EW", warnings)
    if lat is None or lon is None:
        warnings.append("GPS position unreadable, ignored")
        return None
    problem = check_position(lon, lat, _WORLD)
    if problem is not None:
        warnings.append(f"GPS position ignored: {problem.message}")
        return None
    # Eight decimals (about a millimetre) drop the binary noise of the sexagesimal sum, far
    # below what a camera's GPS resolves.
    return PhotoPosition(
        lon=round(lon, 8),
        lat=round(lat, 8),
        elevation_m=_altitude(gps, warnings),
        horizontal_accuracy_m=_within(
            _number(gps.get(ExifTags.GPS.GPSHPositioningError)), _ACCURACY_RANGE
        ),
    )


def _coordinate(
    gps: dict[int, Any], tag: int, ref_tag: int, letters: str, warnings: list[str]
) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals.

    The same sum reads degrees and decimal minutes (48, 11.598, 0), which many GPS units
    write, and decimal degrees in the first value alone.
    """
    value = gps.get(tag)
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    numbers = [n for n in (_number(part) for part in parts) if n is not None]
    if len(numbers) != len(parts):
        return None
    degrees, minutes, seconds = [*numbers, 0.0, 0.0][:3]
    if minutes < 0 or seconds < 0:
        return None
    magnitude = abs(degrees) + minutes / 60 + seconds / 3600
    ref = (_text(gps.get(ref_tag)) or "")[:1].upper()
    if ref not in (letters[0], letters[1]):
        # A bare sign is all some writers give; with none either, the northern and eastern
        # hemispheres the expeditions work in are the likely reading, and the user is told.
        ref = letters[1] if degrees < 0 else letters[0]
        axis = "latitude" if letters == "NS" else "longitude"
        warnings.append(f"GPS {axis} has no {letters[0]}/{letters[1]} reference; taken as {ref}")
    return -magnitude if ref == letters[1] else magnitude


def _altitude(gps: dict[int, Any], warnings: list[str]) -> float | None:
    altitude = _number(gps.get(ExifTags.GPS.GPSAltitude))
    if altitude is None:
        return None
    ref = gps.get(ExifTags.GPS.GPSAltitudeRef)
    if isinstance(ref, bytes):
        ref = ref[0] if ref else 0
    # 1 is below sea level; EXIF 3.0 adds 2 and 3 for heights above and below the ellipsoid.
    if ref in (1, 3):
        altitude = -altitude
    kept = _within(altitude, _ELEVATION_RANGE)
    if kept is None:
        warnings.append(f"GPS altitude {altitude:.0f} m is outside -500..9000 m, ignored")
    return kept


def _within(value: float | None, bounds: tuple[float, float]) -> float | None:
    if value is None or not bounds[0] <= value <= bounds[1]:
        return None
    return value


def _gps_time(gps: dict[int, Any]) -> datetime | None:
    """The GPS receiver's UTC time, when the photo has both its date and its time."""
    date = _EXIF_DATE.match(_text(gps.get(ExifTags.GPS.GPSDateStamp)) or "")
    clock = gps.get(ExifTags.GPS.GPSTimeStamp)
    if date is None or not isinstance(clock, tuple | list) or len(clock) != 3:
        return None
    hours, minutes, seconds = (_number(part) for part in clock)
    if hours is None or minutes is None or seconds is None:
        return None
    try:
        midnight = datetime(*(int(part) for part in date.groups()), tzinfo=UTC)
        if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 61):
            return None
        return midnight + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except (ValueError, OverflowError):
        return None


def reading_as_json(reading: PhotoReading) -> dict[str, Any]:
    """A reading as JSON values, to be kept beside the photo and read back by
    :func:`reading_from_json`."""
    position = reading.gps_position
    return {
        "source_file": reading.source_file,
        "sha256": reading.sha256,
        "byte_count": reading.byte_count,
        "media_type": reading.media_type,
        "width": reading.width,
        "height": reading.height,
        "orientation": reading.orientation,
        "camera_time": None if reading.camera_time is None else reading.camera_time.isoformat(),
        "camera_utc_offset_s": None
        if reading.camera_utc_offset is None
        else reading.camera_utc_offset.total_seconds(),
        "gps_position": None if position is None else position.wire(),
        "gps_time": None if reading.gps_time is None else reading.gps_time.isoformat(),
        "warnings": list(reading.warnings),
    }


def reading_from_json(value: dict[str, Any]) -> PhotoReading:
    """The reading :func:`reading_as_json` wrote; KeyError, TypeError or ValueError when the
    value is not one."""
    position = value["gps_position"]
    offset = value["camera_utc_offset_s"]
    return PhotoReading(
        source_file=str(value["source_file"]),
        sha256=str(value["sha256"]),
        byte_count=int(value["byte_count"]),
        media_type=str(value["media_type"]),
        width=int(value["width"]),
        height=int(value["height"]),
        orientation=None if value["orientation"] is None else int(value["orientation"]),
        camera_time=None
        if value["camera_time"] is None
        else datetime.fromisoformat(value["camera_time"]),
        camera_utc_offset=None if offset is None else timedelta(seconds=float(offset)),
        gps_position=None if position is None else PhotoPosition(**position),
        gps_time=None if value["gps_time"] is None else datetime.fromisoformat(value["gps_time"]),
        warnings=tuple(str(w) for w in value["warnings"]),
    )
