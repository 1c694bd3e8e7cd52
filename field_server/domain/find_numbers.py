"""Find numbers: the expedition's format and the blocks devices reserve to number offline."""

from __future__ import annotations

import string
from dataclasses import dataclass

MAX_BLOCK = 10_000


class FindNumberFormatError(ValueError):
    pass


def check_format(pattern: str) -> None:
    """A format is a Python format string with exactly one field ``{n}``, e.g. ``DMB-26-{n:04d}``."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as error:
        raise FindNumberFormatError(f"find number format {pattern!r}: {error}") from None
    if fields != ["n"]:
        raise FindNumberFormatError(
            f"find number format {pattern!r} must contain exactly one field {{n}}"
        )
    try:
        sample = pattern.format(n=1)
    except (ValueError, TypeError) as error:
        raise FindNumberFormatError(f"find number format {pattern!r}: {error}") from None
    if not 1 <= len(sample) <= 64:
        raise FindNumberFormatError("a find number must be 1 to 64 characters long")


def format_find_number(pattern: str, n: int) -> str:
    return pattern.format(n=n)


def default_format(code: str) -> str:
    return code + "-{n:04d}"


@dataclass(frozen=True)
class NumberBlock:
    """Numbers ``first..last`` (inclusive) belong to one device until it has used them."""

    expedition_code: str
    device_id: str
    first: int
    last: int
    pattern: str

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def numbers(self) -> list[str]:
        return [format_find_number(self.pattern, n) for n in range(self.first, self.last + 1)]
