"""Which finds may be one object, how likely, and why (DESIGN §5).

Finds of one expedition that carry one number are one candidate, a *number group*, however
many they are (``same_find_number``, strong: numbers are reserved in blocks, so a repeat is a
number typed by hand or a find entered twice). Listing them pair by pair would make N finds of
one number N(N−1)/2 candidates, and their comparison and the queue grow with that square. A
pair of finds that share a number is therefore never a candidate of its own: the group holds
it. What becomes of a number's group as finds come and go is ``number_group_change``.

Two rules find a pair of finds with different numbers:

- ``shared_photo``: both name the same photo file (a photo named by many finds pairs each of
  them with the first ``SHARED_PHOTO_PARTNERS`` of them only, see ``photo_partners``);
- ``near_match``: same site, same material, same kind, the same context where both have one (a
  context is numbered within its trench, so the trench must agree too), found within a day of
  each other, and no further apart than ``max(0.5 m, combined horizontal accuracy)``. Two
  accuracies combine as the root sum of their squares: two independent position errors add up
  in quadrature, and adding them outright would let one phone fix (25 m) widen every search.

In a dense deposit many genuine finds satisfy the near-match rule, so a near match is only a
candidate when what was recorded agrees as well: the object name, dimensions, weight, count,
who recorded it and when. Two different recorders logging a similar object at one spot within
hours is the classic double entry; one recorder logging two sherds of different sizes a few
centimetres apart is a deposit. Bulk lots and samples are never paired by position alone: their
count and weight must agree too.

Each rule gives a probability-like weight and the score is their noisy-OR (1 − Π(1 − wᵢ)), so
every further rule raises it and none pushes it past 1. Positions are compared in local metres
(an equirectangular projection at the pair's mean latitude); the search for near pairs runs
through a sorted grid and, for the few finds that reach further, a shapely STRtree (see
``near_pairs``), so detection over an expedition is near-linear in its finds.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

import numpy as np
import shapely

from field_server.domain.find_grid import (
    FLOOR_M,
    MARGIN,
    METRES_PER_DEGREE,
    NO_CONTEXT,
    GridPlace,
    day_number,
    place_of,
)

SAME_FIND_NUMBER = 0.9  # a number group's score
NUMBER_GROUP_RULES = ("same_find_number",)
SHARED_PHOTO = 0.85
NEAR_MATCH_MIN = 0.55  # below this a near match is left out of the queue
NEAR_MATCH_MAX = 0.95  # position and description never prove identity on their own
BULK_KINDS = frozenset({"bulk", "sample"})
# A near match is looked for among a find's nearest neighbours only. A double entry lies next
# to its twin; a spot where hundreds of finds share one position (a total station's datum, a
# sieve's bulk context) would otherwise make every push compare each find with all of them
# and flood the queue. Same find numbers and shared photos are not bounded by this.
NEAR_PARTNERS = 16
# A photo of a tray of sherds may be named by all of them, and a photo named by thousands of
# finds would pair each with all the others. A find is paired through a photo with the first
# few of its holders (by uuid) only: enough for a reviewer to find the copies.
SHARED_PHOTO_PARTNERS = 16
# Far enough apart that finds of different (site, material, kind) never meet in one tree.
_GROUP_SPACING_M = 1.0e8
_CLOSE_IN_TIME_S = 3 * 3600


@dataclass(frozen=True, slots=True)
class FindTraits:
    """What detection compares of one find."""

    uuid: str
    find_number: str
    site_code: str | None
    trench: str | None
    context: str | None
    material: str
    kind: str
    lon: float
    lat: float
    horizontal_accuracy_m: float | None
    found_on: str  # ISO date
    object_name: str
    quantity: int
    weight_g: float | None
    length_mm: float | None
    width_mm: float | None
    height_mm: float | None
    recorded_by: str
    recorded_at: str  # RFC 3339
    photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A pair worth a reviewer's look: uuids in canonical (sorted) order."""

    find_uuids: tuple[str, str]
    score: float
    rules: tuple[str, ...]
    distance_m: float


def traits_of(uuid: str, data: Mapping[str, Any]) -> FindTraits:
    """The traits of a find from its (validated, normalised) wire data."""
    position = data["position"]
    return FindTraits(
        uuid=uuid,
        find_number=data["find_number"],
        site_code=data.get("site_code"),
        trench=data.get("trench"),
        context=data.get("context"),
        material=data["material"],
        kind=data["kind"],
        lon=float(position["lon"]),
        lat=float(position["lat"]),
        horizontal_accuracy_m=position.get("horizontal_accuracy_m"),
        found_on=data["found_on"],
        object_name=data["object_name"],
        quantity=int(data["quantity"]),
        weight_g=data.get("weight_g"),
        length_mm=data.get("length_mm"),
        width_mm=data.get("width_mm"),
        height_mm=data.get("height_mm"),
        recorded_by=data["recorded_by"],
        recorded_at=data["recorded_at"],
        photos=tuple(data.get("photos") or ()),
    )


def grid_place(find: FindTraits) -> GridPlace:
    """Where the find is filed in the grid that hands out neighbourhoods."""
    return place_of(
        find.site_code,
        find.material,
        find.kind,
        find.trench,
        find.context,
        find.found_on,
        find.horizontal_accuracy_m,
        find.lon,
        find.lat,
    )


def canonical_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def distance_m(a: FindTraits, b: FindTraits) -> float:
    """Ground distance in metres, flat-earth at the pair's mean latitude."""
    scale = math.cos(math.radians((a.lat + b.lat) / 2.0))
    dx = (b.lon - a.lon) * METRES_PER_DEGREE * scale
    dy = (b.lat - a.lat) * METRES_PER_DEGREE
    return math.hypot(dx, dy)


def match_radius_m(a: FindTraits, b: FindTraits) -> float:
    """How far apart two records of one find may lie: the combined accuracy, at least 0.5 m."""
    combined = math.hypot(a.horizontal_accuracy_m or 0.0, b.horizontal_accuracy_m or 0.0)
    return max(FLOOR_M, combined)


def is_near_match(a: FindTraits, b: FindTraits, distance: float) -> bool:
    """The near-match rule of DESIGN §5 (what was recorded is weighed separately)."""
    if (a.site_code, a.material, a.kind) != (b.site_code, b.material, b.kind):
        return False
    if (
        a.context is not None
        and b.context is not None
        and (a.trench, a.context)
        != (
            b.trench,
            b.context,
        )
    ):
        return False
    if abs(day_number(a.found_on) - day_number(b.found_on)) > 1:
        return False
    if a.kind in BULK_KINDS and not _same_lot(a, b):
        return False
    return distance <= match_radius_m(a, b)


def assess(a: FindTraits, b: FindTraits) -> Candidate | None:
    """The candidate the pair makes, or None when no rule holds strongly enough, or when the
    two carry one number (their number group holds them)."""
    if a.uuid == b.uuid or a.find_number == b.find_number:
        return None
    distance = distance_m(a, b)
    rules: list[str] = []
    weights: list[float] = []
    if set(a.photos) & set(b.photos):
        rules.append("shared_photo")
        weights.append(SHARED_PHOTO)
    if is_near_match(a, b, distance):
        weight, evidence = _recorded_evidence(a, b)
        if weight >= NEAR_MATCH_MIN:
            rules.extend(("near_match", *evidence))
            weights.append(weight)
    if not weights:
        return None
    score = 1.0 - math.prod(1.0 - w for w in weights)
    return Candidate(canonical_pair(a.uuid, b.uuid), round(score, 3), tuple(rules), distance)


def detect(finds: Sequence[FindTraits], focus: Collection[str] | None = None) -> list[Candidate]:
    """Every pair candidate among ``finds``; with ``focus``, only pairs with a focus find in
    them. (Finds sharing a number are their number's group, not pairs.)

    Merged finds must not be passed: they live on only as aliases.
    """
    index = {f.uuid: n for n, f in enumerate(finds)}
    pairs: set[tuple[int, int]] = set()
    holders: dict[str, list[str]] = defaultdict(list)
    for find in finds:
        for sha in set(find.photos):
            holders[sha].append(find.uuid)
    for uuids in holders.values():
        pairs.update((index[a], index[b]) for a, b in photo_partners(uuids))
    wanted = None if focus is None else set(focus)
    sources = None if wanted is None else [n for n, f in enumerate(finds) if f.uuid in wanted]
    columns = NearColumns.of_traits(finds)
    near_i, near_j = nearest_partners(columns, *near_pairs(columns, sources))
    pairs.update(zip(near_i.tolist(), near_j.tolist(), strict=True))
    by_uuid = {f.uuid: f for f in finds}
    return assess_pairs(
        by_uuid,
        (
            (finds[i].uuid, finds[j].uuid)
            for i, j in pairs
            if finds[i].find_number != finds[j].find_number
            if wanted is None or finds[i].uuid in wanted or finds[j].uuid in wanted
        ),
    )


def assess_pairs(
    finds: Mapping[str, FindTraits], pairs: Iterable[tuple[str, str]]
) -> list[Candidate]:
    """The candidates among the pairs of uuids that an index put forward, best first."""
    found = []
    for a, b in pairs:
        candidate = assess(finds[a], finds[b])
        if candidate is not None:
            found.append(candidate)
    found.sort(key=lambda c: (-c.score, c.find_uuids))
    return found


@dataclass(frozen=True)
class NearColumns:
    """What the near-match rule's position, day, context and lot tests read of many finds, one
    numpy array per trait (the i-th value of each is the i-th find's), so that a whole
    expedition is tested without an object per find. Groups and contexts are hashed numbers
    (find_grid): two that share one only put forward a pair that ``assess`` then refuses."""

    group: Any  # int64: (site, material, kind), numbered 0, 1, … among these finds
    context: Any  # int64: (trench, context); NO_CONTEXT for none
    day: Any  # int64: day_number of found_on
    lon: Any  # float64
    lat: Any  # float64
    accuracy: Any  # float64, 0 where not recorded
    bulk: Any  # bool: a bulk lot or a sample
    quantity: Any  # int64
    weight: Any  # float64, NaN where not recorded

    def __len__(self) -> int:
        return int(self.lon.shape[0])

    @classmethod
    def of_rows(cls, rows: Sequence[tuple[Any, ...]]) -> tuple[list[str], NearColumns]:
        """From rows of (uuid, group code, context code, day, lon, lat, horizontal accuracy,
        bulk, quantity, weight), as a database hands them out: the uuids, and the columns in
        their order. None stands for a value not recorded."""
        # numpy turns the rows into one structured array in C, None into NaN
        table = np.array(rows, dtype=_ROW_TYPE)
        columns = cls(
            group=np.unique(table["group"], return_inverse=True)[1].astype(np.int64),
            context=table["context"],
            day=table["day"],
            lon=table["lon"],
            lat=table["lat"],
            accuracy=np.nan_to_num(table["accuracy"], nan=0.0),
            bulk=table["bulk"],
            quantity=table["quantity"],
            weight=table["weight"],
        )
        return table["uuid"].tolist(), columns

    @classmethod
    def of_traits(cls, finds: Sequence[FindTraits]) -> NearColumns:
        rows = []
        for find in finds:
            place = grid_place(find)
            rows.append(
                (
                    find.uuid,
                    place.group,
                    place.context,
                    place.day,
                    find.lon,
                    find.lat,
                    find.horizontal_accuracy_m,
                    find.kind in BULK_KINDS,
                    find.quantity,
                    find.weight_g,
                )
            )
        return cls.of_rows(rows)[1]


_ROW_TYPE = np.dtype(
    [
        ("uuid", object),
        ("group", np.int64),
        ("context", np.int64),
        ("day", np.int64),
        ("lon", np.float64),
        ("lat", np.float64),
        ("accuracy", np.float64),
        ("bulk", bool),
        ("quantity", np.int64),
        ("weight", np.float64),
    ]
)


def near_pairs(finds: NearColumns, sources: Any = None) -> tuple[Any, Any]:
    """Index pairs (i < j, as two int arrays) that pass the near-match rule's position, date,
    context and lot tests; what was recorded is weighed later, per pair.

    Most finds of a dig share one small reach (total-station positions: 0.5 m), so they are
    paired through a grid of cells at least that wide, keyed by (site, material, kind), day
    and cell, with sorted keys and binary search: a find meets only the finds of its own and
    the next day in its own and the neighbouring cells. The few finds that reach further
    (phone positions) look as far as their own reach through a shapely STRtree. A pair that
    may match lies within the larger reach of the two (find_grid), so either way it is met.

    With ``sources`` (indexes), only pairs with a source in them: each source looks through
    the STRtree as far as the widest reach, so a push's few finds are not paired with
    everything around them paired among itself.
    """
    none = np.empty(0, dtype=np.int64)
    n = len(finds)
    if n < 2:
        return none, none
    lon, lat, accuracy = finds.lon, finds.lat, finds.accuracy
    reach = np.maximum(FLOOR_M, math.sqrt(2.0) * accuracy)
    # Local metres. East–west at the cosine of the latitude furthest from the equator, so
    # that no distance comes out longer here than the rules measure it.
    scale = METRES_PER_DEGREE * math.cos(math.radians(float(np.abs(lat).max())))
    x = lon * scale
    y = lat * METRES_PER_DEGREE
    if sources is not None:
        sources = np.asarray(sources, dtype=np.int64)
        distance = np.maximum(reach[sources], reach.max()) * MARGIN + 0.01
        i, j = _tree_pairs(finds, x, y, sources, distance)
        packed = np.unique(i * n + j)
        i, j = packed // n, packed % n
        return _passing(finds, i, j)
    # the reach of all but the widest-reaching 5 %
    common = max(FLOOR_M, float(np.partition(reach, (n - 1) * 95 // 100)[(n - 1) * 95 // 100]))
    wide = np.flatnonzero(reach > common)
    i, j = _grid_pairs(finds, x, y, np.flatnonzero(reach <= common), common * MARGIN + 0.01)
    if wide.size:
        far_i, far_j = _tree_pairs(finds, x, y, wide, reach[wide] * MARGIN + 0.01)
        packed = np.unique(np.concatenate([i * n + j, far_i * n + far_j]))
        i, j = packed // n, packed % n
    return _passing(finds, i, j)


def nearest_partners(
    finds: NearColumns, i: Any, j: Any, most: int = NEAR_PARTNERS
) -> tuple[Any, Any]:
    """Of the near pairs (i, j), those where each find is among the other's ``most`` nearest
    partners, so that no find takes part in more than ``most`` near pairs."""
    if i.size == 0:
        return i, j
    distance = _pair_distances(finds, i, j)
    # every pair twice, once from each of its finds, ranked among all of that find's pairs
    ends, others = np.concatenate([i, j]), np.concatenate([j, i])
    order = np.lexsort((others, np.concatenate([distance, distance]), ends))
    ranked = ends[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    rank = np.empty(ranked.size, dtype=np.int64)
    rank[order] = np.arange(ranked.size) - np.repeat(starts, np.diff(np.r_[starts, ranked.size]))
    keep = (rank[: i.size] < most) & (rank[i.size :] < most)
    return i[keep], j[keep]


def _pair_distances(finds: NearColumns, i: Any, j: Any) -> Any:
    """Metres between the two finds of each pair (i, j), longitude scaled at the pair's mean
    latitude (the nearest-partner ranking and the distance test use the same figure)."""
    mid = np.radians((finds.lat[i] + finds.lat[j]) / 2.0)
    dx = (finds.lon[j] - finds.lon[i]) * METRES_PER_DEGREE * np.cos(mid)
    dy = (finds.lat[j] - finds.lat[i]) * METRES_PER_DEGREE
    return np.hypot(dx, dy)


def _passing(finds: NearColumns, i: Any, j: Any) -> tuple[Any, Any]:
    """The pairs (i, j) that pass the near-match rule's day, context, distance and lot tests."""
    if i.size == 0:
        return i, j
    accuracy = finds.accuracy
    ok = np.abs(finds.day[i] - finds.day[j]) <= 1
    context = finds.context
    ok &= (context[i] == NO_CONTEXT) | (context[j] == NO_CONTEXT) | (context[i] == context[j])
    i, j = i[ok], j[ok]
    radius = np.maximum(FLOOR_M, np.hypot(accuracy[i], accuracy[j]))
    ok = _pair_distances(finds, i, j) <= radius
    bulk = finds.bulk[i]
    if bulk.any():
        quantity, weight = finds.quantity, finds.weight
        same_lot = (quantity[i] == quantity[j]) & _close(weight[i], weight[j], 1.0, 0.01)
        ok &= ~bulk | same_lot
    return i[ok], j[ok]


# Cells a find looks into, as (days later, cells east, cells north): its own cell once (pairs
# inside it are taken once, i < j), half of its neighbours on its own day (the other half
# finds it), and all nine cells of the next day (the next day's finds do not look back).
_LOOKS = (
    (0, 0, 0),
    (0, 1, -1),
    (0, 1, 0),
    (0, 1, 1),
    (0, 0, 1),
    *((1, east, north) for east in (-1, 0, 1) for north in (-1, 0, 1)),
)
_KEY_LIMIT = 1 << 62


def _grid_pairs(finds: NearColumns, x: Any, y: Any, members: Any, size: float) -> tuple[Any, Any]:
    """Pairs (i < j) among ``members`` in the same group, a day or less apart, in the same or
    neighbouring cells of ``size`` metres (at least the reach of every member)."""
    none = np.empty(0, dtype=np.int64)
    if members.size < 2:
        return none, none
    group, day = finds.group[members], finds.day[members]
    xs, ys = x[members], y[members]
    # Every coordinate of the key counted from one below its least value, so that the
    # neighbours' keys stay inside the same packing; cells grow until the key fits 62 bits.
    day = day - day.min() + 1
    days, groups = int(day.max()) + 2, int(group.max()) + 1
    while True:
        column = np.floor((xs - xs.min()) / size).astype(np.int64) + 1
        row = np.floor((ys - ys.min()) / size).astype(np.int64) + 1
        columns, rows = int(column.max()) + 2, int(row.max()) + 2
        if groups * days * columns * rows < _KEY_LIMIT:
            break
        size *= 2.0

    def key(d: Any, c: Any, r: Any) -> Any:
        return ((group * days + d) * columns + c) * rows + r

    order = np.argsort(key(day, column, row), kind="stable")
    ordered = key(day, column, row)[order]
    found_i, found_j = [], []
    for later, east, north in _LOOKS:
        # the key is linear in each part, so a neighbour's key is the own key plus a constant
        # and the keys looked up come in order (binary search over sorted needles is fast)
        wanted = ordered + ((later * columns + east) * rows + north)
        first = np.searchsorted(ordered, wanted, side="left")
        counts = np.searchsorted(ordered, wanted, side="right") - first
        total = int(counts.sum())
        if total == 0:
            continue
        source = np.repeat(order, counts)
        step = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        target = order[np.repeat(first, counts) + step]
        if (later, east, north) == (0, 0, 0):
            keep = source < target
            source, target = source[keep], target[keep]
        found_i.append(members[source])
        found_j.append(members[target])
    if not found_i:
        return none, none
    a, b = np.concatenate(found_i), np.concatenate(found_j)
    return np.minimum(a, b), np.maximum(a, b)


def _tree_pairs(finds: NearColumns, x: Any, y: Any, sources: Any, distance: Any) -> tuple[Any, Any]:
    """Pairs (i < j) of each source find with every find of its group within ``distance``."""
    # each (site, material, kind) moved far from the others: one tree holds every group
    shifted = x + finds.group * _GROUP_SPACING_M
    tree = shapely.STRtree(shapely.points(shifted, y))
    source, target = tree.query(
        shapely.points(shifted[sources], y[sources]), predicate="dwithin", distance=distance
    )
    a, b = sources[source], target
    keep = a != b
    a, b = a[keep], b[keep]
    return np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)


def photo_partners(
    holders: Iterable[str], most: int = SHARED_PHOTO_PARTNERS
) -> Iterator[tuple[str, str]]:
    """The pairs (canonical) one photo makes among the finds naming it: each find with the
    first ``most`` of them by uuid, so that a photo's pairs grow with its holders, not with
    their square."""
    ordered = sorted(set(holders))
    for head in ordered[:most]:
        for other in ordered:
            if other != head:
                yield canonical_pair(head, other)


@dataclass(frozen=True)
class GroupChange:
    """What becomes of one number's group: a new group of ``opened`` finds, or finds joining
    and leaving the open group, which is withdrawn when fewer than two of its finds remain."""

    opened: tuple[str, ...] = ()
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()
    withdrawn: bool = False


def number_group_change(
    holders: Collection[str],
    standing: Collection[str] | None,
    settled: Collection[str] | None,
    untouched: Collection[str] = (),
) -> GroupChange:
    """The rule of a number's group, from the live finds carrying the number (``holders``),
    the open group's standing finds (None: no open group) and the finds of the number's latest
    merged or dismissed group (None: none):

    | open group | holders                                | change                          |
    | ---------- | -------------------------------------- | ------------------------------- |
    | yes        | a holder not in it                     | it joins                        |
    | yes        | a member no longer a holder            | it leaves; under two: withdrawn |
    | no         | two or more, all in the settled group  | none: a reviewer decided them   |
    | no         | two or more, one not in it (or none)   | a new group of every holder     |
    | no         | fewer than two                         | none                            |

    So a find pushed later with the number joins the open group; once the group was merged or
    dismissed, a newcomer opens a new group with every live find of the number (the kept find
    of a merge, or all the finds a dismissal called different), since it may be a copy of any
    of them, while an edit of a decided find opens nothing. ``untouched`` finds (written since
    the holders were read) neither join nor leave: their own push settled them.
    """
    holding = set(holders) - set(untouched)
    if standing is not None:
        members = set(standing)
        joined = tuple(sorted(holding - members))
        left = tuple(sorted(members - set(holders) - set(untouched)))
        remaining = (members | set(joined)) - set(left)
        return GroupChange(joined=joined, left=left, withdrawn=len(remaining) < 2)
    if len(holding) < 2 or (settled is not None and holding <= set(settled)):
        return GroupChange()
    return GroupChange(opened=tuple(sorted(holding)))


def _close(a: Any, b: Any, absolute: float, relative: float) -> Any:
    """Two measurements that agree within a tolerance (NaN, not recorded, never agrees)."""
    return np.abs(a - b) <= np.maximum(absolute, relative * np.maximum(np.abs(a), np.abs(b)))


def _agree(a: float, b: float, absolute: float, relative: float) -> bool:
    # _close for two floats, written out: assessing a pair calls this a few times, and numpy
    # on scalars is about five times slower
    return abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))


def _same_lot(a: FindTraits, b: FindTraits) -> bool:
    """Two bags are one lot entered twice only when their count and weight agree."""
    return (
        a.quantity == b.quantity
        and a.weight_g is not None
        and b.weight_g is not None
        and _agree(a.weight_g, b.weight_g, 1.0, 0.01)
    )


_NON_WORD = re.compile(r"[\W_]+")


def _words(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def name_similarity(a: str, b: str) -> float:
    """0..1: how alike two object names are, as text and as sets of words.

    Names written as ``Kazakh / Russian`` are also compared part by part, so a recorder who
    wrote only the Russian half still matches.
    """
    best = 0.0
    for left in {a, *a.split("/")}:
        for right in {b, *b.split("/")}:
            x, y = _words(left), _words(right)
            if not x or not y:
                continue
            ratio = SequenceMatcher(None, x, y, autojunk=False).ratio()
            wx, wy = set(x.split()), set(y.split())
            jaccard = len(wx & wy) / len(wx | wy)
            best = max(best, ratio, jaccard)
    return best


def _seconds(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _recorded_evidence(a: FindTraits, b: FindTraits) -> tuple[float, tuple[str, ...]]:
    """How strongly what was recorded says the two near finds are one object, and which
    agreements say so. Disagreements lower the weight without being listed."""
    changes: list[float] = []  # after the object name's, in this order
    rules: list[str] = []
    measured = [
        (x, y)
        for x, y in (
            (a.length_mm, b.length_mm),
            (a.width_mm, b.width_mm),
            (a.height_mm, b.height_mm),
        )
        if x is not None and y is not None
    ]
    if measured:
        if all(_agree(x, y, 2.0, 0.1) for x, y in measured):
            changes.append(0.2)
            rules.append("same_dimensions")
        else:
            # a measured difference beyond a ruler's error is a different object
            changes.append(-0.4)
    if a.weight_g is not None and b.weight_g is not None:
        if _agree(a.weight_g, b.weight_g, 0.5, 0.1):
            changes.append(0.15)
            rules.append("same_weight")
        else:
            changes.append(-0.3)
    if a.quantity != b.quantity:
        changes.append(-0.2)
    if a.recorded_by.casefold() != b.recorded_by.casefold():
        changes.append(0.1)
        rules.append("different_recorders")
    else:
        changes.append(-0.1)
    first, second = _seconds(a.recorded_at), _seconds(b.recorded_at)
    if first is not None and second is not None and abs(first - second) <= _CLOSE_IN_TIME_S:
        changes.append(0.05)
        rules.append("recorded_close_in_time")
    # The name is the costly comparison: left out when even the same name could not lift the
    # weight to the threshold (as when one recorder logs many undescribed finds at one spot).
    if 0.3 + 0.25 + sum(changes) < NEAR_MATCH_MIN - 1e-9:
        return 0.0, ()
    weight = 0.3
    similarity = name_similarity(a.object_name, b.object_name)
    weight += 0.25 * similarity
    if similarity >= 0.7:
        rules.insert(0, "similar_object_name")
    elif similarity < 0.4:
        weight -= 0.1
    for change in changes:
        weight += change
    return min(max(weight, 0.0), NEAR_MATCH_MAX), tuple(rules)
