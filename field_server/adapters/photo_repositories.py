"""Repositories of photos: tus uploads and the stored blobs, over one SQLAlchemy connection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from field_server.adapters import tables as t
from field_server.adapters.repositories import CHUNK

RECEIVING = "receiving"
STORED = "stored"


@dataclass(frozen=True)
class UploadRow:
    id: str
    user_id: int
    sha256: str
    filename: str | None
    upload_metadata: str | None
    upload_length: int
    upload_offset: int
    state: str

    @property
    def stored(self) -> bool:
        return self.state == STORED


@dataclass(frozen=True)
class BlobRow:
    sha256: str
    bytes: int
    media_type: str
    width: int | None
    height: int | None


_UPLOAD_COLUMNS = (
    t.photo_uploads.c.id,
    t.photo_uploads.c.user_id,
    t.photo_uploads.c.sha256,
    t.photo_uploads.c.filename,
    t.photo_uploads.c.upload_metadata,
    t.photo_uploads.c.upload_length,
    t.photo_uploads.c.upload_offset,
    t.photo_uploads.c.state,
)


class Uploads:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        upload_id: str,
        user_id: int,
        sha256: str,
        filename: str | None,
        upload_metadata: str | None,
        length: int,
        now: datetime,
    ) -> None:
        self._c.execute(
            insert(t.photo_uploads).values(
                id=upload_id,
                user_id=user_id,
                sha256=sha256,
                filename=filename,
                upload_metadata=upload_metadata,
                upload_length=length,
                upload_offset=0,
                state=RECEIVING,
                created_at=now,
                updated_at=now,
            )
        )

    def get(self, upload_id: str) -> UploadRow | None:
        row = self._c.execute(
            select(*_UPLOAD_COLUMNS).where(t.photo_uploads.c.id == upload_id)
        ).first()
        return None if row is None else UploadRow(*row)

    def set_offset(self, upload_id: str, offset: int, now: datetime) -> None:
        self._c.execute(
            update(t.photo_uploads)
            .where(t.photo_uploads.c.id == upload_id)
            .values(upload_offset=offset, updated_at=now)
        )

    def advance(self, upload_id: str, start: int, offset: int, now: datetime) -> bool:
        """Move a receiving upload's offset from ``start`` to ``offset``; False (nothing
        written) when another writer moved it first or the upload finished or went away."""
        return self._moved_on(upload_id, start, upload_offset=offset, updated_at=now)

    def mark_stored(self, upload_id: str, start: int, now: datetime) -> bool:
        """Record a receiving upload at ``start`` as stored whole; False as for ``advance``."""
        return self._moved_on(
            upload_id,
            start,
            upload_offset=t.photo_uploads.c.upload_length,
            state=STORED,
            updated_at=now,
        )

    def _moved_on(self, upload_id: str, start: int, **values: Any) -> bool:
        result = self._c.execute(
            update(t.photo_uploads)
            .where(
                t.photo_uploads.c.id == upload_id,
                t.photo_uploads.c.upload_offset == start,
                t.photo_uploads.c.state == RECEIVING,
            )
            .values(**values)
        )
        return result.rowcount == 1

    def delete(self, upload_id: str) -> None:
        self._c.execute(delete(t.photo_uploads).where(t.photo_uploads.c.id == upload_id))

    def stored_by(self, sha256: str, user_id: int) -> bool:
        """Whether this user finished an upload of this blob."""
        row = self._c.execute(
            select(t.photo_uploads.c.id)
            .where(
                t.photo_uploads.c.sha256 == sha256,
                t.photo_uploads.c.user_id == user_id,
                t.photo_uploads.c.state == STORED,
            )
            .limit(1)
        ).first()
        return row is not None


class PhotoBlobs:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, sha256: str) -> BlobRow | None:
        row = self._c.execute(
            select(
                t.photo_blobs.c.sha256,
                t.photo_blobs.c.bytes,
                t.photo_blobs.c.media_type,
                t.photo_blobs.c.width,
                t.photo_blobs.c.height,
            ).where(t.photo_blobs.c.sha256 == sha256)
        ).first()
        return None if row is None else BlobRow(*row)

    def known(self, digests: Iterable[str]) -> set[str]:
        wanted = sorted(set(digests))
        found: set[str] = set()
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            found.update(
                self._c.execute(
                    select(t.photo_blobs.c.sha256).where(t.photo_blobs.c.sha256.in_(chunk))
                ).scalars()
            )
        return found

    def add_if_absent(
        self,
        sha256: str,
        size: int,
        media_type: str,
        dimensions: tuple[int, int] | None,
        user_id: int,
        now: datetime,
    ) -> None:
        """Record a stored blob; a second upload of the same bytes (maybe finishing in another
        process at the same moment) leaves the first record as it is."""
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        width, height = dimensions if dimensions is not None else (None, None)
        self._c.execute(
            dialect.insert(t.photo_blobs)
            .values(
                sha256=sha256,
                bytes=size,
                media_type=media_type,
                width=width,
                height=height,
                stored_at=now,
                stored_by=user_id,
            )
            .on_conflict_do_nothing(index_elements=["sha256"])
        )

    def held_by_expeditions(self, sha256: str, expedition_ids: Iterable[int]) -> bool:
        """Whether a photo record of one of these expeditions names this blob."""
        ids = sorted(set(expedition_ids))
        if not ids:
            return False
        row = self._c.execute(
            select(t.records.c.uuid)
            .where(
                t.records.c.photo_sha256 == sha256,
                t.records.c.type == "photo",
                t.records.c.expedition_id.in_(ids),
            )
            .limit(1)
        ).first()
        return row is not None
