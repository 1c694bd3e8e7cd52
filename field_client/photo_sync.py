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
from field_client.tus import PhotoUpload, TusClient, UploadGone, UploadProgress

ASK_PAGE = 10_000  # the most digests one /photos/missing request takes


@dataclass
class PhotoSyncReport:
    uploaded: int = 0
    bytes_sent: int = 0
    resumed_from: dict[str, int] = field(default_factory=dict)  # sha256 → offset, when > 0
    already_on_server: int = 0


class PhotoProgress(UploadProgress, Protocol):
    def photo_bytes_to_send(self, total: int) -> None: ...


def not_on_server(store: Store) -> list[tuple[str, int, str]]:
    """(sha256, bytes, upload path or None) of every local photo file the server lacks."""
    with store.reading() as connection:
        return list(
            connection.execute(
                "SELECT sha256, bytes, upload_url FROM photo_file WHERE on_server = 0 "
                "ORDER BY stored_at, sha256"
            )
        )


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
        asked = [sha for sha, _, _ in waiting[start : start + ASK_PAGE]]
        answer = transport.post("/api/v1/photos/missing", {"sha256": asked})
        missing.update(str(sha) for sha in (answer or {}).get("missing", []))
    held = [sha for sha, _, _ in waiting if sha not in missing]
    with store.transaction() as connection:
        for sha in held:
            _mark_stored(connection, sha)
    report.already_on_server = len(held)
    to_send = [row for row in waiting if row[0] in missing]
    if progress is not None:
        progress.photo_bytes_to_send(sum(length for _, length, _ in to_send))
    for sha, length, upload_path in to_send:
        path = photo_files.stored_path(home, sha)
        if not path.is_file():
            raise ClientError(
                f"the laptop's copy of photo {sha} is gone from {path.parent}; import the photo "
                "again from the camera card"
            )
        photo = PhotoUpload(sha, path, length, f"{sha}{_suffix(store, sha)}")
        result = None
        if upload_path is not None:
            try:
                result = tus.send(upload_path, photo, progress)
            except UploadGone:
                result = None
        if result is None:
            upload_path = tus.create(photo)
            with store.transaction() as connection:
                connection.execute(
                    "UPDATE photo_file SET upload_url = ? WHERE sha256 = ?", (upload_path, sha)
                )
            result = tus.send(upload_path, photo, progress)
        with store.transaction() as connection:
            _mark_stored(connection, sha)
        report.uploaded += 1
        report.bytes_sent += result.sent
        if result.resumed_from:
            report.resumed_from[sha] = result.resumed_from
    return report


def _mark_stored(connection: sqlite3.Connection, sha256: str) -> None:
    connection.execute(
        "UPDATE photo_file SET on_server = 1, upload_url = NULL WHERE sha256 = ?", (sha256,)
    )


_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/tiff": ".tif", "image/webp": ".webp"}


def _suffix(store: Store, sha256: str) -> str:
    with store.reading() as connection:
        row = connection.execute(
            "SELECT media_type FROM photo_file WHERE sha256 = ?", (sha256,)
        ).fetchone()
    return _SUFFIXES.get(row[0], "") if row else ""
