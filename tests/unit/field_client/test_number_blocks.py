"""Find numbers reserved while online and handed out offline, each once."""

from __future__ import annotations

import pytest

from field_client import number_blocks, records
from field_client.errors import ClientError
from field_client.store import Store
from tests.unit.field_client.conftest import find_data


@pytest.mark.parametrize(
    ("pattern", "n", "expected"),
    [
        ("ULY26-{n:04d}", 42, "ULY26-0042"),
        ("{n}", 7, "7"),
        ("Қ-{n:03d}/26", 5, "Қ-005/26"),
        ("{n:3d}", 5, "  5"),
    ],
)
def test_numbers_follow_the_expeditions_format(pattern: str, n: int, expected: str) -> None:
    assert number_blocks.format_number(pattern, n) == expected


@pytest.mark.parametrize("pattern", ["{n.__class__}", "{0}", "no field", "{n}{n}", "{n:,d}"])
def test_a_format_outside_the_servers_rule_is_refused(pattern: str) -> None:
    with pytest.raises(ClientError):
        number_blocks.format_number(pattern, 1)


def test_numbers_are_taken_in_order_and_never_twice(store: Store) -> None:
    block = number_blocks.Block("ULY-2026", 11, 13, "ULY26-{n:04d}")
    with store.transaction() as connection:
        assert number_blocks.add_block(connection, block) == 3
        taken = [number_blocks.take_next(connection, "ULY-2026", f"u{i}") for i in range(3)]
        with pytest.raises(ClientError, match="no reserved find numbers left"):
            number_blocks.take_next(connection, "ULY-2026", "u4")
    assert taken == ["ULY26-0011", "ULY26-0012", "ULY26-0013"]


def test_a_number_already_typed_by_hand_is_skipped(store: Store) -> None:
    with store.transaction() as connection:
        number_blocks.add_block(connection, number_blocks.Block("ULY-2026", 1, 3, "ULY26-{n:04d}"))
        records.create(connection, "find", find_data(records.new_uuid(), "ULY26-0001"))
        assert number_blocks.take_next(connection, "ULY-2026", "u") == "ULY26-0002"
        assert number_blocks.remaining(connection, "ULY-2026") == 1


def test_a_block_is_taken_only_when_the_server_formats_its_numbers_the_same() -> None:
    answer = {
        "expedition_code": "ULY-2026",
        "first": 1,
        "last": 2,
        "find_number_format": "U-{n:02d}",
        "first_number": "U-01",
        "last_number": "U-02",
    }
    assert number_blocks.parse_block(answer, "ULY-2026").last == 2
    with pytest.raises(ClientError, match="differently"):
        number_blocks.parse_block({**answer, "last_number": "U-2"}, "ULY-2026")


def test_a_block_for_another_expedition_is_refused() -> None:
    answer = {"expedition_code": "ZHZ-2026", "first": 1, "last": 2, "find_number_format": "{n}"}
    with pytest.raises(ClientError):
        number_blocks.parse_block(answer, "ULY-2026")
