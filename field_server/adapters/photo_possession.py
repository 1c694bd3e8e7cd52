"""Who holds a stored photo (DESIGN §4): an expedition holds a blob when one of its records
names it (a photo record, or a find's photos) and one of its members sent those bytes (a
finished tus upload, or the first storing of the blob, which is how a phone's attachment is
recorded). Naming a digest alone gives nothing: anyone can copy a digest from a list.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Subquery, and_, exists, literal, or_, select, union

from field_server.adapters import tables as t
from field_server.adapters.photo_repositories import STORED


class PhotoPossession:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _senders(self, sha256: str) -> Subquery:
        return union(
            select(t.photo_uploads.c.user_id.label("user_id")).where(
                t.photo_uploads.c.sha256 == sha256, t.photo_uploads.c.state == STORED
            ),
            select(t.photo_blobs.c.stored_by.label("user_id")).where(
                t.photo_blobs.c.sha256 == sha256, t.photo_blobs.c.stored_by.is_not(None)
            ),
        ).subquery()

    def sent_by(self, sha256: str, user_id: int) -> bool:
        """Whether this person sent these bytes themselves."""
        senders = self._senders(sha256)
        row = self._c.execute(select(literal(1)).where(senders.c.user_id == user_id)).first()
        return row is not None

    def held(self, sha256: str, expedition_ids: Iterable[int]) -> set[int]:
        """Which of these expeditions hold the blob."""
        ids = sorted(set(expedition_ids))
        if not ids:
            return set()
        senders = self._senders(sha256)
        m = t.memberships
        named_by_photo = exists().where(
            t.records.c.photo_sha256 == sha256,
            t.records.c.type == "photo",
            t.records.c.expedition_id == m.c.expedition_id,
        )
        named_by_find = exists().where(
            and_(
                t.find_photos.c.sha256 == sha256,
                t.records.c.uuid == t.find_photos.c.uuid,
                t.records.c.expedition_id == m.c.expedition_id,
            )
        )
        rows = self._c.execute(
            select(m.c.expedition_id)
            .distinct()
            .where(
                m.c.expedition_id.in_(ids),
                m.c.user_id.in_(select(senders.c.user_id)),
                or_(named_by_photo, named_by_find),
            )
        )
        return {row.expedition_id for row in rows}
