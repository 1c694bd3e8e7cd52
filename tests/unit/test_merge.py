"""The three-way merge table: every combination of who changed a field."""

from __future__ import annotations

import itertools

import pytest

from field_server.domain.merge import three_way_merge

BASE = {"material": "ceramic", "quantity": 1, "notes": None}

# what each side did to the field "quantity": kept it, set 2, set 3, cleared it (None)
CHOICES = {"kept": 1, "two": 2, "three": 3, "cleared": None}


@pytest.mark.parametrize(("device", "server"), list(itertools.product(CHOICES, CHOICES)))
def test_every_combination_of_one_field_follows_the_table(device: str, server: str) -> None:
    mine = {**BASE, "quantity": CHOICES[device]}
    theirs = {**BASE, "quantity": CHOICES[server]}
    outcome = three_way_merge(BASE, mine, theirs)
    device_changed, server_changed = device != "kept", server != "kept"
    if device_changed and server_changed and device != server:
        assert outcome.merged is None
        assert outcome.conflicting_fields == ("quantity",)
    else:
        expected = CHOICES[device] if device_changed else CHOICES[server]
        assert outcome.merged == {**BASE, "quantity": expected}
        assert outcome.conflicting_fields == ()


def test_changes_to_different_fields_are_both_kept() -> None:
    mine = {**BASE, "notes": "Қола дәуірі"}
    theirs = {**BASE, "material": "bone"}
    outcome = three_way_merge(BASE, mine, theirs)
    assert outcome.merged == {"material": "bone", "quantity": 1, "notes": "Қола дәуірі"}
    assert outcome.taken_from_device == ("notes",)


def test_a_conflict_names_every_conflicting_field_and_keeps_nothing_merged() -> None:
    mine = {"material": "bone", "quantity": 5, "notes": "x"}
    theirs = {"material": "stone", "quantity": 7, "notes": None}
    outcome = three_way_merge(BASE, mine, theirs)
    assert outcome.merged is None
    assert outcome.conflicting_fields == ("material", "quantity")


def test_a_position_is_merged_as_one_value() -> None:
    base = {"position": {"lon": 67.84, "lat": 48.19, "method": "gnss"}}
    mine = {"position": {"lon": 67.85, "lat": 48.19, "method": "gnss"}}
    theirs = {"position": {"lon": 67.84, "lat": 48.20, "method": "gnss"}}
    assert three_way_merge(base, mine, theirs).conflicting_fields == ("position",)


def test_a_record_created_on_both_sides_from_nothing_merges_fields_only_one_side_set() -> None:
    outcome = three_way_merge({}, {"a": 1, "b": 2}, {"a": 1, "c": 3})
    assert outcome.merged == {"a": 1, "b": 2, "c": 3}
