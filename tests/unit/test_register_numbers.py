"""Register numbers of the two funds, and what an amendment may change (DESIGN §6)."""

from __future__ import annotations

from typing import Any

import pytest
from field_core.contract import MATERIAL_CODES

from field_server.domain.register_numbers import (
    Fund,
    RegisterError,
    RegisterNumber,
    act_label,
    amendable_fields,
    next_receipt,
    number_items,
    parse_amendment,
    parse_fund,
    parse_register_number,
)

FIELDS = amendable_fields(MATERIAL_CODES)


@pytest.mark.parametrize(
    ("text", "fund"),
    [
        ("KP", Fund.KP),
        ("КП", Fund.KP),
        ("kp", Fund.KP),
        ("кп", Fund.KP),
        (" NVF ", Fund.NVF),
        ("НВФ", Fund.NVF),
        ("нвф", Fund.NVF),
    ],
)
def test_a_fund_is_read_in_either_script(text: str, fund: Fund) -> None:
    assert parse_fund(text) is fund


@pytest.mark.parametrize("text", ["", "K P", "КПП", "BX", "ВХ", "KП"])
def test_an_unknown_fund_is_refused(text: str) -> None:
    with pytest.raises(RegisterError, match="unknown fund"):
        parse_fund(text)


def test_each_fund_has_its_cyrillic_and_ascii_form() -> None:
    assert [(f.cyrillic, f.ascii) for f in Fund] == [("КП", "KP"), ("НВФ", "NVF")]


def test_a_number_is_written_in_the_books_cyrillic_form_with_an_ascii_twin() -> None:
    number = RegisterNumber(Fund.KP, 12, 3)
    assert (number.cyrillic, number.ascii, str(number)) == ("КП 12/3", "KP 12/3", "КП 12/3")
    assert RegisterNumber(Fund.NVF, 7, 1).cyrillic == "НВФ 7/1"
    assert RegisterNumber(Fund.NVF, 7, 1).ascii == "NVF 7/1"


@pytest.mark.parametrize(
    "text", ["КП 12/3", "KP 12/3", "КП12/3", "kp 12/3", "  КП  12/3 ", "Кп 12/3"]
)
def test_both_forms_parse_to_the_same_number(text: str) -> None:
    assert parse_register_number(text) == RegisterNumber(Fund.KP, 12, 3)


def test_formatting_and_parsing_round_trip() -> None:
    for fund in Fund:
        for receipt, item in [(1, 1), (12, 3), (999_999_999, 999_999_999)]:
            number = RegisterNumber(fund, receipt, item)
            assert parse_register_number(number.cyrillic) == number
            assert parse_register_number(number.ascii) == number


@pytest.mark.parametrize(
    "text",
    [
        "КП 12",
        "КП 0/1",
        "КП 12/0",
        "КП 012/3",
        "КП 12/03",
        "КП ١٢/3",
        "КП 12/3/4",
        "ХХ 1/1",
        "КП -1/2",
        "КП 1.5/2",
        "12/3",
        "КП 1234567890/1",
        "",
    ],
)
def test_malformed_numbers_are_refused(text: str) -> None:
    with pytest.raises(RegisterError):
        parse_register_number(text)


def test_numbers_start_at_one() -> None:
    with pytest.raises(RegisterError):
        RegisterNumber(Fund.KP, 0, 1)
    with pytest.raises(RegisterError):
        RegisterNumber(Fund.KP, 1, 0)


def test_an_acts_items_are_numbered_one_to_n_in_the_order_given() -> None:
    numbers = number_items(Fund.NVF, 7, 4)
    assert [n.cyrillic for n in numbers] == ["НВФ 7/1", "НВФ 7/2", "НВФ 7/3", "НВФ 7/4"]
    assert act_label(Fund.NVF, 7) == "НВФ 7"


def test_an_act_without_items_is_refused() -> None:
    with pytest.raises(RegisterError):
        number_items(Fund.KP, 1, 0)


def test_receipt_numbers_follow_without_a_gap() -> None:
    taken = [0]
    for _ in range(5):
        taken.append(next_receipt(taken[-1]))
    assert taken == [0, 1, 2, 3, 4, 5]
    with pytest.raises(RegisterError):
        next_receipt(-1)


def test_numbers_sort_in_register_order() -> None:
    numbers = [RegisterNumber(Fund.KP, 10, 2), RegisterNumber(Fund.KP, 2, 11)]
    numbers.append(RegisterNumber(Fund.KP, 10, 1))
    assert [n.cyrillic for n in sorted(numbers)] == ["КП 2/11", "КП 10/1", "КП 10/2"]


# -- amendable fields -------------------------------------------------------------------------


def test_the_amendable_fields_are_the_finds_and_the_registers_own() -> None:
    on_find = {name for name, f in FIELDS.items() if f.on_find}
    register_only = {name for name, f in FIELDS.items() if not f.on_find}
    assert on_find == {
        "object_name",
        "description",
        "quantity",
        "material",
        "condition",
        "weight_g",
        "length_mm",
        "width_mm",
        "height_mm",
        "notes",
    }
    assert register_only == {"storage_location", "received_by", "inventory_number"}


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("object_name", "  Қола пышақ  ", "Қола пышақ"),
        ("description", None, None),
        ("description", "", None),
        ("quantity", 3, 3),
        ("quantity", 3.0, 3),
        ("material", "copper_alloy", "copper_alloy"),
        ("weight_g", 12.5, 12.5),
        ("weight_g", None, None),
        ("length_mm", 0, 0),
        ("storage_location", "Қор бөлмесі 2, сөре 4", "Қор бөлмесі 2, сөре 4"),
        ("inventory_number", "А-1024", "А-1024"),
    ],
)
def test_a_value_is_checked_and_normalised_by_its_fields_type(
    name: str, raw: Any, value: Any
) -> None:
    field, parsed = parse_amendment(FIELDS, name, raw)
    assert field.name == name and parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("object_name", None),
        ("object_name", "   "),
        ("object_name", "x" * 501),
        ("object_name", 5),
        ("notes", "a\x00b"),
        ("quantity", 0),
        ("quantity", 2.5),
        ("quantity", True),
        ("quantity", "3"),
        ("quantity", None),
        ("material", "bronze"),
        ("material", None),
        ("weight_g", -1),
        ("weight_g", float("nan")),
        ("weight_g", float("inf")),
        ("weight_g", "12"),
        ("height_mm", 2_000_000),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_refused(name: str, raw: Any) -> None:
    with pytest.raises(RegisterError):
        parse_amendment(FIELDS, name, raw)


@pytest.mark.parametrize("name", ["register_number", "find_uuid", "status", "item", ""])
def test_a_field_that_does_not_exist_or_may_not_change_is_refused(name: str) -> None:
    with pytest.raises(RegisterError, match="not a field an amendment may change"):
        parse_amendment(FIELDS, name, "x")
