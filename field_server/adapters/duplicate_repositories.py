"""Repositories of duplicate detection and merging: find traits and photos, candidates (pairs
and number groups with their members), aliases, over one SQLAlchemy connection."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from field_server.adapters import tables as t
from field_server.adapters.repositories import CHUNK, _bulk_insert, _chunks, _marker, bulk_upsert
from field_server.domain.duplicates import (
    BULK_KINDS,
    SHARED_PHOTO_PARTNERS,
    FindTraits,
    NearColumns,
    grid_place,
    photo_partners,
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

    def sharing_photos(
        self, expedition_id: int, photos: Iterable[str], most: int = SHARED_PHOTO_PARTNERS
    ) -> list[FindTraits]:
        """Live finds of the expedition naming one of the photos: per photo, the ``most`` first
        by uuid (the same the whole-expedition detection pairs with; see ``photo_partners``),
        so a photo named by a thousand finds costs a push no more than one named by a few."""
        mark = _marker(self._c)
        holders = self._matching(
            "SELECT uuid FROM (SELECT p.uuid, ROW_NUMBER() OVER (PARTITION BY p.sha256 "
            f"ORDER BY p.uuid) AS place FROM {t.find_photos.name} p JOIN "
            f"{t.find_traits.name} f ON f.uuid = p.uuid WHERE f.expedition_id = {mark} AND "
            f"f.{_NOT_MERGED} AND",
            "p.sha256",
            sorted(set(photos)),
            (expedition_id,),
            suffix=f") ranked WHERE place <= {int(most)}",
        )
        rows = self._matching(f"{_TRAITS} WHERE", "uuid", sorted({u for (u,) in holders}))
        return self._with_photos(rows)

    def number_holders(self, expedition_id: int, numbers: Iterable[str]) -> dict[str, list[str]]:
        """The live finds (uuids, in uuid order) carrying each number, through the records'
        (expedition_id, find_number) index."""
        mark = _marker(self._c)
        found: dict[str, list[str]] = {}
        for number, uuid in sorted(
            self._matching(
                f"SELECT find_number, uuid FROM {t.records.name} WHERE expedition_id = {mark} "
                "AND type = 'find' AND merged_into IS NULL AND",
                "find_number",
                sorted(set(numbers)),
                (expedition_id,),
            )
        ):
            found.setdefault(number, []).append(uuid)
        return found

    def shared_numbers(self, expedition_id: int) -> dict[str, list[str]]:
        """Every number two or more of the expedition's live finds carry, with those finds."""
        scan = _SCAN.format(mark=_marker(self._c))
        found: dict[str, list[str]] = {}
        for number, uuid in sorted(
            self._fetch(
                f"SELECT find_number, uuid FROM {t.find_traits.name} WHERE {scan} AND "
                f"find_number IN (SELECT find_number FROM {t.find_traits.name} WHERE {scan} "
                "GROUP BY find_number HAVING COUNT(*) > 1)",
                (expedition_id, expedition_id),
            )
        ):
            found.setdefault(number, []).append(uuid)
        return found

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
        """Pairs (canonical) of the expedition's live finds that name one photo, as
        ``photo_partners`` bounds them; the database picks out the shared photos. (Finds that
        share a number are one group, not pairs: see ``shared_numbers``.)"""
        # photos named by more than one find anywhere (few), then those of live finds here
        shared = self._fetch(
            f"SELECT sha256, uuid FROM {t.find_photos.name} WHERE sha256 IN (SELECT sha256 "
            f"FROM {t.find_photos.name} GROUP BY sha256 HAVING COUNT(*) > 1)",
            (),
        )
        here = self._live_of(expedition_id, {uuid for _, uuid in shared})
        holders: dict[str, list[str]] = {}
        for sha, uuid in shared:
            if uuid in here:
                holders.setdefault(sha, []).append(uuid)
        return {pair for uuids in holders.values() for pair in photo_partners(uuids)}

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
        suffix: str = "",
    ) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (which ends in WHERE … AND) whose ``column`` holds one of
        ``values``, a chunk of values per query (:func:`_lookup_chunks`); ``suffix`` closes
        the statement after the test."""
        postgresql = self._c.dialect.name == "postgresql"
        rows: list[tuple[Any, ...]] = []
        for chunk in _lookup_chunks(self._c, values):
            if postgresql:
                statement = f"{sql} {column} = ANY(%s){suffix}"
                bound = (*params, list(chunk))
            else:
                statement = f"{sql} {column} IN ({self._marks(len(chunk))}){suffix}"
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
    """A stored candidate: a pair (find_a, find_b) or the group of one find number."""

    id: int
    expedition_id: int
    find_a: str | None
    find_b: str | None
    find_number: str | None
    score: float
    rules: tuple[str, ...]
    distance_m: float | None
    state: str
    kept_uuid: str | None
    reason: str | None
    decided_by: int | None
    decided_at: datetime | None
    # a pair's two finds, or the group's members that have not left it (in the order they
    # joined), and those of them merged into the kept find through this candidate
    find_uuids: tuple[str, ...] = ()
    merged_uuids: tuple[str, ...] = ()

    @property
    def pair(self) -> tuple[str, str]:
        assert self.find_a is not None and self.find_b is not None, "a number group"
        return (self.find_a, self.find_b)

    @property
    def is_group(self) -> bool:
        return self.find_number is not None

    @property
    def standing(self) -> tuple[str, ...]:
        """The finds a decision is still to be taken on: not merged away through it."""
        merged = set(self.merged_uuids)
        return tuple(u for u in self.find_uuids if u not in merged)


def _candidate(row: Any) -> CandidateRow:
    return CandidateRow(
        row.id,
        row.expedition_id,
        row.find_a,
        row.find_b,
        row.find_number,
        row.score,
        tuple(json.loads(row.rules)),
        row.distance_m,
        row.state,
        row.kept_uuid,
        row.reason,
        row.decided_by,
        row.decided_at,
    )


_C = t.duplicate_candidates
_M = t.duplicate_members


class DuplicateCandidates:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _complete(self, rows: Iterable[Any]) -> list[CandidateRow]:
        """Candidates of the rows with their finds: members and merged finds in two queries."""
        found = [_candidate(row) for row in rows]
        if not found:
            return []
        ids = sorted(c.id for c in found)
        members: dict[int, list[str]] = {}
        groups = sorted(c.id for c in found if c.is_group)
        for chunk in _chunks(groups):
            for row in self._c.execute(
                select(_M.c.candidate_id, _M.c.find_uuid)
                .where(_M.c.candidate_id.in_(chunk), _M.c.left_at.is_(None))
                .order_by(_M.c.candidate_id, _M.c.joined_at, _M.c.find_uuid)
            ):
                members.setdefault(row.candidate_id, []).append(row.find_uuid)
        merged: dict[int, list[str]] = {}
        for chunk in _chunks(ids):
            for row in self._c.execute(
                select(t.find_aliases.c.candidate_id, t.find_aliases.c.alias_uuid)
                .where(t.find_aliases.c.candidate_id.in_(chunk))
                .order_by(t.find_aliases.c.candidate_id, t.find_aliases.c.alias_uuid)
            ):
                merged.setdefault(row.candidate_id, []).append(row.alias_uuid)
        return [
            replace(
                c,
                find_uuids=tuple(members.get(c.id, ())) if c.is_group else c.pair,
                merged_uuids=tuple(merged.get(c.id, ())),
            )
            for c in found
        ]

    def of_pairs(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], CandidateRow]:
        """Stored rows of the given (canonical) pairs, whatever their state."""
        wanted = sorted(set(pairs))
        by_first: dict[str, set[str]] = {}
        for a, b in wanted:
            by_first.setdefault(a, set()).add(b)
        found: dict[tuple[str, str], CandidateRow] = {}
        for chunk in _chunks(sorted(by_first)):
            rows = self._c.execute(select(_C).where(_C.c.find_a.in_(chunk)))
            for row in rows:
                if row.find_b in by_first.get(row.find_a, ()):
                    found[(row.find_a, row.find_b)] = _candidate(row)
        return found

    def insert(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._c.execute(insert(_C), rows)

    def open_group(
        self,
        expedition_id: int,
        number: str,
        members: Sequence[str],
        score: float,
        rules: Sequence[str],
        now: datetime,
    ) -> int:
        """A new open group of the finds carrying ``number``; its id."""
        candidate_id = self._c.execute(
            insert(_C)
            .values(
                expedition_id=expedition_id,
                find_number=number,
                score=score,
                rules=json.dumps(list(rules)),
                state=OPEN,
                created_at=now,
                updated_at=now,
            )
            .returning(_C.c.id)
        ).scalar_one()
        self.join(candidate_id, members, now)
        return int(candidate_id)

    def join(self, candidate_id: int, uuids: Iterable[str], now: datetime) -> None:
        """The finds become standing members of the group (again, if they had left it)."""
        wanted = sorted(set(uuids))
        if not wanted:
            return
        known: set[str] = set()
        for chunk in _chunks(wanted):
            known.update(
                self._c.execute(
                    select(_M.c.find_uuid).where(
                        _M.c.candidate_id == candidate_id, _M.c.find_uuid.in_(chunk)
                    )
                ).scalars()
            )
        again = [u for u in wanted if u in known]
        for chunk in _chunks(again):
            self._c.execute(
                update(_M)
                .where(_M.c.candidate_id == candidate_id, _M.c.find_uuid.in_(chunk))
                .values(left_at=None)
            )
        _bulk_insert(
            self._c,
            _M,
            [
                {"candidate_id": candidate_id, "find_uuid": u, "joined_at": now, "left_at": None}
                for u in wanted
                if u not in known
            ],
        )

    def leave(self, candidate_id: int, uuids: Iterable[str], now: datetime) -> None:
        for chunk in _chunks(sorted(set(uuids))):
            self._c.execute(
                update(_M)
                .where(
                    _M.c.candidate_id == candidate_id,
                    _M.c.find_uuid.in_(chunk),
                    _M.c.left_at.is_(None),
                )
                .values(left_at=now)
            )

    def is_member(self, candidate_id: int, uuids: Iterable[str]) -> set[str]:
        """Which of the finds are in the group and have not left it (a find that left before
        the group was decided was not decided on)."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(uuids))):
            found.update(
                self._c.execute(
                    select(_M.c.find_uuid).where(
                        _M.c.candidate_id == candidate_id,
                        _M.c.find_uuid.in_(chunk),
                        _M.c.left_at.is_(None),
                    )
                ).scalars()
            )
        return found

    def standing_count(self, candidate_id: int) -> int:
        """How many of the group's finds a decision is still to be taken on."""
        merged = (
            select(t.find_aliases.c.alias_uuid)
            .where(t.find_aliases.c.candidate_id == candidate_id)
            .scalar_subquery()
        )
        return int(
            self._c.execute(
                select(func.count()).where(
                    _M.c.candidate_id == candidate_id,
                    _M.c.left_at.is_(None),
                    _M.c.find_uuid.not_in(merged),
                )
            ).scalar_one()
        )

    def first_standing(self, candidate_id: int, other_than: str) -> str | None:
        """The group's first standing member other than one find (for a push's flag)."""
        return self._c.execute(
            select(_M.c.find_uuid)
            .where(
                _M.c.candidate_id == candidate_id,
                _M.c.left_at.is_(None),
                _M.c.find_uuid != other_than,
            )
            .order_by(_M.c.joined_at, _M.c.find_uuid)
            .limit(1)
        ).scalar()

    def groups_of_numbers(
        self, expedition_id: int, numbers: Iterable[str]
    ) -> dict[str, tuple[CandidateRow | None, CandidateRow | None]]:
        """Per number: its open group, and its latest settled (merged or dismissed) group;
        without their finds (each push reads only what it needs of those)."""
        found: dict[str, tuple[CandidateRow | None, CandidateRow | None]] = {}
        for chunk in _chunks(sorted(set(numbers))):
            rows = self._c.execute(
                select(_C)
                .where(
                    _C.c.expedition_id == expedition_id,
                    _C.c.find_number.in_(chunk),
                    _C.c.state.in_((OPEN, MERGED, DISMISSED)),
                )
                .order_by(_C.c.id)
            )
            for row in rows:
                opened, settled = found.get(row.find_number, (None, None))
                if row.state == OPEN:
                    opened = _candidate(row)
                else:
                    settled = _candidate(row)
                found[row.find_number] = (opened, settled)
        return found

    def update(self, candidate_id: int, values: dict[str, Any]) -> None:
        self._c.execute(update(_C).where(_C.c.id == candidate_id).values(**values))

    def update_many(self, rows: list[dict[str, Any]]) -> None:
        """Each row: ``candidate_id`` and the new values; every row names the same columns."""
        if not rows:
            return
        columns = [name for name in rows[0] if name != "candidate_id"]
        # bound names must differ from the column names in an executemany UPDATE
        statement = (
            update(_C)
            .where(_C.c.id == bindparam("candidate_id"))
            .values({name: bindparam(f"new_{name}") for name in columns})
        )
        params = [
            {"candidate_id": row["candidate_id"], **{f"new_{c}": row[c] for c in columns}}
            for row in rows
        ]
        self._c.execute(statement, params)

    def get(self, candidate_id: int, *, lock: bool = False) -> CandidateRow | None:
        query = select(_C).where(_C.c.id == candidate_id)
        if lock:
            query = query.with_for_update()
        found = self._complete(self._c.execute(query))
        return found[0] if found else None

    def of_expedition(self, expedition_id: int, state: str | None) -> list[CandidateRow]:
        query = select(_C).where(_C.c.expedition_id == expedition_id)
        if state is not None:
            query = query.where(_C.c.state == state)
        return self._complete(self._c.execute(query.order_by(_C.c.score.desc(), _C.c.id)))

    def count(self, expedition_id: int, state: str | None) -> int:
        query = select(func.count()).where(_C.c.expedition_id == expedition_id)
        if state is not None:
            query = query.where(_C.c.state == state)
        return int(self._c.execute(query).scalar_one())

    def page(
        self,
        expedition_id: int,
        state: str | None,
        limit: int,
        after: tuple[float, int] | None,
    ) -> tuple[list[CandidateRow], tuple[float, int] | None]:
        """Up to ``limit`` candidates, strongest first (then oldest), after the (score, id)
        the previous page ended on; and where the next page starts, or None at the end."""
        query = select(_C).where(_C.c.expedition_id == expedition_id)
        if state is not None:
            query = query.where(_C.c.state == state)
        if after is not None:
            score, last_id = after
            query = query.where(
                or_(_C.c.score < score, and_(_C.c.score == score, _C.c.id > last_id))
            )
        rows = list(self._c.execute(query.order_by(_C.c.score.desc(), _C.c.id).limit(limit + 1)))
        more = len(rows) > limit
        found = self._complete(rows[:limit])
        return found, ((found[-1].score, found[-1].id) if more and found else None)

    def open_memberships(self, uuids: Iterable[str]) -> list[tuple[int, str, str]]:
        """(group id, its number, find) for each of the finds standing in an open group; the
        groups' other members are not read."""
        found: list[tuple[int, str, str]] = []
        for chunk in _chunks(sorted(set(uuids))):
            rows = self._c.execute(
                select(_M.c.candidate_id, _C.c.find_number, _M.c.find_uuid)
                .join(_C, _C.c.id == _M.c.candidate_id)
                .where(_M.c.find_uuid.in_(chunk), _M.c.left_at.is_(None), _C.c.state == OPEN)
            )
            found.extend((row.candidate_id, row.find_number, row.find_uuid) for row in rows)
        return sorted(found)

    def involving(
        self, uuids: Sequence[str], state: str | None = OPEN, *, groups: bool = True
    ) -> list[CandidateRow]:
        """The pairs naming any of the finds, and (with ``groups``) the groups they are
        members of and have not left."""
        found: dict[int, Any] = {}
        postgresql = self._c.dialect.name == "postgresql"
        for chunk in _lookup_chunks(self._c, list(uuids), lists=3):
            if postgresql:
                chosen: Any = any_(bindparam("uuids", list(chunk), type_=ARRAY(String)))
                in_a, in_b = _C.c.find_a == chosen, _C.c.find_b == chosen
                member = _M.c.find_uuid == any_(
                    bindparam("member_uuids", list(chunk), type_=ARRAY(String))
                )
            else:
                in_a, in_b = _C.c.find_a.in_(chunk), _C.c.find_b.in_(chunk)
                member = _M.c.find_uuid.in_(chunk)
            if groups:
                held = select(_M.c.candidate_id).where(member, _M.c.left_at.is_(None))
                query = select(_C).where(or_(in_a, in_b, _C.c.id.in_(held)))
            else:
                query = select(_C).where(or_(in_a, in_b))
            if state is not None:
                query = query.where(_C.c.state == state)
            for row in self._c.execute(query):
                found[row.id] = row
        return self._complete(found[k] for k in sorted(found))


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
