"""Accession numbers of the museum's two books, and what an amendment may change (DESIGN §6).

Each acceptance act takes the next receipt number of its fund, and each item in it a
sub-number: ``КП 12/3`` in the main fund's book (книга поступлений), ``НВФ 7/1`` in the
scientific-auxiliary fund's. The Cyrillic form is the one written in the books and stored;
the ASCII form (``KP 12/3``) is for systems that cannot take Cyrillic.

A register entry is never edited: a correction is an amendment of one named field, whose new
value is checked here by the field's type before anything is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RegisterError(ValueError):
    """A fund, register number or amendment value that cannot be read."""


class Fund(StrEnum):
    """The museum's two accession books, by their ASCII code."""

    KP = "KP"  # книга поступлений основного фонда: the main fund
    NVF = "NVF"  # научно-вспомогательный фонд: the scientific-auxiliary fund

    @property
    def cyrillic(self) -> str:
        return _CYRILLIC[self]

    @property
    def ascii(self) -> str:
        return self.value


_CYRILLIC = {Fund.KP: "КП", Fund.NVF: "НВФ"}
_BY_NAME = {
    **{fund.value: fund for fund in Fund},
    **{name: fund for fund, name in _CYRILLIC.items()},
}


def parse_fund(text: str) -> Fund:
    """``KP``, ``NVF``, ``КП`` or ``НВФ`` (any letter case) as a fund."""
    fund = _BY_NAME.get(text.strip().upper()) if isinstance(text, str) else None
    if fund is None:
        raise RegisterError(f"unknown fund {text!r}: use KP or NVF (КП or НВФ)")
    return fund


# ASCII digits only, no leading zero: "١٢" or "012" would make a second spelling of a number
_NUMBER = re.compile(r"^\s*(\S+?)\s*([1-9][0-9]{0,8})/([1-9][0-9]{0,8})\s*$", re.ASCII)


@dataclass(frozen=True, order=True)
class RegisterNumber:
    """One item's permanent number: fund, the act's receipt number, the item within the act."""

    fund: Fund
    receipt: int
    item: int

    def __post_init__(self) -> None:
        if self.receipt < 1 or self.item < 1:
            raise RegisterError("receipt and item numbers start at 1")

    @property
    def cyrillic(self) -> str:
        return f"{self.fund.cyrillic} {self.receipt}/{self.item}"

    @property
    def ascii(self) -> str:
        return f"{self.fund.ascii} {self.receipt}/{self.item}"

    def __str__(self) -> str:
        return self.cyrillic


def parse_register_number(text: str) -> RegisterNumber:
    """``КП 12/3`` or ``KP 12/3`` (the space may be left out) as a register number."""
    match = _NUMBER.match(text) if isinstance(text, str) else None
    if match is None:
        raise RegisterError(f"{text!r} is not a register number like КП 12/3 or KP 12/3")
    return RegisterNumber(parse_fund(match.group(1)), int(match.group(2)), int(match.group(3)))


def act_label(fund: Fund, receipt: int) -> str:
    """How an act is named on paper and in the audit log: ``КП 12``."""
    return f"{fund.cyrillic} {receipt}"


def number_items(fund: Fund, receipt: int, count: int) -> list[RegisterNumber]:
    """The register numbers of an act's ``count`` items, 1 to ``count`` in the order given."""
    if count < 1:
        raise RegisterError("an act takes at least one find")
    return [RegisterNumber(fund, receipt, item) for item in range(1, count + 1)]


def next_receipt(last_receipt: int) -> int:
    """The receipt number after the last one taken: no gap, never reused."""
    if last_receipt < 0:
        raise RegisterError("a fund's last receipt number is never negative")
    return last_receipt + 1


# -- amendments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmendableField:
    """A field of a register entry that an amendment may correct.

    ``on_find`` fields are the find's own (the amendment also becomes a museum revision of the
    find, which devices pull); the others belong to the register alone.
    """

    name: str
    kind: str  # for people and the API document: text, integer, number, material
    nullable: bool
    on_find: bool
    parse: Callable[[Any], Any]


def _text(max_length: int, *, nullable: bool) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise RegisterError("may not be empty")
        if not isinstance(value, str):
            raise RegisterError("must be a string")
        value = value.strip()
        if not value:
            if nullable:
                return None
            raise RegisterError("may not be empty")
        if len(value) > max_length:
            raise RegisterError(f"must be at most {max_length} characters long")
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise RegisterError("must not contain U+0000 or unpaired surrogates")
        return value

    return parse


def _integer(minimum: int, maximum: int) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RegisterError("must be a whole number")
        if isinstance(value, float):
            if not value.is_integer():
                raise RegisterError("must be a whole number")
            value = int(value)
        if not minimum <= value <= maximum:
            raise RegisterError(f"must be between {minimum} and {maximum}")
        return value

    return parse


def _number(maximum: float) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RegisterError("must be a number")
        if not math.isfinite(value) or not 0 <= value <= maximum:
            raise RegisterError(f"must be between 0 and {maximum:g}")
        return value

    return parse


def _material(vocabulary: Collection[str]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if value not in vocabulary:
            raise RegisterError(f"must be one of the material codes: {', '.join(vocabulary)}")
        return value

    return parse


def amendable_fields(materials: Collection[str]) -> dict[str, AmendableField]:
    """The fields an amendment may change, by name; ``materials`` is the controlled list.

    The bounds are the wire contract's (schemas/find.json), so an amended find stays a valid
    find for every device that pulls it.
    """
    fields = [
        AmendableField("object_name", "text", False, True, _text(500, nullable=False)),
        AmendableField("description", "text", True, True, _text(10_000, nullable=True)),
        AmendableField("quantity", "integer", False, True, _integer(1, 1_000_000)),
        AmendableField("material", "material", False, True, _material(tuple(materials))),
        AmendableField("condition", "text", True, True, _text(500, nullable=True)),
        AmendableField("weight_g", "number", True, True, _number(100_000_000)),
        AmendableField("length_mm", "number", True, True, _number(1_000_000)),
        AmendableField("width_mm", "number", True, True, _number(1_000_000)),
        AmendableField("height_mm", "number", True, True, _number(1_000_000)),
        AmendableField("notes", "text", True, True, _text(10_000, nullable=True)),
        AmendableField("storage_location", "text", True, False, _text(500, nullable=True)),
        AmendableField("received_by", "text", True, False, _text(200, nullable=True)),
        # the scientific inventory number a curator gives the object later (a КП column)
        AmendableField("inventory_number", "text", True, False, _text(100, nullable=True)),
    ]
    return {field.name: field for field in fields}


def parse_amendment(
    fields: dict[str, AmendableField], name: str, value: Any
) -> tuple[AmendableField, Any]:
    """The field named ``name`` and ``value`` checked by its type; RegisterError otherwise."""
    field = fields.get(name)
    if field is None:
        raise RegisterError(
            f"{name!r} is not a field an amendment may change; known: {', '.join(fields)}"
        )
    return field, field.parse(value)
