"""Finds on the laptop: recording one, editing it; numbers, material and position checked."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from field_client import account, conflicts, number_blocks, records, reference, surveys
from field_client.errors import ClientError
from field_client.records import LocalRecord
from field_client.validation import checked_data

POSITION_FIELDS = (
    "lon",
    "lat",
    "elevation_m",
    "depth_m",
    "horizontal_accuracy_m",
    "vertical_accuracy_m",
    "method",
)
FIND_FIELDS = (
    "site_code",
    "trench",
    "context",
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
    "found_on",
    "recorded_by",
    "notes",
)
# --clear NAME: the optional fields a person may empty again ("not recorded").
CLEARABLE = {
    "site": ("site_code",),
    "trench": ("trench",),
    "context": ("context",),
    "description": ("description",),
    "notes": ("notes",),
    "condition": ("condition",),
    "weight": ("weight_g",),
    "length": ("length_mm",),
    "width": ("width_mm",),
    "height": ("height_mm",),
    "elevation": ("position", "elevation_m"),
    "depth": ("position", "depth_m"),
    "accuracy": ("position", "horizontal_accuracy_m"),
    "vertical-accuracy": ("position", "vertical_accuracy_m"),
}


@dataclass
class Saved:
    record: LocalRecord
    changed: bool = True
    warnings: list[str] = field(default_factory=list)


def recorded_now() -> str:
    """Now, in the laptop's own time zone with its offset: 2026-07-14T10:32:05+05:00."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def add(connection: sqlite3.Connection, survey_given: str | None, values: dict[str, Any]) -> Saved:
    """Record a find in the open survey (or --survey), inside the caller's transaction.

    ``values`` holds the given options by contract name (position members by theirs); a
    missing find number is the next reserved one.
    """
    survey = surveys.choose(connection, survey_given)
    code = survey.data["expedition_code"]
    uuid = records.new_uuid()
    recorded_by = values.get("recorded_by") or account.username(connection)
    if not recorded_by:
        raise ClientError("who recorded the find? log in first, or give --recorded-by")
    data: dict[str, Any] = {
        "survey_uuid": survey.uuid,
        "expedition_code": code,
        "site_code": values.get("site_code"),
        "trench": values.get("trench"),
        "context": values.get("context"),
        "find_number": None,
        "kind": values.get("kind") or "small_find",
        "material": _material(connection, values.get("material")),
        "object_name": values.get("object_name"),
        "description": values.get("description"),
        "quantity": 1 if values.get("quantity") is None else values["quantity"],
        "weight_g": values.get("weight_g"),
        "length_mm": values.get("length_mm"),
        "width_mm": values.get("width_mm"),
        "height_mm": values.get("height_mm"),
        "condition": values.get("condition"),
        "found_on": values.get("found_on") or date.today().isoformat(),
        "recorded_at": recorded_now(),
        "recorded_by": recorded_by,
        "photos": [],
        "notes": values.get("notes"),
    }
    position = {name: values.get(name) for name in POSITION_FIELDS}
    if any(value is not None for value in position.values()):
        position["method"] = position["method"] or "unknown"
        data["position"] = position
    if data["material"] is None:
        del data["material"]
    if data["object_name"] is None:
        del data["object_name"]
    # Check everything else before a reserved number is spent (the transaction would give it
    # back anyway, but a clear message about the find comes first).
    checked_data("find", {**data, "find_number": values.get("find_number") or "?"})
    number = values.get("find_number")
    if number:
        _check_number_free(connection, code, number, uuid)
        number_blocks.mark_used(connection, code, number, uuid)
    else:
        number = number_blocks.take_next(connection, code, uuid)
    data["find_number"] = number
    record = records.create(connection, "find", checked_data("find", data), uuid)
    return Saved(record, True, _site_warnings(connection, code, data.get("site_code")))


def edit(
    connection: sqlite3.Connection, key: str, values: dict[str, Any], clear: list[str]
) -> Saved:
    """Change fields of a find: a new local revision, unless nothing changed."""
    record = records.find_one(connection, "find", key)
    if conflicts.open_conflict(connection, record.uuid) is not None:
        raise ClientError(
            f"find {record.uuid} has an open conflict: resolve it first (field-client conflicts)"
        )
    data = {**record.data, "position": dict(record.data.get("position") or {})}
    for name in FIND_FIELDS:
        if values.get(name) is not None:
            data[name] = values[name]
    if values.get("material") is not None:
        data["material"] = _material(connection, values["material"])
    for name in POSITION_FIELDS:
        if values.get(name) is not None:
            data["position"][name] = values[name]
    for name in clear:
        if name not in CLEARABLE:
            raise ClientError(f"--clear takes one of: {', '.join(CLEARABLE)}; not {name!r}")
        path = CLEARABLE[name]
        target = data["position"] if path[0] == "position" else data
        target[path[-1]] = None
    code = data["expedition_code"]
    if data["find_number"] != record.data.get("find_number"):
        _check_number_free(connection, code, data["find_number"], record.uuid)
        number_blocks.mark_used(connection, code, data["find_number"], record.uuid)
    normalised = checked_data("find", data)
    if normalised == record.data:
        return Saved(record, False)
    records.revise(connection, record, normalised)
    refreshed = records.get(connection, record.uuid)
    assert refreshed is not None
    return Saved(refreshed, True, _site_warnings(connection, code, normalised.get("site_code")))


def _material(connection: sqlite3.Connection, given: str | None) -> str | None:
    return None if given is None else reference.material_code(connection, given)


def _check_number_free(connection: sqlite3.Connection, code: str, number: str, uuid: str) -> None:
    holder = records.holder_of_number(connection, code, number, other_than=uuid)
    if holder is not None:
        raise ClientError(f"find number {number} is already used by find {holder} in {code}")


def _site_warnings(connection: sqlite3.Connection, code: str, site: str | None) -> list[str]:
    known = reference.site_codes(connection, code)
    if site is not None and known and site not in known:
        return [f"site {site} is not among {code}'s sites ({', '.join(known)})"]
    return []
