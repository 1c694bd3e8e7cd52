"""Find numbers: the expedition's format and the blocks devices reserve to number offline."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BLOCK = 10_000
_DIGIT_RUN = re.compile(r"([0-9]+)", re.ASCII)
# {n} or a zero-padded {n:04d}; anything richer (a width of a billion) is refused
_FIELD = re.compile(r"\{n(?::0?([1-9][0-9]?)d)?\}")


class FindNumberFormatError(ValueError):
    pass


def check_format(pattern: str) -> None:
    """One ``{n}`` or ``{n:0Wd}`` (W up to 20) in literal text, e.g. ``DMB-26-{n:04d}``."""
    fields = list(_FIELD.finditer(pattern))
    literal = _FIELD.sub("", pattern)
    if len(fields) != 1 or "{" in literal or "}" in literal:
        raise FindNumberFormatError(
            f"find number format {pattern!r} must contain exactly one field {{n}} or {{n:04d}}"
        )
    width = int(fields[0].group(1) or 0)
    if width > 20:
        raise FindNumberFormatError(f"find number format {pattern!r}: a width of at most 20")
    sample = pattern.format(n=1)
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


def natural_key(find_number: str) -> tuple[tuple[int, str, int], ...]:
    """Sorts find numbers as people read them: ``B-9`` before ``B-10`` (runs of digits compare
    as numbers, the rest without letter case)."""
    # split() alternates text and digit runs, starting with text (perhaps empty)
    parts = _DIGIT_RUN.split(find_number)
    return tuple(
        (0, "", int(part)) if index % 2 else (1, part.casefold(), 0)
        for index, part in enumerate(parts)
        if part
    )
