"""Which two finds may be one object, how likely, and why (DESIGN §5).

Three rules find a pair:

- ``same_find_number``: two finds of one expedition carry one number (strong: numbers are
  reserved in blocks, so a repeat is a number typed by hand or a find entered twice);
- ``shared_photo``: both name the same photo file;
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
(an equirectangular projection at the pair's mean latitude); the search runs through a shapely
STRtree, so detection over an expedition is near-linear in its finds.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from difflib import SequenceMatcher
from typing import Any

import numpy as np
import shapely

from field_server.domain.find_grid import FLOOR_M, MARGIN, METRES_PER_DEGREE, reach_m

SAME_FIND_NUMBER = 0.9
SHARED_PHOTO = 0.85
NEAR_MATCH_MIN = 0.55  # below this a near match is left out of the queue
NEAR_MATCH_MAX = 0.95  # position and description never prove identity on their own
BULK_KINDS = frozenset({"bulk", "sample"})
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
    if abs(_day(a.found_on) - _day(b.found_on)) > 1:
        return False
    if a.kind in BULK_KINDS and not _same_lot(a, b):
        return False
    return distance <= match_radius_m(a, b)


def assess(a: FindTraits, b: FindTraits) -> Candidate | None:
    """The candidate the pair makes, or None when no rule holds strongly enough."""
    if a.uuid == b.uuid:
        return None
    distance = distance_m(a, b)
    rules: list[str] = []
    weights: list[float] = []
    if a.find_number == b.find_number:
        rules.append("same_find_number")
        weights.append(SAME_FIND_NUMBER)
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
    """Every candidate among ``finds``; with ``focus``, only pairs with a focus find in them.

    Merged finds must not be passed: they live on only as aliases.
    """
    pairs: set[tuple[int, int]] = set()
    pairs.update(_sharing(finds, lambda f: (f.find_number,)))
    pairs.update(_sharing(finds, lambda f: f.photos))
    pairs.update(near_pairs(finds))
    wanted = None if focus is None else set(focus)
    found = []
    for i, j in pairs:
        a, b = finds[i], finds[j]
        if wanted is not None and a.uuid not in wanted and b.uuid not in wanted:
            continue
        candidate = assess(a, b)
        if candidate is not None:
            found.append(candidate)
    found.sort(key=lambda c: (-c.score, c.find_uuids))
    return found


def near_pairs(finds: Sequence[FindTraits]) -> set[tuple[int, int]]:
    """Index pairs (i < j) that pass the near-match rule's position, date, context and lot
    tests, found through a spatial index; what was recorded is weighed later, per pair."""
    n = len(finds)
    if n < 2:
        return set()
    groups: dict[tuple[str | None, str, str], int] = {}
    contexts: dict[tuple[str | None, str], int] = {}
    group = np.fromiter(
        (groups.setdefault((f.site_code, f.material, f.kind), len(groups)) for f in finds),
        dtype=np.int64,
        count=n,
    )
    context = np.fromiter(
        (
            -1 if f.context is None else contexts.setdefault((f.trench, f.context), len(contexts))
            for f in finds
        ),
        dtype=np.int64,
        count=n,
    )
    lon = np.fromiter((f.lon for f in finds), dtype=np.float64, count=n)
    lat = np.fromiter((f.lat for f in finds), dtype=np.float64, count=n)
    accuracy = np.fromiter(
        (f.horizontal_accuracy_m or 0.0 for f in finds), dtype=np.float64, count=n
    )
    day = np.fromiter((_day(f.found_on) for f in finds), dtype=np.int64, count=n)
    reach = np.fromiter((reach_m(f.horizontal_accuracy_m) for f in finds), np.float64, n)

    # Local metres around the finds' mean latitude, each (site, material, kind) moved far
    # away from the others so that one tree holds every group without mixing them.
    origin = math.radians(float(lat.mean()))
    x = lon * METRES_PER_DEGREE * math.cos(origin) + group * _GROUP_SPACING_M
    y = lat * METRES_PER_DEGREE
    tree = shapely.STRtree(shapely.points(x, y))
    # Each find looks as far as its own reach; a pair within the larger of the two reaches is
    # found from that side, and every pair that may match lies within it (find_grid).
    source, target = tree.query(
        shapely.points(x, y), predicate="dwithin", distance=reach * MARGIN + 0.01
    )
    keep = source < target
    i, j = source[keep], target[keep]
    if i.size == 0:
        return set()

    mid = np.radians((lat[i] + lat[j]) / 2.0)
    dx = (lon[j] - lon[i]) * METRES_PER_DEGREE * np.cos(mid)
    dy = (lat[j] - lat[i]) * METRES_PER_DEGREE
    radius = np.maximum(FLOOR_M, np.hypot(accuracy[i], accuracy[j]))
    ok = np.hypot(dx, dy) <= radius
    ok &= np.abs(day[i] - day[j]) <= 1
    ok &= (context[i] < 0) | (context[j] < 0) | (context[i] == context[j])

    bulk = np.fromiter((f.kind in BULK_KINDS for f in finds), dtype=bool, count=n)
    if bulk[i].any():
        quantity = np.fromiter((f.quantity for f in finds), dtype=np.int64, count=n)
        weight = np.fromiter(
            (np.nan if f.weight_g is None else f.weight_g for f in finds), np.float64, n
        )
        same_lot = (quantity[i] == quantity[j]) & _close(weight[i], weight[j], 1.0, 0.01)
        ok &= ~bulk[i] | same_lot
    return set(zip(i[ok].tolist(), j[ok].tolist(), strict=True))


def _sharing(finds: Sequence[FindTraits], keys: Any) -> Iterable[tuple[int, int]]:
    holders: dict[Any, list[int]] = defaultdict(list)
    for index, find in enumerate(finds):
        for key in keys(find):
            holders[key].append(index)
    for indexes in holders.values():
        for position, first in enumerate(indexes):
            for second in indexes[position + 1 :]:
                if first != second:
                    yield (min(first, second), max(first, second))


def _close(a: Any, b: Any, absolute: float, relative: float) -> Any:
    """Two measurements that agree within a tolerance (NaN, not recorded, never agrees)."""
    return np.abs(a - b) <= np.maximum(absolute, relative * np.maximum(np.abs(a), np.abs(b)))


def _agree(a: float, b: float, absolute: float, relative: float) -> bool:
    return abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))


def _same_lot(a: FindTraits, b: FindTraits) -> bool:
    """Two bags are one lot entered twice only when their count and weight agree."""
    return (
        a.quantity == b.quantity
        and a.weight_g is not None
        and b.weight_g is not None
        and _agree(a.weight_g, b.weight_g, 1.0, 0.01)
    )


def _day(value: str) -> int:
    return date.fromisoformat(value).toordinal()


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
    weight = 0.3
    rules: list[str] = []
    similarity = name_similarity(a.object_name, b.object_name)
    weight += 0.25 * similarity
    if similarity >= 0.7:
        rules.append("similar_object_name")
    elif similarity < 0.4:
        weight -= 0.1
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
            weight += 0.2
            rules.append("same_dimensions")
        else:
            # a measured difference beyond a ruler's error is a different object
            weight -= 0.4
    if a.weight_g is not None and b.weight_g is not None:
        if _agree(a.weight_g, b.weight_g, 0.5, 0.1):
            weight += 0.15
            rules.append("same_weight")
        else:
            weight -= 0.3
    if a.quantity != b.quantity:
        weight -= 0.2
    if a.recorded_by.casefold() != b.recorded_by.casefold():
        weight += 0.1
        rules.append("different_recorders")
    else:
        weight -= 0.1
    first, second = _seconds(a.recorded_at), _seconds(b.recorded_at)
    if first is not None and second is not None and abs(first - second) <= _CLOSE_IN_TIME_S:
        weight += 0.05
        rules.append("recorded_close_in_time")
    return min(max(weight, 0.0), NEAR_MATCH_MAX), tuple(rules)
