"""Photo imports on the laptop: photo records placed in time and space and attached to finds."""

# A photo record's uuid is derived from its survey and its SHA-256, so importing a folder again
# finds the records it made the first time and adds nothing; the same file in two surveys is two
# records. Finds hold their photos by SHA-256 (the wire's find.photos), added by a find edit.

from __future__ import annotations

import re
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from field_client import records, tracks
from field_client.errors import ClientError
from field_client.records import LocalRecord
from field_client.store import now_utc
from field_client.validation import checked_data
from field_core.geo.exif import PhotoReading
from field_core.geo.geotag import CameraClock, TrackTimeline, photo_data, place_photo

# Fixed forever: changing it would make every earlier import look new.
PHOTO_NAMESPACE = uuidlib.UUID("9b0e4c61-27d5-4f8a-a3b6-1e5c0d7f9a24")


def photo_uuid(survey_uuid: str, sha256: str) -> str:
    return str(uuidlib.uuid5(PHOTO_NAMESPACE, f"{survey_uuid}:{sha256}"))


@dataclass(frozen=True)
class CopiedPhoto:
    """A camera file copied into the photo folder and read there."""

    file_name: str
    stored: Path
    reading: PhotoReading


@dataclass
class PhotoImport:
    """What one command saved: new photo records, those already here, edited finds, warnings."""

    created: list[LocalRecord] = field(default_factory=list)
    already_here: list[LocalRecord] = field(default_factory=list)
    finds_edited: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


class FindMatcher:
    """Which finds of the survey a photo belongs to, by its file name.

    By default a file name that starts with a find number of the survey (followed by the end of
    the name or a character that cannot continue a number, as in "ULY26-0003_a.jpg") belongs to
    that find; the longest number wins, so ULY26-00031 is never taken for ULY26-0003. A pattern
    given by the user names the find number by its group "find", or else its first group, or
    else the whole match.
    """

    def __init__(self, finds: list[LocalRecord], pattern: str | None = None) -> None:
        self._by_number = {str(f.data.get("find_number")): f for f in finds}
        self._numbers = sorted(self._by_number, key=len, reverse=True)
        self._pattern = compile_pattern(pattern) if pattern is not None else None

    def find_for(self, file_name: str) -> LocalRecord | None:
        if self._pattern is not None:
            match = self._pattern.search(file_name)
            if match is None:
                return None
            if "find" in self._pattern.groupindex:
                number = match.group("find")
            elif self._pattern.groups:
                number = match.group(1)
            else:
                number = match.group(0)
            return self._by_number.get(number) if number else None
        for number in self._numbers:
            if file_name.startswith(number):
                rest = file_name[len(number) : len(number) + 1]
                if not rest or not rest.isalnum():
                    return self._by_number[number]
        return None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ClientError(
            f"--attach-pattern {pattern!r} is not a regular expression: {error}"
        ) from None


def survey_timeline(connection: sqlite3.Connection, survey_uuid: str) -> TrackTimeline:
    """The survey's tracks as one timeline (routes and waypoints carry no walked times)."""
    points = [
        point
        for track in tracks.survey_tracks(connection, survey_uuid)
        if track.data.get("kind") == "track"
        for point in track.data.get("points", [])
    ]
    return TrackTimeline(points)


def save_photos(
    connection: sqlite3.Connection,
    survey: LocalRecord,
    copied: list[CopiedPhoto],
    clock: CameraClock,
    matcher: FindMatcher,
    explicit_find: LocalRecord | None,
    into: PhotoImport,
) -> None:
    """Save photo records and attach them to finds (call inside the command's transaction)."""
    timeline = survey_timeline(connection, survey.uuid)
    for photo in copied:
        reading = photo.reading
        into.warnings.extend(f"{photo.file_name}: {w}" for w in reading.warnings)
        find = explicit_find or matcher.find_for(photo.file_name)
        find_uuids = [find.uuid] if find is not None else []
        uuid = photo_uuid(survey.uuid, reading.sha256)
        existing = records.get(connection, uuid)
        if existing is not None:
            into.already_here.append(existing)
            wanted = list(dict.fromkeys([*existing.data.get("find_uuids", []), *find_uuids]))
            if wanted != existing.data.get("find_uuids", []):
                records.revise(
                    connection,
                    existing,
                    checked_data("photo", {**existing.data, "find_uuids": wanted}),
                )
        else:
            placement = place_photo(reading, clock, timeline)
            if placement.note and placement.position_source == "none":
                into.warnings.append(f"{photo.file_name}: no position: {placement.note}")
            data = photo_data(reading, placement, survey.uuid, find_uuids=find_uuids)
            into.created.append(
                records.create(connection, "photo", checked_data("photo", data), uuid=uuid)
            )
        _remember_file(connection, reading)
        if find is not None and _attach(connection, find.uuid, reading.sha256):
            into.finds_edited.add(find.uuid)


def _remember_file(connection: sqlite3.Connection, reading: PhotoReading) -> None:
    connection.execute(
        "INSERT INTO photo_file (sha256, bytes, media_type, stored_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (sha256) DO NOTHING",
        (reading.sha256, reading.byte_count, reading.media_type, now_utc()),
    )


def _attach(connection: sqlite3.Connection, find_uuid: str, sha256: str) -> bool:
    """Add the photo to the find's photos by a find edit; False when it is there already."""
    find = records.get(connection, find_uuid)
    assert find is not None
    photos: list[Any] = list(find.data.get("photos") or [])
    if sha256 in photos:
        return False
    records.revise(
        connection, find, checked_data("find", {**find.data, "photos": [*photos, sha256]})
    )
    return True


def missing_on_server(connection: sqlite3.Connection) -> list[str]:
    """SHA-256 of every photo file the server is not known to hold."""
    return [
        row[0]
        for row in connection.execute(
            "SELECT sha256 FROM photo_file WHERE on_server = 0 ORDER BY stored_at, sha256"
        )
    ]


def on_server(connection: sqlite3.Connection) -> set[str]:
    return {
        row[0] for row in connection.execute("SELECT sha256 FROM photo_file WHERE on_server = 1")
    }
