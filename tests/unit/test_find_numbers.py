"""Find-number formats and blocks."""

from __future__ import annotations

import pytest

from field_server.domain.find_numbers import (
    FindNumberFormatError,
    NumberBlock,
    check_format,
    natural_key,
)


@pytest.mark.parametrize("pattern", ["DMB-26-{n:04d}", "ULY26-{n}", "{n:06d}/БСК"])
def test_formats_with_one_number_field_are_accepted(pattern: str) -> None:
    check_format(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "DMB",
        "{n}{n}",
        "{x}",
        "{n.__class__}",
        "{n:01000000000d}",
        "{n:>99}",
        "{",
        "A-{n}}",
        "X" * 70 + "{n}",
    ],
)
def test_formats_that_are_not_one_plain_number_field_are_refused(pattern: str) -> None:
    with pytest.raises(FindNumberFormatError):
        check_format(pattern)


def test_a_block_lists_its_numbers_in_the_expeditions_format() -> None:
    block = NumberBlock("ULY-2026", "laptop", 41, 43, "ULY26-{n:04d}")
    assert block.count == 3
    assert block.numbers() == ["ULY26-0041", "ULY26-0042", "ULY26-0043"]


def test_find_numbers_sort_as_people_read_them() -> None:
    numbers = ["B-10", "b-9", "B-9a", "A-100", "B-09", "B", "10", "9"]
    assert sorted(numbers, key=natural_key) == [
        "9",
        "10",
        "A-100",
        "B",
        "b-9",
        "B-09",
        "B-9a",
        "B-10",
    ]
