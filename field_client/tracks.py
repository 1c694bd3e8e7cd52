"""GPX imports on the laptop: tracks, routes and waypoints saved as track records of a survey."""

# A re-import must not duplicate a track, yet the same GPX file may hold the same track twice
# legitimately in two surveys. So a track's uuid is derived from its survey and the SHA-256 of
# its canonical wire data (kind, name, source file, points): the same content imported into the
# same survey gives the same uuid, which is already on the laptop and is skipped. A track whose
# points differ (a longer log of the same day) is a new record, as nothing says which one wins.

from __future__ import annotations

import hashlib
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from field_client import records
from field_client.errors import ClientError
from field_client.validation import checked_data
from field_core.content_hash import canonical_json
from field_core.geo.gpx import GpxImport

# Fixed forever: changing it would make every earlier import look new.
TRACK_NAMESPACE = uuidlib.UUID("5d1c7f0e-3b8a-4e52-9c1d-6a0f2b7e8d41")


def track_uuid(survey_uuid: str, data: dict[str, Any]) -> str:
    """The uuid of a track with this data in this survey: the same for the same content."""
    digest = hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
    return str(uuidlib.uuid5(TRACK_NAMESPACE, f"{survey_uuid}:{digest}"))


@dataclass
class TrackImport:
    """What one command saved: new track records, tracks already here, and warnings."""

    created: list[records.LocalRecord] = field(default_factory=list)
    already_here: list[records.LocalRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def save_tracks(
    connection: sqlite3.Connection, survey_uuid: str, gpx: GpxImport, into: TrackImport
) -> None:
    """Save the file's tracks as records of the survey (call inside the command's transaction)."""
    into.warnings.extend(f"{gpx.source_file}: {warning}" for warning in gpx.warnings)
    for track in gpx.tracks:
        try:
            data = checked_data("track", track.track_data(survey_uuid))
        except ClientError as error:
            label = f"{track.kind} {track.name}" if track.name else track.kind
            into.warnings.append(f"{gpx.source_file}: {label}: {error.reason}; skipped")
            continue
        uuid = track_uuid(survey_uuid, data)
        existing = records.get(connection, uuid)
        if existing is not None:
            into.already_here.append(existing)
            continue
        into.created.append(records.create(connection, "track", data, uuid=uuid))


def survey_tracks(connection: sqlite3.Connection, survey_uuid: str) -> list[records.LocalRecord]:
    """The survey's tracks, routes and waypoints on this laptop, imported or pulled."""
    return records.list_of(connection, "track", survey_uuid)
