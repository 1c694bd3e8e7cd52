"""The client's merge and conflict resolution table."""

from __future__ import annotations

import itertools

import pytest

from field_client.merge import ResolutionError, resolve, three_way

BASE = {"material": "ceramic", "quantity": 1, "notes": None}
CHOICES = {"kept": 1, "two": 2, "three": 3, "cleared": None}


@pytest.mark.parametrize(("mine", "theirs"), list(itertools.product(CHOICES, CHOICES)))
def test_every_combination_of_one_field_follows_the_servers_table(mine: str, theirs: str) -> None:
    outcome = three_way(
        BASE, {**BASE, "quantity": CHOICES[mine]}, {**BASE, "quantity": CHOICES[theirs]}
    )
    mine_changed, theirs_changed = mine != "kept", theirs != "kept"
    if mine_changed and theirs_changed and mine != theirs:
        assert outcome.clashes == ("quantity",)
        assert outcome.merged["quantity"] == CHOICES[theirs]
    else:
        assert outcome.clashes == ()
        expected = CHOICES[mine] if mine_changed else CHOICES[theirs]
        assert outcome.merged == {**BASE, "quantity": expected}


def test_without_a_known_base_every_difference_clashes() -> None:
    outcome = three_way(None, {**BASE, "notes": "a"}, {**BASE, "quantity": 4})
    assert set(outcome.clashes) == {"notes", "quantity"}


def test_a_position_is_one_field_and_never_spliced() -> None:
    base = {"position": {"lon": 67.0, "lat": 48.0}}
    mine = {"position": {"lon": 67.1, "lat": 48.0}}
    theirs = {"position": {"lon": 67.0, "lat": 48.2}}
    assert three_way(base, mine, theirs).clashes == ("position",)


MINE = {**BASE, "material": "bone", "quantity": 5, "notes": "Қола дәуірі"}
THEIRS = {**BASE, "material": "stone", "quantity": 7}


def test_keep_mine_settles_the_clashes_for_me_and_keeps_what_only_i_changed() -> None:
    assert resolve(BASE, MINE, THEIRS, keep="mine") == {
        "material": "bone",
        "quantity": 5,
        "notes": "Қола дәуірі",
    }


def test_keep_theirs_settles_the_clashes_for_the_server_and_keeps_my_other_changes() -> None:
    assert resolve(BASE, MINE, THEIRS, keep="theirs") == {
        "material": "stone",
        "quantity": 7,
        "notes": "Қола дәуірі",
    }


def test_field_by_field_takes_each_side_where_told() -> None:
    resolved = resolve(BASE, MINE, THEIRS, fields={"material": "mine", "quantity": "theirs"})
    assert resolved == {"material": "bone", "quantity": 7, "notes": "Қола дәуірі"}


def test_a_field_choice_overrides_keep() -> None:
    resolved = resolve(BASE, MINE, THEIRS, keep="theirs", fields={"quantity": "mine"})
    assert resolved["material"] == "stone" and resolved["quantity"] == 5


def test_an_undecided_clash_is_refused() -> None:
    with pytest.raises(ResolutionError, match="quantity"):
        resolve(BASE, MINE, THEIRS, fields={"material": "mine"})


def test_choosing_a_field_that_does_not_clash_is_refused() -> None:
    with pytest.raises(ResolutionError, match="not a conflicting field: notes"):
        resolve(BASE, MINE, THEIRS, keep="mine", fields={"notes": "theirs"})
