"""The museum's status rules for a find (DESIGN §6)."""

from __future__ import annotations

import pytest

from field_server.domain.find_status import (
    ALLOWED,
    FindStatus,
    TransitionRefused,
    can_be_corrected,
    check_transition,
    parse_status,
)

S = FindStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.SYNCED, S.APPROVED),
        (S.SYNCED, S.REJECTED),
        (S.SYNCED, S.MERGED),
        (S.APPROVED, S.ACCESSIONED),
        (S.APPROVED, S.REJECTED),
        (S.REJECTED, S.APPROVED),
    ],
)
def test_allowed_moves(current: FindStatus, target: FindStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target", "words"),
    [
        (S.REJECTED, S.ACCESSIONED, "rejected find cannot be accessioned"),
        (S.MERGED, S.ACCESSIONED, "merged find cannot be accessioned"),
        (S.SYNCED, S.ACCESSIONED, "only an approved find"),
        (S.ACCESSIONED, S.REJECTED, "accessioned find cannot be rejected"),
        (S.ACCESSIONED, S.ACCESSIONED, "accessioned already"),
        (S.APPROVED, S.APPROVED, "approved already"),
        (S.MERGED, S.APPROVED, "merged find cannot become approved"),
        (S.ACCESSIONED, S.MERGED, "accessioned find cannot become merged"),
    ],
)
def test_refused_moves_say_why(current: FindStatus, target: FindStatus, words: str) -> None:
    with pytest.raises(TransitionRefused, match=words) as refused:
        check_transition(current, target)
    assert (refused.value.current, refused.value.target) == (current, target)


def test_every_pair_is_decided_by_the_table() -> None:
    for current in S:
        for target in S:
            if target in ALLOWED[current]:
                check_transition(current, target)
            else:
                with pytest.raises(TransitionRefused):
                    check_transition(current, target)


def test_nothing_leads_back_to_synced_and_terminal_states_stay() -> None:
    assert all(S.SYNCED not in targets for targets in ALLOWED.values())
    assert ALLOWED[S.MERGED] == ALLOWED[S.ACCESSIONED] == frozenset()


def test_stored_values() -> None:
    assert parse_status(None) is S.SYNCED
    assert parse_status("accessioned") is S.ACCESSIONED
    with pytest.raises(ValueError):
        parse_status("lost")


def test_corrections_stop_at_the_register() -> None:
    assert can_be_corrected(S.SYNCED) and can_be_corrected(S.APPROVED)
    assert not can_be_corrected(S.ACCESSIONED) and not can_be_corrected(S.MERGED)
