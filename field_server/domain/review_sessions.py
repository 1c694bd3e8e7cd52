"""When a review UI session ends by itself: the rule of its idle and absolute lifetimes.

| the session                                      | standing                          |
| ------------------------------------------------ | --------------------------------- |
| ended (signed out, everywhere, password, user)   | over, for the reason it was ended |
| started longer ago than the absolute lifetime    | over: ``expired``                 |
| last seen longer ago than the idle lifetime      | over: ``idle``                    |
| otherwise                                        | open                              |

Its last use is written at most once a minute (a quarter of the idle lifetime when that is
shorter), so a person reading pages does not write to the database at every page, and a
session in use never looks idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

TOUCH_EVERY = timedelta(minutes=1)


class EndReason(StrEnum):
    SIGNED_OUT = "signed_out"
    EVERYWHERE = "everywhere"
    PASSWORD = "password"
    DEACTIVATED = "deactivated"
    IDLE = "idle"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta

    def touch_every(self) -> timedelta:
        return min(TOUCH_EVERY, self.idle / 4)


DEFAULT_IDLE_MINUTES = 120.0
DEFAULT_SESSION_HOURS = 12.0  # a working day at the museum; then sign in again
DEFAULT_LIFETIMES = Lifetimes(
    timedelta(minutes=DEFAULT_IDLE_MINUTES), timedelta(hours=DEFAULT_SESSION_HOURS)
)


@dataclass(frozen=True)
class SessionTimes:
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None


def ended_by(times: SessionTimes, lifetimes: Lifetimes, now: datetime) -> EndReason | None:
    """Why the session is over at ``now``, or None while it is open."""
    if times.ended_at is not None:
        return EndReason(times.end_reason or EndReason.SIGNED_OUT)
    if now - times.started_at > lifetimes.absolute:
        return EndReason.EXPIRED
    if now - times.last_seen_at > lifetimes.idle:
        return EndReason.IDLE
    return None


def due_for_touch(times: SessionTimes, lifetimes: Lifetimes, now: datetime) -> bool:
    return now - times.last_seen_at >= lifetimes.touch_every()
