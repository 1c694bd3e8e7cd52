"""Form values as the services take them: a browser sends text, the find's contract says which
fields hold numbers, and an empty box means "not recorded"."""

from __future__ import annotations

import math
from typing import Any

from field_core.contract import load_schema

from field_server.services.errors import InvalidInput

_FIND = load_schema("find")["properties"]
# what the correction form offers: a find's own fields, not its place in the sync (survey,
# expedition), its position (a device's measurement) or its photos (files from the field)
CORRECTABLE: tuple[str, ...] = (
    "find_number",
    "kind",
    "material",
    "object_name",
    "description",
    "quantity",
    "weight_g",
    "length_mm",
    "width_mm",
    "height_mm",
    "condition",
    "site_code",
    "trench",
    "context",
    "found_on",
    "recorded_by",
    "notes",
)


def _types(name: str) -> set[str]:
    declared = _FIND.get(name, {}).get("type", "string")
    return {declared} if isinstance(declared, str) else set(declared)


def find_value(name: str, text: str) -> Any:
    """The value of a find's field typed into a form; the service validates it as a push."""
    types = _types(name)
    return typed(
        text,
        "integer" if "integer" in types else "number" if "number" in types else "text",
        name,
        "null" in types,
    )


def typed(text: str, kind: str, name: str, nullable: bool = True) -> Any:
    """``text`` as a value of ``kind`` (text, integer, number, material)."""
    text = text.strip()
    if not text:
        return None if nullable else ""
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise _refused(name, "a whole number") from None
    if kind == "number":
        try:
            number = float(text.replace(",", "."))  # a decimal comma, as kk and ru write it
        except ValueError:
            raise _refused(name, "a number") from None
        if not math.isfinite(number):
            raise _refused(name, "a number")
        return int(number) if number.is_integer() else number
    return text


def _refused(name: str, what: str) -> InvalidInput:
    return InvalidInput(f"{name} must be {what}", [{"field": name, "message": f"must be {what}"}])
