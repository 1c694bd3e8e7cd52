"""The rule of waiting after refused sign-ins (domain/sign_in_throttle.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from field_server.domain.sign_in_throttle import (
    ACCOUNT_ALLOWANCE,
    ADDRESS_ALLOWANCE,
    NONE,
    Failures,
    account_name,
    retry_after,
    wait_after,
)

NOW = datetime(2026, 8, 20, 9, 0, tzinfo=UTC)


def test_failures_within_the_allowance_cost_no_wait() -> None:
    for count in range(ACCOUNT_ALLOWANCE):
        assert wait_after(count, ACCOUNT_ALLOWANCE) == timedelta(0)
    assert retry_after(Failures(ACCOUNT_ALLOWANCE - 1, NOW), NONE, NOW) == 0
    assert retry_after(NONE, Failures(ADDRESS_ALLOWANCE - 1, NOW), NOW) == 0


@pytest.mark.parametrize(
    ("over", "seconds"), [(0, 30), (1, 60), (2, 120), (3, 240), (4, 480), (5, 900), (40, 900)]
)
def test_the_wait_doubles_past_the_allowance_up_to_fifteen_minutes(over: int, seconds: int) -> None:
    assert wait_after(ACCOUNT_ALLOWANCE + over, ACCOUNT_ALLOWANCE) == timedelta(seconds=seconds)


def test_the_sixth_attempt_on_an_account_right_after_five_failures_waits() -> None:
    five = Failures(ACCOUNT_ALLOWANCE, NOW - timedelta(seconds=2))
    assert retry_after(five, NONE, NOW) == 28
    assert retry_after(five, NONE, NOW + timedelta(seconds=28)) == 0


def test_the_address_waits_after_twenty_failures_across_accounts() -> None:
    assert retry_after(NONE, Failures(ADDRESS_ALLOWANCE, NOW), NOW) == 30
    assert retry_after(NONE, Failures(ADDRESS_ALLOWANCE - 1, NOW), NOW) == 0


def test_the_longer_of_the_two_waits_is_the_answer() -> None:
    account = Failures(ACCOUNT_ALLOWANCE + 2, NOW)  # 120 s
    address = Failures(ADDRESS_ALLOWANCE, NOW - timedelta(seconds=10))  # 20 s left
    assert retry_after(account, address, NOW) == 120
    assert retry_after(Failures(1, NOW), address, NOW) == 20


def test_a_part_of_a_second_left_is_a_whole_second() -> None:
    five = Failures(ACCOUNT_ALLOWANCE, NOW - timedelta(seconds=29, milliseconds=500))
    assert retry_after(five, NONE, NOW) == 1


def test_an_account_is_counted_whatever_its_case_and_length() -> None:
    assert account_name("  Admin ") == account_name("admin") == "admin"
    assert len(account_name("x" * 10_000)) == 150
