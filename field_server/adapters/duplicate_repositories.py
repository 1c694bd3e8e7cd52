"""Repositories of duplicate detection and merging: find traits and photos, candidate pairs,
aliases, over one SQLAlchemy connection."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from field_server.adapters import tables as t
from field_server.adapters.repositories import CHUNK, _bulk_insert, _chunks, _marker
from field_server.domain.duplicates import FindTraits
from field_server.domain.find_grid import cell_key, group_code

OPEN = "open"
MERGED = "merged"
DISMISSED = "dismissed"
WITHDRAWN = "withdrawn"  # closed by the server: the finds no longer match

# find_traits columns in FindTraits' field order (photos come from find_photos)
_TRAIT_NAMES = tuple(name for name in FindTraits.__slots__ if name != "photos")  # type: ignore[attr-defined]
_TRAIT_COLUMNS = tuple(t.find_traits.c[name] for name in _TRAIT_NAMES)


def traits_row(traits: FindTraits, expedition_id: int, status: str) -> dict[str, Any]:
    """The find_traits row of a find, with the grid cell it is filed under."""
    row = {name: getattr(traits, name) for name in _TRAIT_NAMES}
    row["expedition_id"] = expedition_id
    row["status"] = status
    row["cell"] = cell_key(
        group_code(traits.site_code, traits.material, traits.kind),
        traits.horizontal_accuracy_m,
        traits.lon,
        traits.lat,
    )
    return row


class FindTraitsIndex:
    """What detection reads of finds; merged finds are left out of every read."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def save(self, rows: Sequence[dict[str, Any]], photos: dict[str, tuple[str, ...]]) -> None:
        """Insert or replace the traits (rows from :func:`traits_row`) and photo links."""
        if not rows:
            return
        columns = list(rows[0])
        mark = _marker(self._c)
        changes = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "uuid")
        sql = (
            f"INSERT INTO {t.find_traits.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))}) "
            f"ON CONFLICT (uuid) DO UPDATE SET {changes}"
        )
        self._c.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])
        uuids = sorted(photos)
        for chunk in _chunks(uuids):
            self._c.execute(delete(t.find_photos).where(t.find_photos.c.uuid.in_(chunk)))
        links = [{"uuid": u, "sha256": s} for u in uuids for s in sorted(set(photos[u]))]
        _bulk_insert(self._c, t.find_photos, links)

    def set_status(self, uuid: str, status: str) -> None:
        self._c.execute(
            update(t.find_traits).where(t.find_traits.c.uuid == uuid).values(status=status)
        )

    def in_cells(self, expedition_id: int, keys: Iterable[int]) -> list[FindTraits]:
        rows: list[Any] = []
        for chunk in _chunks(sorted(set(keys))):
            rows.extend(
                self._c.execute(
                    self._select().where(
                        t.find_traits.c.expedition_id == expedition_id,
                        t.find_traits.c.cell.in_(chunk),
                    )
                )
            )
        return self._with_photos(rows)

    def with_numbers_or_photos(
        self, expedition_id: int, numbers: Iterable[str], photos: Iterable[str]
    ) -> list[FindTraits]:
        """Live finds of the expedition carrying one of the numbers or naming one of the photos."""
        rows: list[Any] = []
        for chunk in _chunks(sorted(set(numbers))):
            rows.extend(
                self._c.execute(
                    self._select()
                    .join(t.records, t.records.c.uuid == t.find_traits.c.uuid)
                    .where(
                        t.records.c.expedition_id == expedition_id,
                        t.records.c.find_number.in_(chunk),
                        t.records.c.type == "find",
                    )
                )
            )
        for chunk in _chunks(sorted(set(photos))):
            holders = select(t.find_photos.c.uuid).where(t.find_photos.c.sha256.in_(chunk))
            rows.extend(
                self._c.execute(
                    self._select().where(
                        t.find_traits.c.expedition_id == expedition_id,
                        t.find_traits.c.uuid.in_(holders),
                    )
                )
            )
        return self._with_photos(rows)

    def of_expedition(self, expedition_id: int) -> list[FindTraits]:
        rows = self._c.execute(
            self._select().where(t.find_traits.c.expedition_id == expedition_id)
        ).all()
        photos: dict[str, list[str]] = {}
        links = self._c.execute(
            select(t.find_photos.c.uuid, t.find_photos.c.sha256)
            .join(t.find_traits, t.find_traits.c.uuid == t.find_photos.c.uuid)
            .where(t.find_traits.c.expedition_id == expedition_id)
        )
        for uuid, sha in links:
            photos.setdefault(uuid, []).append(sha)
        return [FindTraits(*row, photos=tuple(photos.get(row[0], ()))) for row in rows]

    def _select(self) -> Any:
        return select(*_TRAIT_COLUMNS).where(t.find_traits.c.status != MERGED)

    def _with_photos(self, rows: list[Any]) -> list[FindTraits]:
        unique = {row[0]: row for row in rows}
        photos: dict[str, list[str]] = {}
        for chunk in _chunks(sorted(unique)):
            links = self._c.execute(
                select(t.find_photos.c.uuid, t.find_photos.c.sha256).where(
                    t.find_photos.c.uuid.in_(chunk)
                )
            )
            for uuid, sha in links:
                photos.setdefault(uuid, []).append(sha)
        return [FindTraits(*row, photos=tuple(photos.get(u, ()))) for u, row in unique.items()]


@dataclass(frozen=True)
class CandidateRow:
    id: int
    expedition_id: int
    find_a: str
    find_b: str
    score: float
    rules: tuple[str, ...]
    distance_m: float | None
    state: str
    kept_uuid: str | None
    reason: str | None
    decided_by: int | None
    decided_at: datetime | None

    @property
    def pair(self) -> tuple[str, str]:
        return (self.find_a, self.find_b)


def _candidate(row: Any) -> CandidateRow:
    return CandidateRow(
        row.id,
        row.expedition_id,
        row.find_a,
        row.find_b,
        row.score,
        tuple(json.loads(row.rules)),
        row.distance_m,
        row.state,
        row.kept_uuid,
        row.reason,
        row.decided_by,
        row.decided_at,
    )


class DuplicateCandidates:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def of_pairs(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], CandidateRow]:
        """Stored rows of the given (canonical) pairs, whatever their state."""
        wanted = sorted(set(pairs))
        by_first: dict[str, set[str]] = {}
        for a, b in wanted:
            by_first.setdefault(a, set()).add(b)
        found: dict[tuple[str, str], CandidateRow] = {}
        for chunk in _chunks(sorted(by_first)):
            rows = self._c.execute(
                select(t.duplicate_candidates).where(t.duplicate_candidates.c.find_a.in_(chunk))
            )
            for row in rows:
                if row.find_b in by_first.get(row.find_a, ()):
                    found[(row.find_a, row.find_b)] = _candidate(row)
        return found

    def insert(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._c.execute(insert(t.duplicate_candidates), rows)

    def update(self, candidate_id: int, values: dict[str, Any]) -> None:
        self._c.execute(
            update(t.duplicate_candidates)
            .where(t.duplicate_candidates.c.id == candidate_id)
            .values(**values)
        )

    def update_many(self, rows: list[dict[str, Any]]) -> None:
        """Each row: ``candidate_id`` and the new values; every row names the same columns."""
        if not rows:
            return
        columns = [name for name in rows[0] if name != "candidate_id"]
        # bound names must differ from the column names in an executemany UPDATE
        statement = (
            update(t.duplicate_candidates)
            .where(t.duplicate_candidates.c.id == bindparam("candidate_id"))
            .values({name: bindparam(f"new_{name}") for name in columns})
        )
        params = [
            {"candidate_id": row["candidate_id"], **{f"new_{c}": row[c] for c in columns}}
            for row in rows
        ]
        self._c.execute(statement, params)

    def get(self, candidate_id: int, *, lock: bool = False) -> CandidateRow | None:
        query = select(t.duplicate_candidates).where(t.duplicate_candidates.c.id == candidate_id)
        if lock:
            query = query.with_for_update()
        row = self._c.execute(query).first()
        return None if row is None else _candidate(row)

    def of_expedition(self, expedition_id: int, state: str | None) -> list[CandidateRow]:
        query = select(t.duplicate_candidates).where(
            t.duplicate_candidates.c.expedition_id == expedition_id
        )
        if state is not None:
            query = query.where(t.duplicate_candidates.c.state == state)
        query = query.order_by(t.duplicate_candidates.c.score.desc(), t.duplicate_candidates.c.id)
        return [_candidate(row) for row in self._c.execute(query)]

    def involving(self, uuids: Sequence[str], state: str | None = OPEN) -> list[CandidateRow]:
        found: dict[int, CandidateRow] = {}
        for chunk in _chunks(list(uuids), CHUNK // 2):
            query = select(t.duplicate_candidates).where(
                or_(
                    t.duplicate_candidates.c.find_a.in_(chunk),
                    t.duplicate_candidates.c.find_b.in_(chunk),
                )
            )
            if state is not None:
                query = query.where(t.duplicate_candidates.c.state == state)
            for row in self._c.execute(query):
                found[row.id] = _candidate(row)
        return [found[k] for k in sorted(found)]


class FindAliases:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        alias_uuid: str,
        kept_uuid: str,
        candidate_id: int | None,
        user_id: int | None,
        now: datetime,
    ) -> None:
        self._c.execute(
            insert(t.find_aliases).values(
                alias_uuid=alias_uuid,
                kept_uuid=kept_uuid,
                candidate_id=candidate_id,
                created_by=user_id,
                created_at=now,
            )
        )
        # an alias of the find now merged away follows it to the kept one: one hop always
        self._c.execute(
            update(t.find_aliases)
            .where(t.find_aliases.c.kept_uuid == alias_uuid)
            .values(kept_uuid=kept_uuid)
        )

    def kept_of(self, uuids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(uuids))):
            rows = self._c.execute(
                select(t.find_aliases.c.alias_uuid, t.find_aliases.c.kept_uuid).where(
                    t.find_aliases.c.alias_uuid.in_(chunk)
                )
            )
            found.update({row.alias_uuid: row.kept_uuid for row in rows})
        return found

    def of_kept(self, kept_uuid: str) -> list[Any]:
        return list(
            self._c.execute(
                select(t.find_aliases)
                .where(t.find_aliases.c.kept_uuid == kept_uuid)
                .order_by(t.find_aliases.c.created_at, t.find_aliases.c.alias_uuid)
            )
        )
