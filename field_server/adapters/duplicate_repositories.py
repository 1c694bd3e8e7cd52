"""Repositories of duplicate detection and merging: find traits and photos, candidate pairs,
aliases, over one SQLAlchemy connection."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    any_,
    bindparam,
    insert,
    or_,
    select,
    update,
)

from field_server.adapters import tables as t
from field_server.adapters.repositories import CHUNK, _bulk_insert, _chunks, _marker, bulk_upsert
from field_server.domain.duplicates import (
    BULK_KINDS,
    FindTraits,
    NearColumns,
    canonical_pair,
    grid_place,
)
from field_server.domain.find_grid import SHELVES, Shelf, filed_keys
from field_server.domain.find_status import FindStatus

OPEN = "open"
MERGED = "merged"
DISMISSED = "dismissed"
WITHDRAWN = "withdrawn"  # closed by the server: the finds no longer match

# find_traits columns in FindTraits' field order (photos come from find_photos)
_TRAIT_NAMES = tuple(name for name in FindTraits.__slots__ if name != "photos")  # type: ignore[attr-defined]
_TRAITS = f"SELECT {', '.join(_TRAIT_NAMES)} FROM {t.find_traits.name}"
# find_traits.status is the find's status: a merged find is gone from detection
_NOT_MERGED = f"status <> '{FindStatus.MERGED.value}'"
_LIVE = f"expedition_id = {{mark}} AND {_NOT_MERGED}"
# The same, read by a scan in table order: a whole expedition is most of the table, and
# SQLite would otherwise walk an (expedition_id, …) index and fetch each row out of order,
# several times slower. The unary plus keeps either database off that index.
_SCAN = f"+expedition_id = {{mark}} AND {_NOT_MERGED}"
_BULK = ", ".join(f"'{kind}'" for kind in sorted(BULK_KINDS))
# what the near-match rule's cheap tests read (NearColumns.of_rows)
_NEAR_COLUMNS = (
    "uuid, group_code, context_code, day, lon, lat, horizontal_accuracy_m, "
    f"kind IN ({_BULK}), quantity, weight_g"
)


def _lookup_chunks(
    connection: Connection, values: Sequence[Any], lists: int = 1
) -> Iterable[Sequence[Any]]:
    """``values`` a query's worth at a time, for a query testing ``lists`` columns against
    them. On PostgreSQL a chunk goes as one array parameter (``= ANY``): a long IN list costs
    it more to plan than to run, and given thousands of values at once it expects thousands of
    rows and scans the table, where each chunk's index lookups take a millisecond. Elsewhere a
    chunk is an IN list per column, within the bound-parameter limit."""
    if connection.dialect.name == "postgresql":
        return _chunks(values, 1000)
    return _chunks(values, CHUNK // lists)


def traits_row(traits: FindTraits, expedition_id: int, status: str) -> dict[str, Any]:
    """The find_traits row of a find, with the grid keys it is filed under."""
    row = {name: getattr(traits, name) for name in _TRAIT_NAMES}
    row["expedition_id"] = expedition_id
    row["status"] = status
    place = grid_place(traits)
    row["cell"], row["context_cell"] = filed_keys(place)
    row["group_code"], row["context_code"], row["day"] = place.group, place.context, place.day
    return row


class FindTraitsIndex:
    """What detection reads of finds; merged finds are left out of every read.

    The reads of many rows go to the driver's cursor and skip SQLAlchemy's result rows, which
    cost more than the query itself on a whole expedition.
    """

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def save(self, rows: Sequence[dict[str, Any]], photos: dict[str, tuple[str, ...]]) -> None:
        """Insert or replace the traits (rows from :func:`traits_row`) and photo links."""
        if not rows:
            return
        bulk_upsert(self._c, t.find_traits, rows)
        uuids = sorted(photos)
        self._matching(f"DELETE FROM {t.find_photos.name} WHERE", "uuid", uuids, fetch=False)
        links = [{"uuid": u, "sha256": s} for u in uuids for s in sorted(set(photos[u]))]
        _bulk_insert(self._c, t.find_photos, links)

    def changed_since(self, expedition_id: int, seq: int) -> frozenset[str]:
        """The expedition's finds written after change ``seq`` (pushed, revised, merged)."""
        rows = self._c.execute(
            select(t.records.c.uuid).where(
                t.records.c.expedition_id == expedition_id,
                t.records.c.seq > seq,
                t.records.c.type == "find",
            )
        )
        return frozenset(row.uuid for row in rows)

    def set_status(self, uuid: str, status: str) -> None:
        self._c.execute(
            update(t.find_traits).where(t.find_traits.c.uuid == uuid).values(status=status)
        )

    def shelves(self, expedition_id: int) -> frozenset[Shelf]:
        """The grid shelves the expedition's finds are on: one index range lookup each."""
        mark = _marker(self._c)
        probe = (
            f"SELECT 1 FROM {t.find_traits.name} WHERE expedition_id = {mark} "
            f"AND context_cell BETWEEN {mark} AND {mark}"
        )
        params: list[Any] = []
        for shelf in SHELVES:
            params += [expedition_id, shelf.lowest_key, shelf.highest_key]
        [found] = self._fetch(
            "SELECT " + ", ".join(f"EXISTS ({probe})" for _ in SHELVES), tuple(params)
        )
        return frozenset(shelf for shelf, used in zip(SHELVES, found, strict=True) if used)

    def in_cells(
        self, expedition_id: int, area_keys: Iterable[int], context_keys: Iterable[int]
    ) -> list[FindTraits]:
        """Live finds filed under any of the area or context keys (find_grid)."""
        live = _LIVE.format(mark=_marker(self._c))
        rows: list[tuple[Any, ...]] = []
        for column, keys in (("cell", area_keys), ("context_cell", context_keys)):
            rows += self._matching(
                f"{_TRAITS} WHERE {live} AND", column, sorted(set(keys)), (expedition_id,)
            )
        return self._with_photos(rows)

    def with_numbers_or_photos(
        self, expedition_id: int, numbers: Iterable[str], photos: Iterable[str]
    ) -> list[FindTraits]:
        """Live finds of the expedition carrying one of the numbers or naming one of the photos."""
        mark = _marker(self._c)
        live = _LIVE.format(mark=mark)
        traits = ", ".join(f"f.{name}" for name in _TRAIT_NAMES)
        # through the records' (expedition_id, find_number) index
        rows = self._matching(
            f"SELECT {traits} FROM {t.find_traits.name} f JOIN {t.records.name} r "
            f"ON r.uuid = f.uuid WHERE f.status <> '{FindStatus.MERGED.value}' "
            f"AND r.expedition_id = {mark} AND r.type = 'find' AND",
            "r.find_number",
            sorted(set(numbers)),
            (expedition_id,),
        )
        holders = self._matching(
            f"SELECT DISTINCT uuid FROM {t.find_photos.name} WHERE", "sha256", sorted(set(photos))
        )
        rows += self._matching(
            f"{_TRAITS} WHERE {live} AND", "uuid", sorted(u for (u,) in holders), (expedition_id,)
        )
        return self._with_photos(rows)

    def near_columns(self, expedition_id: int) -> tuple[list[str], NearColumns]:
        """The uuids of the expedition's live finds and, in the same order, what the
        near-match rule's cheap tests read of them."""
        return NearColumns.of_rows(
            self._fetch(
                f"SELECT {_NEAR_COLUMNS} FROM {t.find_traits.name} "
                f"WHERE {_SCAN.format(mark=_marker(self._c))}",
                (expedition_id,),
            )
        )

    def sharing_pairs(self, expedition_id: int) -> set[tuple[str, str]]:
        """Pairs (canonical) of the expedition's live finds that carry one find number or name
        one photo; the database picks out the shared values."""
        scan = _SCAN.format(mark=_marker(self._c))
        holders: dict[tuple[str, str], list[str]] = {}
        for number, uuid in self._fetch(
            f"SELECT find_number, uuid FROM {t.find_traits.name} WHERE {scan} AND find_number IN "
            f"(SELECT find_number FROM {t.find_traits.name} WHERE {scan} "
            "GROUP BY find_number HAVING COUNT(*) > 1)",
            (expedition_id, expedition_id),
        ):
            holders.setdefault(("number", number), []).append(uuid)
        # photos named by more than one find anywhere (few), then those of live finds here
        shared = self._fetch(
            f"SELECT sha256, uuid FROM {t.find_photos.name} WHERE sha256 IN (SELECT sha256 "
            f"FROM {t.find_photos.name} GROUP BY sha256 HAVING COUNT(*) > 1)",
            (),
        )
        here = self._live_of(expedition_id, {uuid for _, uuid in shared})
        for sha, uuid in shared:
            if uuid in here:
                holders.setdefault(("photo", sha), []).append(uuid)
        return {
            canonical_pair(a, b)
            for uuids in holders.values()
            for n, a in enumerate(uuids)
            for b in uuids[n + 1 :]
        }

    def _live_of(self, expedition_id: int, uuids: set[str]) -> set[str]:
        live = _LIVE.format(mark=_marker(self._c))
        sql = f"SELECT uuid FROM {t.find_traits.name} WHERE {live} AND"
        return {uuid for (uuid,) in self._matching(sql, "uuid", sorted(uuids), (expedition_id,))}

    def of_uuids(self, uuids: Iterable[str]) -> dict[str, FindTraits]:
        """The traits of these finds (merged ones left out), by uuid."""
        rows = self._matching(f"{_TRAITS} WHERE {_NOT_MERGED} AND", "uuid", sorted(set(uuids)))
        return {f.uuid: f for f in self._with_photos(rows)}

    def _matching(
        self,
        sql: str,
        column: str,
        values: Sequence[Any],
        params: tuple[Any, ...] = (),
        *,
        fetch: bool = True,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (which ends in WHERE … AND) whose ``column`` holds one of
        ``values``, a chunk of values per query (:func:`_lookup_chunks`)."""
        postgresql = self._c.dialect.name == "postgresql"
        rows: list[tuple[Any, ...]] = []
        for chunk in _lookup_chunks(self._c, values):
            if postgresql:
                statement, bound = f"{sql} {column} = ANY(%s)", (*params, list(chunk))
            else:
                statement = f"{sql} {column} IN ({self._marks(len(chunk))})"
                bound = (*params, *chunk)
            rows.extend(self._fetch(statement, bound, fetch=fetch))
        return rows

    def _marks(self, count: int) -> str:
        return ", ".join([_marker(self._c)] * count)

    def _fetch(
        self, sql: str, params: tuple[Any, ...], *, fetch: bool = True
    ) -> list[tuple[Any, ...]]:
        cursor = self._c.connection.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall() if fetch else []
        finally:
            cursor.close()

    def _with_photos(self, rows: list[tuple[Any, ...]]) -> list[FindTraits]:
        unique = {row[0]: row for row in rows}
        photos: dict[str, list[str]] = {}
        sql = f"SELECT uuid, sha256 FROM {t.find_photos.name} WHERE"
        for uuid, sha in self._matching(sql, "uuid", sorted(unique)):
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
        postgresql = self._c.dialect.name == "postgresql"
        for chunk in _lookup_chunks(self._c, list(uuids), lists=2):
            if postgresql:
                chosen: Any = any_(bindparam("uuids", list(chunk), type_=ARRAY(String)))
                query = select(t.duplicate_candidates).where(
                    or_(
                        t.duplicate_candidates.c.find_a == chosen,
                        t.duplicate_candidates.c.find_b == chosen,
                    )
                )
            else:
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
