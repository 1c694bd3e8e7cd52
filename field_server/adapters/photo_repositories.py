"""Repositories of photos: tus uploads and the stored blobs, over one SQLAlchemy connection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from field_server.adapters import tables as t
from field_server.adapters.repositories import CHUNK

# Texts (JSON) searched for a digest at once in one scan of a table: a scan per digest would
# read a season's revisions once for every photo the cleanup looks at.
DIGESTS_PER_SCAN = 50

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

    # -- quotas and cleanup --------------------------------------------------------------------

    def lock_uploader(self, user_id: int) -> None:
        """Make one person's upload creations take turns (a row lock on PostgreSQL; SQLite's
        write transaction already does), so two at once cannot both fit the last quota."""
        self._c.execute(select(t.users.c.id).where(t.users.c.id == user_id).with_for_update())

    def unfinished(self, user_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """For each of these people with uploads not yet finished: how many, and the bytes
        they declared (one scan of the uploads, however many people are asked about)."""
        rows = self._c.execute(
            select(
                t.photo_uploads.c.user_id,
                func.count(),
                func.sum(t.photo_uploads.c.upload_length),
            )
            .where(
                t.photo_uploads.c.user_id.in_(sorted(set(user_ids))),
                t.photo_uploads.c.state == RECEIVING,
            )
            .group_by(t.photo_uploads.c.user_id)
        )
        return {user_id: (int(count), int(declared)) for user_id, count, declared in rows}

    def stale(self, before: datetime) -> list[UploadRow]:
        """Unfinished uploads that made no progress since ``before``."""
        rows = self._c.execute(
            select(*_UPLOAD_COLUMNS)
            .where(
                t.photo_uploads.c.state == RECEIVING,
                t.photo_uploads.c.updated_at < before,
            )
            .order_by(t.photo_uploads.c.id)
        )
        return [UploadRow(*row) for row in rows]

    def delete_if_stale(self, upload_id: str, before: datetime) -> bool:
        """Forget an unfinished upload unless a chunk came since ``before``."""
        result = self._c.execute(
            delete(t.photo_uploads).where(
                t.photo_uploads.c.id == upload_id,
                t.photo_uploads.c.state == RECEIVING,
                t.photo_uploads.c.updated_at < before,
            )
        )
        return result.rowcount == 1


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

    # -- quotas and cleanup --------------------------------------------------------------------

    def sent_by(self, user_ids: Iterable[int]) -> int:
        """Bytes of the blobs these people sent: by a finished tus upload, or first stored
        from their phone (``stored_by``). A blob counts once however many of them sent it."""
        ids = sorted(set(user_ids))
        uploaded = select(t.photo_uploads.c.sha256).where(
            t.photo_uploads.c.user_id.in_(ids), t.photo_uploads.c.state == STORED
        )
        total = self._c.execute(
            select(func.coalesce(func.sum(t.photo_blobs.c.bytes), 0)).where(
                or_(t.photo_blobs.c.stored_by.in_(ids), t.photo_blobs.c.sha256.in_(uploaded))
            )
        ).scalar_one()
        return int(total)

    def unnamed_before(self, before: datetime) -> list[BlobRow]:
        """Blobs stored before ``before`` that no record or find names now and that nobody
        has uploaded since; texts (submissions, revisions, conflicts) are searched by
        ``named_in_texts``, not here."""
        sha = t.photo_blobs.c.sha256
        rows = self._c.execute(
            _blob_columns()
            .where(t.photo_blobs.c.stored_at < before, *_unnamed_by_rows(sha, before))
            .order_by(sha)
        )
        return [BlobRow(*row) for row in rows]

    def named_in_texts(self, digests: Iterable[str], *, history: bool = True) -> set[str]:
        """The digests a phone's submission or a conflicting version names, and with
        ``history`` an earlier revision of a record: those keep their blobs too."""
        texts = [t.collect_submissions.c.attachments_received, t.conflicts.c.data]
        if history:
            texts.append(t.revisions.c.data)
        wanted = sorted(set(digests))
        named: set[str] = set()
        for start in range(0, len(wanted), DIGESTS_PER_SCAN):
            batch = wanted[start : start + DIGESTS_PER_SCAN]
            for text in texts:
                for (value,) in self._c.execute(
                    select(text).where(or_(*(text.contains(d, autoescape=True) for d in batch)))
                ):
                    named.update(d for d in batch if d in value)
        return named

    def forget_if_unnamed(self, sha256: str, before: datetime) -> bool:
        """Delete the blob's row, and its finished uploads' rows, if nothing names it and
        nobody stored or sent it since ``before``: checked again in this transaction, so a
        record naming it that committed since the blob was chosen keeps it."""
        sha = t.photo_blobs.c.sha256
        if self.named_in_texts([sha256], history=False):
            return False
        result = self._c.execute(
            delete(t.photo_blobs).where(
                sha == sha256, t.photo_blobs.c.stored_at < before, *_unnamed_by_rows(sha, before)
            )
        )
        if result.rowcount != 1:
            return False
        self._c.execute(
            delete(t.photo_uploads).where(
                t.photo_uploads.c.sha256 == sha256, t.photo_uploads.c.state == STORED
            )
        )
        return True


def _blob_columns() -> Select[Any]:
    return select(
        t.photo_blobs.c.sha256,
        t.photo_blobs.c.bytes,
        t.photo_blobs.c.media_type,
        t.photo_blobs.c.width,
        t.photo_blobs.c.height,
    )


def _unnamed_by_rows(sha: Any, before: datetime) -> list[ColumnElement[bool]]:
    """No record, find or upload since ``before`` names the digest ``sha``: all by index."""
    return [
        ~exists().where(t.records.c.photo_sha256 == sha),
        ~exists().where(t.find_photos.c.sha256 == sha),
        ~exists().where(
            and_(t.photo_uploads.c.sha256 == sha, t.photo_uploads.c.updated_at >= before)
        ),
    ]


def expedition_members(
    connection: Connection, expedition_ids: Iterable[int]
) -> dict[str, list[int]]:
    """The user ids of each expedition's members, by expedition code."""
    rows = connection.execute(
        select(t.expeditions.c.code, t.memberships.c.user_id)
        .join(t.memberships, t.memberships.c.expedition_id == t.expeditions.c.id)
        .where(t.expeditions.c.id.in_(sorted(set(expedition_ids))))
    )
    members: dict[str, list[int]] = {}
    for code, user_id in rows:
        members.setdefault(code, []).append(user_id)
    return members
