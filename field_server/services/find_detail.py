"""Everything the museum knows of one find: its fields, photos with what their files say,
every revision with what it changed, conflicting revisions still open, and the audit trail."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from field_core.geo.exif import (
    PhotoError,
    PhotoReading,
    read_photo,
    reading_as_json,
    reading_from_json,
)
from field_server.adapters.find_repositories import RecordText
from field_server.adapters.photo_possession import PhotoPossession
from field_server.adapters.photo_repositories import BlobRow
from field_server.adapters.photo_store import PhotoStore
from field_server.adapters.repositories import ExpeditionRow, as_utc
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.revision_diff import FieldChange, field_changes
from field_server.services.errors import NotFound
from field_server.services.photos import may_read_blob


@dataclass(frozen=True)
class PhotoInfo:
    sha256: str
    blob: BlobRow | None  # None: the device has not sent the file yet
    exif: PhotoReading | None
    exif_problem: str | None = None


@dataclass(frozen=True)
class RevisionInfo:
    server_rev: int
    origin: str
    device_id: str | None
    username: str | None
    at: datetime
    changes: list[FieldChange]


@dataclass(frozen=True)
class ConflictInfo:
    id: int
    server_rev: int
    base_rev: int
    fields: list[str]
    theirs: dict[str, Any]  # the clashing fields as the device sent them
    device_id: str | None
    username: str | None
    received_at: datetime


@dataclass(frozen=True)
class AuditInfo:
    at: datetime
    username: str | None
    action: str
    detail: str  # the JSON text as logged
    reason: str | None


@dataclass(frozen=True)
class FindDetail:
    expedition: ExpeditionRow
    record: RecordText
    data: dict[str, Any]
    flags: list[dict[str, Any]]
    survey_title: str | None
    photos: list[PhotoInfo]
    revisions: list[RevisionInfo]
    conflicts: list[ConflictInfo]
    audit: list[AuditInfo]


def find_detail(
    uow_factory: UnitOfWorkFactory, store: PhotoStore, actor: Actor, uuid: str
) -> FindDetail:
    with uow_factory() as uow:
        record = uow.finds.record(uuid)
        if record is None or record.type != "find" or not actor.may_read(record.expedition_id):
            # the same answer either way: a uuid's existence tells nothing to outsiders
            raise NotFound(f"no find {uuid} that {actor.username} may see")
        expedition = uow.expeditions.by_ids([record.expedition_id])[record.expedition_id]
        survey = None if record.survey_uuid is None else uow.finds.record(record.survey_uuid)
        revisions = uow.records.revisions_of(uuid)
        conflicts = [c for c in uow.history.conflicts_of(uuid) if c.resolved_at is None]
        audit = uow.audit.for_subject(f"find:{uuid}")
        names = uow.history.usernames(
            [r.user_id for r in revisions]
            + [c.user_id for c in conflicts]
            + [a.user_id for a in audit]
        )
        data = json.loads(record.data)
        # a find may name any digest; what its file says is shown only to those who may read
        # the photo (DESIGN §4), so a digest copied into a find shows nothing of another's photo
        possession = PhotoPossession(uow.connection)
        blobs = {
            d: uow.blobs.get(d) if may_read_blob(possession, actor, d) else None
            for d in data.get("photos", [])
        }
    history = []
    previous: dict[str, Any] = {}
    for revision in revisions:
        current = json.loads(revision.data)
        history.append(
            RevisionInfo(
                revision.server_rev,
                revision.origin,
                revision.device_id,
                names.get(revision.user_id),
                as_utc(revision.created_at),
                field_changes(previous, current),
            )
        )
        previous = current
    history.reverse()  # the newest first, as a reviewer reads it
    open_conflicts = []
    for conflict in conflicts:
        fields = list(json.loads(conflict.fields))
        incoming = json.loads(conflict.data)
        open_conflicts.append(
            ConflictInfo(
                conflict.id,
                conflict.server_rev,
                conflict.base_rev,
                fields,
                {name: incoming.get(name) for name in fields},
                conflict.device_id,
                names.get(conflict.user_id),
                as_utc(conflict.received_at),
            )
        )
    return FindDetail(
        expedition=expedition,
        record=record,
        data=data,
        flags=json.loads(record.flags),
        survey_title=None if survey is None else json.loads(survey.data).get("title"),
        photos=[_photo(store, digest, blob) for digest, blob in blobs.items()],
        revisions=history,
        conflicts=open_conflicts,
        audit=[
            AuditInfo(as_utc(a.at), names.get(a.user_id), a.action, a.detail, a.reason)
            for a in audit
        ],
    )


# What a photo's file says (its size, orientation, camera time, GPS), read once and kept beside
# the photo: a find page then costs the same whatever the size of the images it names.
READING = "reading-1.json"
# A page reads the header and EXIF only; a header declaring more pixels than this is not read.
MAX_READ_PIXELS = 200_000_000


def _photo(store: PhotoStore, sha256: str, blob: BlobRow | None) -> PhotoInfo:
    if blob is None:
        return PhotoInfo(sha256, None, None)
    kept = store.open_derivative(sha256, READING)
    if kept is not None:
        with kept:
            try:
                return _from_kept(sha256, blob, json.loads(kept.read(1 << 20)))
            except (ValueError, KeyError, TypeError):
                pass  # a reading kept by another version, or cut short: read the photo again
    try:
        source = store.open(sha256)
    except FileNotFoundError:
        return PhotoInfo(sha256, blob, None, "the file is missing from the store")
    # the EXIF reader takes a path, and the store may not be a filesystem: read a copy
    with source, tempfile.TemporaryDirectory(prefix="qazba-exif-") as folder:
        path = os.path.join(folder, sha256)
        with open(path, "wb") as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        try:
            reading = read_photo(path, max_pixels=MAX_READ_PIXELS, decode=False)
        except PhotoError as error:
            problem = str(error).replace(path, sha256)
            store.put_derivative(sha256, READING, json.dumps({"problem": problem}).encode())
            return PhotoInfo(sha256, blob, None, problem)
    store.put_derivative(sha256, READING, json.dumps(reading_as_json(reading)).encode())
    return PhotoInfo(sha256, blob, reading)


def _from_kept(sha256: str, blob: BlobRow, kept: dict[str, Any]) -> PhotoInfo:
    if "problem" in kept:
        return PhotoInfo(sha256, blob, None, str(kept["problem"]))
    return PhotoInfo(sha256, blob, reading_from_json(kept))
