"""Scoring duplicate candidates: the rules of DESIGN §5 weighed by what was recorded."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from field_server.domain.duplicates import (
    NEAR_MATCH_MIN,
    NEAR_PARTNERS,
    SHARED_PHOTO_PARTNERS,
    FindTraits,
    GroupChange,
    NearColumns,
    assess,
    detect,
    distance_m,
    is_near_match,
    match_radius_m,
    name_similarity,
    near_pairs,
    number_group_change,
    photo_partners,
    traits_of,
)
from field_server.domain.find_grid import METRES_PER_DEGREE
from tests import samples

LAT0, LON0 = 48.2, 67.05
SHERD = FindTraits(
    uuid="a",
    find_number="ULY26-0110",
    site_code="BSK",
    trench="Р-2",
    context="201",
    material="ceramic",
    kind="small_find",
    lon=LON0,
    lat=LAT0,
    horizontal_accuracy_m=0.02,
    found_on="2026-08-03",
    object_name="Қыш құмыра ернеуі / венчик кувшина",
    quantity=1,
    weight_g=84.0,
    length_mm=72.0,
    width_mm=55.0,
    height_mm=9.0,
    recorded_by="s.kim",
    recorded_at="2026-08-03T11:20:00+05:00",
)


def moved(find: FindTraits, east_m: float, north_m: float = 0.0, **changes: object) -> FindTraits:
    """The find moved by metres east and north (on the same local projection as the rules)."""
    lat = find.lat + north_m / METRES_PER_DEGREE
    lon = find.lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians((find.lat + lat) / 2)))
    return replace(find, lon=lon, lat=lat, **changes)


def twin(**changes: object) -> FindTraits:
    """The planted double entry: the same sherd from another device, 0.3 m away."""
    return moved(
        SHERD,
        0.3,
        uuid="b",
        find_number="ULY26-0301",
        object_name="Венчик кувшина",
        weight_g=83.0,
        length_mm=71.0,
        recorded_by="a.nurlankyzy",
        recorded_at="2026-08-03T17:45:00+05:00",
        **changes,
    )


def test_the_planted_double_entry_scores_high_and_says_why() -> None:
    candidate = assess(SHERD, twin())
    assert candidate is not None
    assert candidate.find_uuids == ("a", "b")
    assert candidate.score >= 0.9
    assert candidate.distance_m == pytest.approx(0.3, abs=0.002)
    assert candidate.rules[0] == "near_match"
    assert {"similar_object_name", "same_dimensions", "same_weight", "different_recorders"} <= set(
        candidate.rules
    )


def test_the_pair_is_the_same_whichever_find_comes_first() -> None:
    assert assess(SHERD, twin()) == assess(twin(), SHERD)


def test_finds_far_apart_are_no_candidates() -> None:
    assert assess(SHERD, moved(twin(), 2.0)) is None


def test_half_a_metre_is_the_least_radius_however_precise_the_positions() -> None:
    assert match_radius_m(SHERD, twin()) == 0.5
    inside, outside = moved(twin(), 0.19), moved(twin(), 0.21)  # 0.49 m and 0.51 m away
    assert distance_m(SHERD, inside) == pytest.approx(0.49, abs=1e-3)
    assert assess(SHERD, inside) is not None
    assert assess(SHERD, outside) is None


def test_accuracies_combine_as_the_root_sum_of_squares() -> None:
    a = replace(SHERD, horizontal_accuracy_m=3.0)
    b = moved(twin(), 4.6, horizontal_accuracy_m=4.0)  # 4.9 m apart, radius 5 m
    assert match_radius_m(a, b) == pytest.approx(5.0)
    assert assess(a, b) is not None
    assert assess(a, moved(b, 0.2)) is None  # 5.1 m: within 3 + 4, not within √(3² + 4²)


@pytest.mark.parametrize(
    "changes",
    [
        {"material": "glass"},
        {"site_code": "DMB"},
        {"context": "202"},
        {"trench": "Р-1"},
        {"kind": "sample"},
        {"found_on": "2026-08-05"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_near_match_needs_site_material_kind_context_and_day(changes: dict[str, str]) -> None:
    assert assess(SHERD, twin(**changes)) is None


def test_an_unknown_context_matches_any_and_a_day_apart_still_counts() -> None:
    assert assess(SHERD, twin(context=None, trench=None)) is not None
    assert assess(SHERD, twin(found_on="2026-08-04")) is not None


def test_one_recorder_logging_two_different_sherds_side_by_side_is_no_candidate() -> None:
    neighbour = moved(
        SHERD,
        0.2,
        uuid="c",
        find_number="ULY26-0111",
        length_mm=40.0,
        width_mm=31.0,
        weight_g=22.0,
        recorded_at="2026-08-03T11:24:00+05:00",
    )
    assert assess(SHERD, neighbour) is None


def test_a_trench_full_of_bulk_sherds_makes_no_pairs() -> None:
    rng = random.Random(7)
    bags = [
        moved(
            SHERD,
            rng.uniform(0, 3),
            rng.uniform(0, 3),
            uuid=f"bag-{n}",
            find_number=f"ULY26-{n:04d}",
            kind="bulk",
            object_name="Қыш сынықтары / керамика",
            quantity=rng.randint(5, 400),
            weight_g=round(rng.uniform(50, 5000), 1),
            length_mm=None,
            width_mm=None,
            height_mm=None,
            recorded_by=rng.choice(["s.kim", "a.nurlankyzy"]),
            recorded_at=f"2026-08-03T{10 + n % 8:02d}:00:00+05:00",
        )
        for n in range(400)
    ]
    assert detect(bags) == []


def test_bulk_lots_pair_only_when_count_and_weight_agree() -> None:
    bag = replace(SHERD, kind="bulk", quantity=37, weight_g=612.0, length_mm=None)
    same = moved(bag, 0.1, uuid="b", find_number="ULY26-0302", recorded_by="a.nurlankyzy")
    assert assess(bag, same) is not None
    assert assess(bag, replace(same, quantity=36)) is None
    assert assess(bag, replace(same, weight_g=None)) is None


def test_a_dense_trench_of_small_sherds_gives_a_short_queue_with_the_double_entry() -> None:
    rng = random.Random(11)
    sherds = [
        moved(
            SHERD,
            rng.uniform(0, 4),
            rng.uniform(0, 4),
            uuid=f"s-{n:03d}",
            find_number=f"T-{n:04d}",
            object_name="Қыш ыдыс сынығы",
            length_mm=round(rng.uniform(15, 120)),
            width_mm=round(rng.uniform(10, 90)),
            height_mm=round(rng.uniform(4, 14)),
            weight_g=round(rng.uniform(3, 200), 1),
            recorded_by=rng.choice(["s.kim", "d.oralbay"]),
        )
        for n in range(300)
    ]
    found = detect([*sherds, SHERD, twin()])
    # 300 sherds, each with about ten others within half a metre: chance agreements on
    # every measurement are all that is left beside the double entry
    assert ("a", "b") in [c.find_uuids for c in found if c.score == found[0].score]
    assert len(found) <= 5


def test_finds_sharing_a_number_are_no_pair_however_alike() -> None:
    """Their number's group holds them: a pair would count them twice."""
    same_number = replace(twin(), find_number=SHERD.find_number)
    assert assess(SHERD, same_number) is None
    assert detect([SHERD, same_number]) == []


def test_seven_hundred_finds_of_one_number_make_no_pairs() -> None:
    many = [moved(SHERD, 0.01 * n, uuid=f"n{n:03d}") for n in range(700)]
    assert detect(many) == []


def test_a_number_carried_twice_opens_a_group_of_every_holder() -> None:
    assert number_group_change(["a", "b", "c"], None, None) == GroupChange(opened=("a", "b", "c"))
    assert number_group_change(["a"], None, None) == GroupChange()


def test_a_newcomer_joins_the_open_group_and_a_find_renumbered_leaves_it() -> None:
    assert number_group_change(["a", "b", "c"], ["a", "b"], None) == GroupChange(joined=("c",))
    assert number_group_change(["a", "b"], ["a", "b", "c"], None) == GroupChange(left=("c",))
    assert number_group_change(["a"], ["a", "b"], None) == GroupChange(left=("b",), withdrawn=True)


def test_finds_a_reviewer_settled_open_nothing_but_a_newcomer_opens_a_new_group() -> None:
    assert number_group_change(["a", "b"], None, ["a", "b"]) == GroupChange()
    assert number_group_change(["a", "b", "c"], None, ["a", "b"]) == GroupChange(
        opened=("a", "b", "c")
    )


def test_finds_written_since_the_holders_were_read_neither_join_nor_leave() -> None:
    change = number_group_change(["a", "b", "x"], ["a", "b", "y"], None, untouched=["x", "y"])
    assert change == GroupChange()


def test_a_photo_named_by_many_finds_pairs_each_with_the_first_few_only() -> None:
    holders = [f"f{n:04d}" for n in range(1000)]
    pairs = set(photo_partners(holders))
    assert len(pairs) < SHARED_PHOTO_PARTNERS * len(holders)
    assert {p for p in pairs if "f0999" in p} == {
        ("f0999" if h > "f0999" else h, "f0999") for h in holders[:SHARED_PHOTO_PARTNERS]
    }
    assert set(photo_partners(["b", "a", "c"])) == {("a", "b"), ("a", "c"), ("b", "c")}


def test_a_shared_photo_is_a_candidate_and_rules_add_up() -> None:
    other = moved(SHERD, 30.0, uuid="p", find_number="X-1", photos=("f" * 64,))
    assert assess(replace(SHERD, photos=("f" * 64,)), other).rules == ("shared_photo",)
    both = assess(replace(SHERD, photos=("f" * 64,)), twin(photos=("f" * 64,)))
    assert both is not None and both.score > assess(SHERD, twin()).score


def test_detect_with_a_focus_reports_only_pairs_with_a_focus_find() -> None:
    far = moved(SHERD, 500.0, uuid="c", find_number="C")
    far_twin = moved(twin(), 500.0, uuid="d", find_number="D")
    everything = [SHERD, twin(), far, far_twin]
    assert {c.find_uuids for c in detect(everything)} == {("a", "b"), ("c", "d")}
    assert [c.find_uuids for c in detect(everything, focus={"d"})] == [("c", "d")]


def test_names_in_two_languages_match_either_half() -> None:
    assert name_similarity("Қыш құмыра ернеуі / венчик кувшина", "Венчик кувшина") == 1.0
    assert name_similarity("Темір пышақ", "бусина стеклянная") < 0.4


def test_many_undescribed_finds_of_one_recorder_at_one_spot_are_no_candidates() -> None:
    # nothing measured, one recorder: even the same name cannot reach the threshold
    bare = replace(SHERD, length_mm=None, width_mm=None, height_mm=None, weight_g=None)
    same_name = replace(moved(bare, 0.1), uuid="b", find_number="ULY26-0111")
    assert assess(bare, same_name) is None
    other_recorder = replace(same_name, recorded_by="a.nurlankyzy")
    candidate = assess(bare, other_recorder)
    assert candidate is not None
    assert candidate.rules == (
        "near_match",
        "similar_object_name",
        "different_recorders",
        "recorded_close_in_time",
    )


def test_near_match_weight_threshold_is_between_the_two_kinds_of_neighbour() -> None:
    assert 0.5 < NEAR_MATCH_MIN < 0.6


def test_traits_come_from_wire_data() -> None:
    record = samples.survey_of("ULY-2026").finds[0]
    traits = traits_of(record["uuid"], record["data"])
    assert traits.find_number == record["data"]["find_number"]
    assert traits.lon == record["data"]["position"]["lon"]
    assert traits.photos == ()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_indexes_put_forward_exactly_the_pairs_the_near_match_rule_takes(seed: int) -> None:
    # total-station finds with a few phone positions among them, finds without a context,
    # bulk lots, three days and two groups: every index path and every cheap test is used
    rng = random.Random(seed)
    finds = []
    for n in range(600):
        accuracy = rng.choice([0.01, 0.02, 0.03, None]) if rng.random() < 0.93 else 4.0
        kind = "bulk" if rng.random() < 0.3 else "small_find"
        finds.append(
            moved(
                SHERD,
                rng.uniform(0, 7),
                rng.uniform(0, 7),
                uuid=f"f-{n:04d}",
                find_number=f"N-{n:04d}",
                material=rng.choice(["ceramic", "bone"]),
                kind=kind,
                context=rng.choice(["201", "202", None]),
                horizontal_accuracy_m=accuracy,
                found_on=f"2026-08-0{rng.choice([3, 4, 6])}",
                quantity=rng.choice([3, 4]) if kind == "bulk" else 1,
                weight_g=rng.choice([50.0, 50.4, 80.0]),
            )
        )
    near_i, near_j = near_pairs(NearColumns.of_traits(finds))
    put_forward = set(zip(near_i.tolist(), near_j.tolist(), strict=True))
    taken = {
        (i, j)
        for i, a in enumerate(finds)
        for j in range(i + 1, len(finds))
        if is_near_match(a, finds[j], distance_m(a, finds[j]))
    }
    assert len(taken) > 100
    assert put_forward == taken
    # and from a few finds only (a push): the pairs with one of them in
    few = rng.sample(range(len(finds)), 25)
    few_i, few_j = near_pairs(NearColumns.of_traits(finds), few)
    assert set(zip(few_i.tolist(), few_j.tolist(), strict=True)) == {
        (i, j) for i, j in taken if i in few or j in few
    }


def test_a_crowded_spot_is_searched_among_its_nearest_finds_only() -> None:
    # 300 identical entries on one total-station point: without a bound every pair (44,850)
    # would be weighed on every push and queued; each find is weighed against its nearest only
    crowd = [
        replace(SHERD, uuid=f"c{n:03d}", find_number=f"ULY26-{n:04d}", recorded_by=f"r{n % 2}")
        for n in range(300)
    ]
    everyone = detect(crowd)
    per_find: dict[str, int] = {}
    for candidate in everyone:
        for uuid in candidate.find_uuids:
            per_find[uuid] = per_find.get(uuid, 0) + 1
    assert everyone and max(per_find.values()) <= NEAR_PARTNERS
    assert len(everyone) <= len(crowd) * NEAR_PARTNERS
    # a double entry beside its twin is still found among the crowd a metre away
    away = [moved(f, 1.0) for f in crowd]
    pair = [SHERD, twin()]
    found = {c.find_uuids for c in detect([*away, *pair], focus=[pair[1].uuid])}
    assert tuple(sorted((SHERD.uuid, pair[1].uuid))) in found
