"""When a review UI session ends by itself (domain/review_sessions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from field_server.domain.review_sessions import (
    DEFAULT_LIFETIMES,
    EndReason,
    Lifetimes,
    SessionTimes,
    due_for_touch,
    ended_by,
)

START = datetime(2026, 8, 20, 9, 0, tzinfo=UTC)
LIFETIMES = Lifetimes(idle=timedelta(minutes=120), absolute=timedelta(hours=12))


def test_the_defaults_are_two_idle_hours_and_a_working_day() -> None:
    assert DEFAULT_LIFETIMES == LIFETIMES


def test_a_session_in_use_stays_open_until_its_absolute_lifetime() -> None:
    seen_now_and_then = SessionTimes(START, START + timedelta(hours=11, minutes=59))
    assert ended_by(seen_now_and_then, LIFETIMES, START + timedelta(hours=12)) is None
    later = START + timedelta(hours=12, seconds=1)
    assert ended_by(seen_now_and_then, LIFETIMES, later) is EndReason.EXPIRED


def test_a_session_left_unused_past_its_idle_lifetime_ends() -> None:
    times = SessionTimes(START, START + timedelta(minutes=10))
    assert ended_by(times, LIFETIMES, START + timedelta(minutes=130)) is None
    assert ended_by(times, LIFETIMES, START + timedelta(minutes=130, seconds=1)) is EndReason.IDLE


def test_an_ended_session_stays_ended_for_its_reason() -> None:
    times = SessionTimes(START, START, START + timedelta(minutes=1), "everywhere")
    assert ended_by(times, LIFETIMES, START + timedelta(minutes=2)) is EndReason.EVERYWHERE


def test_the_last_use_is_written_once_a_minute_or_oftener_for_a_short_idle_lifetime() -> None:
    times = SessionTimes(START, START)
    assert not due_for_touch(times, LIFETIMES, START + timedelta(seconds=59))
    assert due_for_touch(times, LIFETIMES, START + timedelta(minutes=1))
    short = Lifetimes(idle=timedelta(seconds=20), absolute=timedelta(hours=1))
    assert due_for_touch(times, short, START + timedelta(seconds=5))
    assert not due_for_touch(times, short, START + timedelta(seconds=4))
