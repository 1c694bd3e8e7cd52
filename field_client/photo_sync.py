"""Photo files in a sync: ask the server which it lacks, upload those by tus, remember the rest."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from field_client import photo_files
from field_client.errors import ClientError
from field_client.store import Store
from field_client.transport import Transport
from field_client.tus import PhotoUpload, TusClient, UploadGone, UploadProgress, UploadResult

ASK_PAGE = 10_000  # the most digests one /photos/missing request takes
_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/tiff": ".tif", "image/webp": ".webp"}


@dataclass
class PhotoSyncReport:
    uploaded: int = 0
    bytes_sent: int = 0
    resumed_from: dict[str, int] = field(default_factory=dict)  # sha256 → offset, when > 0
    already_on_server: int = 0


class PhotoProgress(UploadProgress, Protocol):
    def photo_bytes_to_send(self, total: int) -> None: ...


@dataclass(frozen=True)
class _Waiting:
    sha256: str
    length: int
    upload_path: str | None
    media_type: str


def not_on_server(store: Store) -> list[_Waiting]:
    """Every local photo file the server lacks, with its upload's path once one was made."""
    with store.reading() as connection:
        return [
            _Waiting(*row)
            for row in connection.execute(
                "SELECT sha256, bytes, upload_url, media_type FROM photo_file "
                "WHERE on_server = 0 ORDER BY stored_at, sha256"
            )
        ]


def sync_photos(
    store: Store,
    transport: Transport,
    home: Path,
    tus: TusClient,
    progress: PhotoProgress | None = None,
) -> PhotoSyncReport:
    """Make the server hold every photo file of the laptop; safe to stop and run again."""
    report = PhotoSyncReport()
    waiting = not_on_server(store)
    missing: set[str] = set()
    for start in range(0, len(waiting), ASK_PAGE):
        asked = [photo.sha256 for photo in waiting[start : start + ASK_PAGE]]
        answer = transport.post("/api/v1/photos/missing", {"sha256": asked})
        missing.update(str(sha) for sha in (answer or {}).get("missing", []))
    held = [photo.sha256 for photo in waiting if photo.sha256 not in missing]
    with store.transaction() as connection:
        _mark_stored(connection, held)
    report.already_on_server = len(held)
    to_send = [photo for photo in waiting if photo.sha256 in missing]
    if progress is not None:
        progress.photo_bytes_to_send(sum(photo.length for photo in to_send))
    # Stored photos are marked in the transaction that saves the next upload's path (one
    # commit a photo, not two). One that a stop leaves unmarked is only asked about again:
    # /photos/missing says the server has it.
    stored: list[str] = []
    try:
        for waiting_photo in to_send:
            result = _upload(store, home, tus, waiting_photo, stored, progress)
            stored.append(waiting_photo.sha256)
            report.uploaded += 1
            report.bytes_sent += result.sent
            if result.resumed_from:
                report.resumed_from[waiting_photo.sha256] = result.resumed_from
    finally:
        if stored:
            with store.transaction() as connection:
                _mark_stored(connection, stored)
    return report


def _upload(
    store: Store,
    home: Path,
    tus: TusClient,
    waiting: _Waiting,
    stored: list[str],
    progress: PhotoProgress | None,
) -> UploadResult:
    """Send one photo: on with its saved upload, else by a new one saved before any byte."""
    sha = waiting.sha256
    path = photo_files.stored_path(home, sha)
    if not path.is_file():
        raise ClientError(
            f"the laptop's copy of photo {sha} is gone from {path.parent}; import the photo "
            "again from the camera card"
        )
    photo = PhotoUpload(sha, path, waiting.length, f"{sha}{_SUFFIXES.get(waiting.media_type, '')}")
    if waiting.upload_path is not None:
        try:
            return tus.send(waiting.upload_path, photo, progress)
        except UploadGone:
            pass
    upload_path = tus.create(photo)
    with store.transaction() as connection:
        connection.execute(
            "UPDATE photo_file SET upload_url = ? WHERE sha256 = ?", (upload_path, sha)
        )
        _mark_stored(connection, stored)
    stored.clear()
    return tus.send(upload_path, photo, progress, fresh=True)


def _mark_stored(connection: sqlite3.Connection, digests: list[str]) -> None:
    connection.executemany(
        "UPDATE photo_file SET on_server = 1, upload_url = NULL WHERE sha256 = ?",
        [(sha,) for sha in digests],
    )
