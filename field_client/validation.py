"""Checking a record's data against the wire contract before it is saved on the laptop."""

from __future__ import annotations

from typing import Any

from field_client.errors import ClientError
from field_core.validation import validate_record_data

# Where the contract's field names differ from the command's options, say the option.
OPTION_NAMES = {
    "data.site_code": "--site",
    "data.find_number": "--find-number",
    "data.object_name": "--object-name",
    "data.found_on": "--found-on",
    "data.recorded_by": "--recorded-by",
    "data.weight_g": "--weight",
    "data.length_mm": "--length",
    "data.width_mm": "--width",
    "data.height_mm": "--height",
    "data.position": "the position (--lon, --lat)",
    "data.position.lon": "--lon",
    "data.position.lat": "--lat",
    "data.position.elevation_m": "--elevation",
    "data.position.depth_m": "--depth",
    "data.position.horizontal_accuracy_m": "--accuracy",
    "data.position.vertical_accuracy_m": "--vertical-accuracy",
    "data.position.method": "--method",
    "data.started_on": "--started-on",
    "data.ended_on": "--ended-on",
    "data.expedition_code": "--expedition",
}


def checked_data(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The normalised data, or a ClientError naming every problem on one line."""
    normalised, problems = validate_record_data(kind, data)
    if normalised is None:
        raise ClientError(f"the {kind} is not valid: {describe_problems(problems)}")
    return normalised


def describe_problems(problems: list[dict[str, str]]) -> str:
    parts = []
    for problem in problems:
        where = problem.get("field", "")
        name = OPTION_NAMES.get(where) or "--" + where.removeprefix("data.").replace("_", "-")
        parts.append(f"{name} {problem.get('message', '')}".strip())
    return "; ".join(parts)
