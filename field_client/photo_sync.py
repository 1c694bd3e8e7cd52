"""Photo files in a sync: ask the server which it lacks, upload those by tus, remember the rest."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from field_client import photo_files
from field_client.errors import ClientError
from field_client.store import Store
from field_client.transport import Transport
from field_client.tus import PhotoUpload, TusClient, UploadGone, UploadProgress, UploadResult

ASK_PAGE = 10_000  # the most digests one /photos/missing request takes
# Two photos in flight keep both the network and the server busy; more only queue on the
# server's disk and, on SQLite, its write lock.
PARALLEL_UPLOADS = 2
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
    *,
    parallel: int = PARALLEL_UPLOADS,
) -> PhotoSyncReport:
    """Make the server hold every photo file of the laptop; safe to stop and run again.

    Up to ``parallel`` photos travel at once, each on a connection of its own, so that one
    photo's bytes cross the network while the server checks and stores the one before.
    """
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
    with _Uploads(store, home, tus, progress, parallel) as uploads:
        uploads.run(to_send, report)
    return report


@dataclass(frozen=True)
class _Ready:
    photo: PhotoUpload
    upload_path: str
    fresh: bool


class _Uploads:
    """Photos in flight. Only this thread touches the store: an upload is created and its
    path saved here, before any byte goes; the sending threads only send.

    Stored photos are marked in the transaction that saves the next upload's path (one commit
    a photo, not two). One that a stop leaves unmarked is only asked about again:
    /photos/missing says the server has it.
    """

    def __init__(
        self,
        store: Store,
        home: Path,
        tus: TusClient,
        progress: PhotoProgress | None,
        parallel: int,
    ) -> None:
        self.store = store
        self.home = home
        self.tus = tus
        self.progress = _OneAtATime(progress) if progress is not None else None
        self.parallel = max(1, parallel)
        self.stored: list[str] = []
        self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="photo-upload")
        self._local = threading.local()
        self._senders: list[TusClient] = []
        self._senders_lock = threading.Lock()

    def __enter__(self) -> _Uploads:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            for sender in self._senders:
                sender.close()
            if self.stored:
                with self.store.transaction() as connection:
                    _mark_stored(connection, self.stored)

    def run(self, to_send: list[_Waiting], report: PhotoSyncReport) -> None:
        queue = iter(to_send)
        in_flight: dict[Future[UploadResult | None], PhotoUpload] = {}
        failure: BaseException | None = None
        ready: _Ready | None = None
        try:
            while True:
                while failure is None and len(in_flight) < self.parallel:
                    ready = ready or self._ready(next(queue, None))
                    if ready is None:
                        break
                    in_flight[self._send_ready(ready)] = ready.photo
                    ready = None
                if not in_flight:
                    break
                if failure is None and ready is None:
                    # the next upload is created and saved while these travel, so a freed
                    # slot starts sending at once instead of after a round trip and a commit
                    ready = self._ready(next(queue, None))
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    photo = in_flight.pop(future)
                    try:
                        result = future.result()
                    except Exception as error:  # the first failure ends the sync
                        failure = failure or error
                        continue
                    if result is None:  # the saved upload is gone: a new one
                        if failure is None:
                            in_flight[self._send_anew(photo)] = photo
                        continue
                    self.stored.append(photo.sha256)
                    report.uploaded += 1
                    report.bytes_sent += result.sent
                    if result.resumed_from:
                        report.resumed_from[photo.sha256] = result.resumed_from
        except BaseException:
            # let what is in flight finish, so that what reached the server is marked
            wait(in_flight)
            for future, photo in in_flight.items():
                if not future.cancelled() and future.exception() is None and future.result():
                    self.stored.append(photo.sha256)
            raise
        if failure is not None:
            raise failure

    def _photo(self, waiting: _Waiting) -> PhotoUpload:
        sha = waiting.sha256
        path = photo_files.stored_path(self.home, sha)
        if not path.is_file():
            raise ClientError(
                f"the laptop's copy of photo {sha} is gone from {path.parent}; import the "
                "photo again from the camera card"
            )
        suffix = _SUFFIXES.get(waiting.media_type, "")
        return PhotoUpload(sha, path, waiting.length, f"{sha}{suffix}")

    def _ready(self, waiting: _Waiting | None) -> _Ready | None:
        """The photo with an upload to send it by: its saved one, or one created and saved
        now, before any byte goes."""
        if waiting is None:
            return None
        photo = self._photo(waiting)
        if waiting.upload_path is not None:
            return _Ready(photo, waiting.upload_path, fresh=False)
        return _Ready(photo, self._create(photo), fresh=True)

    def _send_ready(self, ready: _Ready) -> Future[UploadResult | None]:
        return self._pool.submit(self._send, ready.upload_path, ready.photo, ready.fresh)

    def _send_anew(self, photo: PhotoUpload) -> Future[UploadResult | None]:
        """Create an upload in place of one that is gone, save its path, and send from 0."""
        return self._pool.submit(self._send, self._create(photo), photo, True)

    def _create(self, photo: PhotoUpload) -> str:
        upload_path = self.tus.create(photo)
        with self.store.transaction() as connection:
            connection.execute(
                "UPDATE photo_file SET upload_url = ? WHERE sha256 = ?", (upload_path, photo.sha256)
            )
            _mark_stored(connection, self.stored)
        self.stored.clear()
        return upload_path

    def _send(self, upload_path: str, photo: PhotoUpload, fresh: bool) -> UploadResult | None:
        """In a sending thread, on its own connection; None when the upload is gone."""
        sender: TusClient | None = getattr(self._local, "sender", None)
        if sender is None:
            sender = self.tus.sibling()
            self._local.sender = sender
            with self._senders_lock:
                self._senders.append(sender)
        try:
            return sender.send(upload_path, photo, self.progress, fresh=fresh)
        except UploadGone:
            return None


class _OneAtATime:
    """Progress told from several sending threads, one call at a time."""

    def __init__(self, progress: UploadProgress) -> None:
        self._progress = progress
        self._lock = threading.Lock()

    def bytes_sent(self, count: int) -> None:
        with self._lock:
            self._progress.bytes_sent(count)


def _mark_stored(connection: sqlite3.Connection, digests: list[str]) -> None:
    connection.executemany(
        "UPDATE photo_file SET on_server = 1, upload_url = NULL WHERE sha256 = ?",
        [(sha,) for sha in digests],
    )
