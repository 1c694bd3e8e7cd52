"""Placing a photo in time and space: the camera clock corrected, a track interpolated."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from field_core.geo.exif import PhotoPosition, PhotoReading

__all__ = [
    "DEFAULT_MAX_GAP",
    "KAZAKHSTAN_TIME",
    "CameraClock",
    "PhotoPlacement",
    "TrackFix",
    "TrackTimeline",
    "parse_camera_offset",
    "parse_utc_offset",
    "photo_data",
    "place_photo",
    "rfc3339",
]

KAZAKHSTAN_TIME = timezone(timedelta(hours=5))
"""UTC+05:00, the whole country's time since March 2024, with no daylight saving."""

DEFAULT_MAX_GAP = timedelta(minutes=5)
"""Two track points further apart than this say nothing about where the walker was between."""

PositionSource = Literal["exif", "track", "none"]

_OFFSET_HMS = re.compile(r"([+-]?)([0-9]+):([0-5][0-9]):([0-5][0-9](?:\.[0-9]{1,6})?)")
_OFFSET_SECONDS = re.compile(r"([+-]?[0-9]+(?:\.[0-9]{1,6})?)\s*s?")
_ZONE = re.compile(r"(?:UTC|GMT)?\s*(?:(Z)|([+-])([0-9]{1,2})(?::?([0-5][0-9]))?)?", re.IGNORECASE)


def parse_utc_offset(text: str) -> timezone:
    """A camera's time zone as the user gives it: "+05:00", "+5", "UTC+5", "+0500", "Z".

    Only fixed offsets: a camera clock does not follow daylight saving, and a zone name such as
    Asia/Almaty would mean +06:00 or +05:00 depending on how old the machine's tz database is.
    """
    match = _ZONE.fullmatch(text.strip())
    if match is None or not text.strip():
        raise ValueError(f"time zone {text[:40]!r} is not an offset such as +05:00 or UTC+5")
    _, sign, hours, minutes = match.groups()
    if sign is None:
        return UTC
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset > timedelta(hours=14):
        raise ValueError(f"time zone {text[:40]!r} is beyond ±14:00")
    return timezone(-offset if sign == "-" else offset)


def parse_camera_offset(text: str) -> timedelta:
    """How far the camera clock is ahead of true time: "+00:02:13", "-0:00:40", "133", "-40".

    Positive when the camera is fast. Minutes and seconds alone ("02:13") are refused: they
    read as hours and minutes just as well.
    """
    cleaned = text.strip()
    if match := _OFFSET_HMS.fullmatch(cleaned):
        sign, hours, minutes, seconds = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
        return -offset if sign == "-" else offset
    if match := _OFFSET_SECONDS.fullmatch(cleaned):
        return timedelta(seconds=float(match.group(1)))
    raise ValueError(
        f"camera offset {text[:40]!r} is neither [+-]H:MM:SS (e.g. +00:02:13) nor seconds"
        " (e.g. 133)"
    )


def rfc3339(moment: datetime) -> str:
    """The wire's date-time: RFC 3339 with the moment's own offset."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a wire date-time needs an offset; this moment has no zone")
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


@dataclass(frozen=True)
class CameraClock:
    """What the user says about the camera's clock.

    zone is the offset the clock was set to (cameras store none); offset is camera time minus
    true time, so a clock running 2 min 13 s fast has offset +0:02:13.
    """

    zone: timezone = KAZAKHSTAN_TIME
    offset: timedelta = timedelta(0)

    def true_time(
        self, camera_time: datetime, recorded_offset: timedelta | None = None
    ) -> datetime:
        """The moment a camera reading stands for.

        A camera that wrote its own offset (EXIF OffsetTimeOriginal) says which zone its clock
        was set to, so that offset is used instead of the user's zone; the clock's error is
        corrected either way.
        """
        zone = self.zone if recorded_offset is None else timezone(recorded_offset)
        return (camera_time.replace(tzinfo=None) - self.offset).replace(tzinfo=zone)


@dataclass(frozen=True)
class TrackFix:
    """A position interpolated on a track, and the time between the two points it lies between."""

    lon: float
    lat: float
    elevation_m: float | None
    gap: timedelta


class TrackTimeline:
    """Track points ordered by time, to ask where the track was at a given moment.

    Built from wire points [lon, lat, ele, time, name]; points without a time are left out.
    Give it the points of tracks (not routes or waypoints: a route's times are plans, and a
    waypoint set says nothing about the way between its points).
    """

    def __init__(self, points: Iterable[Sequence[Any]]) -> None:
        timed: list[tuple[float, float, float, float | None]] = []
        for point in points:
            moment = _wire_time(point[3] if len(point) > 3 else None)
            if moment is not None:
                elevation = point[2] if len(point) > 2 else None
                timed.append((moment.timestamp(), float(point[0]), float(point[1]), elevation))
        timed.sort(key=lambda item: item[0])
        self._times = [item[0] for item in timed]
        self._points = timed

    def __len__(self) -> int:
        return len(self._times)

    def span(self) -> tuple[datetime, datetime] | None:
        """The first and last moments the track covers, in UTC."""
        if not self._times:
            return None
        return (
            datetime.fromtimestamp(self._times[0], UTC),
            datetime.fromtimestamp(self._times[-1], UTC),
        )

    def covers(self, moment: datetime) -> bool:
        return bool(self._times) and self._times[0] <= _seconds(moment) <= self._times[-1]

    def position_at(
        self, moment: datetime, max_gap: timedelta = DEFAULT_MAX_GAP
    ) -> TrackFix | None:
        """Where the track was at moment (which must have a zone), or None.

        None outside the track's span and between two points more than max_gap apart.
        Longitude, latitude and elevation are interpolated linearly, which over the few hundred
        metres between two fixes differs from the great circle by far less than GPS error.
        """
        when = _seconds(moment)
        times = self._times
        after = bisect.bisect_left(times, when)
        if after == len(times) or (after == 0 and times[0] != when):
            return None
        if times[after] == when:
            _, lon, lat, elevation = self._points[after]
            return TrackFix(lon, lat, elevation, timedelta(0))
        (t0, lon0, lat0, ele0), (t1, lon1, lat1, ele1) = self._points[after - 1 : after + 1]
        gap = t1 - t0
        if gap > max_gap.total_seconds():
            return None
        share = (when - t0) / gap
        if lon1 - lon0 > 180:  # the short way round across the antimeridian
            lon0 += 360
        elif lon0 - lon1 > 180:
            lon1 += 360
        lon = lon0 + share * (lon1 - lon0)
        lon = lon - 360 if lon > 180 else lon
        elevation = None
        if ele0 is not None and ele1 is not None:
            elevation = round(ele0 + share * (ele1 - ele0), 3)
        return TrackFix(
            round(lon, 8), round(lat0 + share * (lat1 - lat0), 8), elevation, timedelta(seconds=gap)
        )


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment without a zone cannot be placed on a track")
    return moment.timestamp()


def _wire_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class PhotoPlacement:
    """When and where a photo was taken, where the position came from, and a note for the user."""

    taken_at: datetime | None
    position: PhotoPosition | None
    position_source: PositionSource
    note: str | None = None


def place_photo(
    reading: PhotoReading,
    clock: CameraClock,
    timeline: TrackTimeline | None = None,
    *,
    max_gap: timedelta = DEFAULT_MAX_GAP,
) -> PhotoPlacement:
    """Time a photo by its corrected camera clock and place it by its GPS or by the track.

    The camera's own GPS wins. Without it, the track is asked where it was at the corrected
    time. Without a camera time, the GPS receiver's UTC time (true time, needing no
    correction) is used when the photo has one.
    """
    taken_at: datetime | None = None
    note = None
    if reading.camera_time is not None:
        try:
            taken_at = clock.true_time(reading.camera_time, reading.camera_utc_offset)
        except OverflowError:
            note = "the camera time minus the camera offset leaves the calendar"
    elif reading.gps_time is not None:
        taken_at = reading.gps_time.astimezone(clock.zone)
    if reading.gps_position is not None:
        return PhotoPlacement(taken_at, reading.gps_position, "exif", note)
    if taken_at is None:
        return PhotoPlacement(None, None, "none", note or "no GPS position and no camera time")
    if timeline is None or not len(timeline):
        return PhotoPlacement(taken_at, None, "none", "no GPS position and no timed track")
    fix = timeline.position_at(taken_at, max_gap)
    if fix is None:
        when = rfc3339(taken_at)
        if not timeline.covers(taken_at):
            note = f"taken {when}, outside the times the tracks cover"
        else:
            minutes = max_gap.total_seconds() / 60
            note = f"taken {when}, in a gap of more than {minutes:g} min between track points"
        return PhotoPlacement(taken_at, None, "none", note)
    position = PhotoPosition(fix.lon, fix.lat, _photo_elevation(fix.elevation_m), None)
    return PhotoPlacement(taken_at, position, "track", None)


def _photo_elevation(elevation: float | None) -> float | None:
    # A track point's elevation has a wider range in the contract than a photo's.
    return elevation if elevation is not None and -500 <= elevation <= 9000 else None


def photo_data(
    reading: PhotoReading,
    placement: PhotoPlacement,
    survey_uuid: str,
    *,
    find_uuids: Sequence[str] = (),
    caption: str | None = None,
) -> dict[str, Any]:
    """The wire `photo` data of a read and placed photo."""
    return {
        "survey_uuid": survey_uuid,
        "sha256": reading.sha256,
        "bytes": reading.byte_count,
        "media_type": reading.media_type,
        "width": reading.width,
        "height": reading.height,
        "taken_at": rfc3339(placement.taken_at) if placement.taken_at is not None else None,
        "position": placement.position.wire() if placement.position is not None else None,
        "position_source": placement.position_source,
        "caption": caption,
        "find_uuids": list(dict.fromkeys(find_uuids)),
    }
