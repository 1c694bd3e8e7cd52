"""Clearing away what no record came to name: unfinished uploads left alone, and stored photos
that no record, find, phone submission or conflicting version names (``field-server
cleanup``, security finding 6). Safe while the server serves.

How a blob and a record pushed at the same moment are kept apart:

1. the blobs to look at are chosen outside any write lock (stored before the cut-off, named by
   nothing, sent by nobody since);
2. each one's file is set aside under another name, and its last-stored time read from it: a
   photo store ``put`` of the same bytes either refreshed that time first (kept), or finds no
   file and places its own copy, which stays;
3. its row is deleted in a transaction that checks again that nothing names it and nobody sent
   it since the cut-off: a record or submission committed before that transaction keeps it;
   one committed after it names a digest whose bytes may follow later, as any record may
   (DESIGN §4), and the photo is asked for again;
4. only then is the set-aside file removed, with the thumbnails and readings made from it.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from field_server.adapters.photo_store import FilesystemPhotoStore, StoreBusy
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.adapters.upload_staging import UploadStaging
from field_server.services.auth import now_utc
from field_server.services.errors import NotAllowed


@dataclass(frozen=True)
class CleanupReport:
    older_than_days: float
    dry_run: bool
    uploads: int  # unfinished uploads removed (or, dry, that would be)
    upload_bytes: int  # the bytes of them that had arrived
    photos: int  # stored photos removed
    photo_bytes: int
    # files a process killed mid-work left behind: a phone's attachment half received, a
    # restore's staged rows or photos
    leftovers: int = 0
    leftover_bytes: int = 0

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def sentence(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {self.uploads} unfinished uploads ({self.upload_bytes} bytes received) "
            f"and {self.photos} photos no record names ({self.photo_bytes} bytes), "
            f"untouched for {self.older_than_days:g} days or more"
            + (
                f"; {self.leftovers} files left by interrupted work ({self.leftover_bytes} bytes)"
                if self.leftovers
                else ""
            )
        )


# Where killed work leaves files, and which: a phone's attachment spooled by the server (the
# folder beside the photo store), a restore's scratch rows and staged photos (uploads folder).
LEFTOVER_PATTERNS = (("collect-attachments", "attachment-*"), ("uploads", ".restore-*"))
# However short the set age, a file written within this time may belong to work under way.
LEFTOVER_MIN_AGE = timedelta(hours=1)


def clean_up(
    uow: UnitOfWorkFactory,
    staging: UploadStaging,
    store: FilesystemPhotoStore,
    older_than_days: float,
    *,
    dry_run: bool = False,
    now: Callable[[], datetime] = now_utc,
    data_dir: Path | None = None,
) -> CleanupReport:
    cutoff = now() - timedelta(days=older_than_days)
    # one cleanup at a time, and none during a backup: a second one would find the first's
    # set-aside blobs and could put back a file whose row was just deleted, and a backup
    # copies the blobs its snapshot listed
    try:
        with store.removing():
            uploads, upload_bytes = _clear_unfinished(uow, staging, cutoff, dry_run)
            photos, photo_bytes = _clear_unnamed(uow, store, cutoff, dry_run)
    except StoreBusy:
        raise NotAllowed(
            "a backup or another field-server cleanup is using the photo store; try again "
            "when it has finished",
            "photo_store_busy",
        ) from None
    leftovers, leftover_bytes = (
        _clear_leftovers(data_dir, min(cutoff, now() - LEFTOVER_MIN_AGE), dry_run)
        if data_dir is not None
        else (0, 0)
    )
    return CleanupReport(
        older_than_days,
        dry_run,
        uploads,
        upload_bytes,
        photos,
        photo_bytes,
        leftovers,
        leftover_bytes,
    )


def _clear_leftovers(data_dir: Path, cutoff: datetime, dry_run: bool) -> tuple[int, int]:
    """Files of killed work, last written before ``cutoff``: (how many, their bytes)."""
    count = size = 0
    for folder, pattern in LEFTOVER_PATTERNS:
        for path in sorted((data_dir / folder).glob(pattern)):
            try:
                status = path.lstat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(status.st_mode):
                continue
            if datetime.fromtimestamp(status.st_mtime, UTC) >= cutoff:
                continue
            if not dry_run:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
            count += 1
            size += status.st_size
    return count, size


def _clear_unfinished(
    uow: UnitOfWorkFactory, staging: UploadStaging, cutoff: datetime, dry_run: bool
) -> tuple[int, int]:
    """Uploads that took no chunk since the cut-off: the row, then the staging file. Each is
    taken under the upload's claim, so a PATCH under way finishes first, and one that
    arrived since the list was read moved the upload on: it is no longer stale."""
    with uow() as reading:
        stale = reading.uploads.stale(cutoff)
    removed = freed = 0
    for row in stale:
        if dry_run:
            removed, freed = removed + 1, freed + staging.size(row.id)
            continue
        with staging.claimed(row.id):
            with uow(write=True, sequenced=False) as writing:
                gone = writing.uploads.delete_if_stale(row.id, cutoff)
                terminated = not gone and writing.uploads.get(row.id) is None
                writing.commit()
            if gone or terminated:
                size = staging.size(row.id)
                staging.discard(row.id)  # the claim made an empty one if there was none
                if gone:
                    removed, freed = removed + 1, freed + size
    return removed, freed


def _clear_unnamed(
    uow: UnitOfWorkFactory, store: FilesystemPhotoStore, cutoff: datetime, dry_run: bool
) -> tuple[int, int]:
    with uow() as reading:
        candidates = reading.blobs.unnamed_before(cutoff)
        named = reading.blobs.named_in_texts(blob.sha256 for blob in candidates)
    unnamed = [blob for blob in candidates if blob.sha256 not in named]
    if dry_run:
        return len(unnamed), sum(blob.bytes for blob in unnamed)
    removed = freed = 0
    for blob in unnamed:

        def forget(stored_at: float | None, sha256: str = blob.sha256) -> bool:
            if stored_at is not None and stored_at >= cutoff.timestamp():
                return False  # sent again since the cut-off
            with uow(write=True, sequenced=False) as writing:
                forgotten = writing.blobs.forget_if_unnamed(sha256, cutoff)
                writing.commit()
            return forgotten

        size = store.remove(blob.sha256, forget)
        if size is not None:
            removed, freed = removed + 1, freed + size
    return removed, freed
