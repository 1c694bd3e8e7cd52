"""How long a guesser waits: the rule for refused passwords and phone keys.

Failures are counted over the last 15 minutes, separately for the account named (as typed,
lowercased) and for the client address. Within its allowance a failure costs nothing more:

| counted failures within 15 minutes | next attempt                                       |
| ---------------------------------- | -------------------------------------------------- |
| below the allowance                | checked at once                                    |
| the allowance (n = 0 over it)      | refused until 30 s after the last failure          |
| n more than the allowance          | refused until 30 s × 2ⁿ after it, at most 15 min   |

The allowance is 5 for an account (a person mistyping a few times never waits) and 20 for an
address (a school's or camp's shared address holds many people). While refused, nothing is
checked, so a refused attempt is no failure and the wait does not grow from it; a right
password clears its account's failures, never its address's, so one known account cannot
open the way for guessing others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

WINDOW = timedelta(minutes=15)
ACCOUNT_ALLOWANCE = 5
ADDRESS_ALLOWANCE = 20
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)


class Kind(StrEnum):
    PASSWORD = "password"
    PHONE_KEY = "phone_key"


@dataclass(frozen=True)
class Failures:
    """The failures counted within the window, and when the last of them was."""

    count: int
    last: datetime | None


NONE = Failures(0, None)


def wait_after(count: int, allowance: int) -> timedelta:
    """The wait after the ``count``-th failure within the window."""
    if count < allowance:
        return timedelta(0)
    over = count - allowance
    # 30 s × 2**over reaches 15 minutes at over = 5: no larger power is ever needed
    return min(FIRST_WAIT * 2 ** min(over, 6), LONGEST_WAIT)


def retry_after(account: Failures, address: Failures, now: datetime) -> int:
    """Whole seconds before the next attempt is checked (0: check it now); the longer of the
    account's wait and the address's."""
    waits = [
        failures.last + wait_after(failures.count, allowance) - now
        for failures, allowance in ((account, ACCOUNT_ALLOWANCE), (address, ADDRESS_ALLOWANCE))
        if failures.last is not None
    ]
    longest = max(waits, default=timedelta(0))
    if longest <= timedelta(0):
        return 0
    return math.ceil(longest.total_seconds())


def account_name(typed: str) -> str:
    """The account as the failures are counted: case does not make another account to guess,
    and a name longer than any username is still the same attempt."""
    return typed.strip().lower()[:150]


def window_start(now: datetime) -> datetime:
    return now - WINDOW
