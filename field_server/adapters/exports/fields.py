"""The attributes of a find as every export writes them, in one order."""

from __future__ import annotations

from typing import Any

from field_server.domain.export_layers import FindFeature

# (column, where it comes from in the wire data; "position." for the position's members)
FIND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("find_number", "find_number"),
    ("uuid", ""),
    ("survey_uuid", "survey_uuid"),
    ("site_code", "site_code"),
    ("trench", "trench"),
    ("context", "context"),
    ("kind", "kind"),
    ("material", "material"),
    ("object_name", "object_name"),
    ("description", "description"),
    ("quantity", "quantity"),
    ("weight_g", "weight_g"),
    ("length_mm", "length_mm"),
    ("width_mm", "width_mm"),
    ("height_mm", "height_mm"),
    ("condition", "condition"),
    ("elevation_m", "position.elevation_m"),
    ("depth_m", "position.depth_m"),
    ("horizontal_accuracy_m", "position.horizontal_accuracy_m"),
    ("vertical_accuracy_m", "position.vertical_accuracy_m"),
    ("method", "position.method"),
    ("found_on", "found_on"),
    ("recorded_at", "recorded_at"),
    ("recorded_by", "recorded_by"),
    ("photos", ""),
    ("notes", "notes"),
    ("status", ""),
    ("register_number", ""),
    ("flags", ""),
)
INTEGER_COLUMNS = frozenset({"quantity"})
REAL_COLUMNS = frozenset(
    {
        "weight_g",
        "length_mm",
        "width_mm",
        "height_mm",
        "elevation_m",
        "depth_m",
        "horizontal_accuracy_m",
        "vertical_accuracy_m",
    }
)


def find_values(find: FindFeature) -> dict[str, Any]:
    """A find's attributes by column; lists (photos, flags) as space-separated text."""
    data, position = find.data, find.data["position"]
    values: dict[str, Any] = {}
    for column, source in FIND_COLUMNS:
        if source.startswith("position."):
            values[column] = position.get(source.removeprefix("position."))
        elif source:
            values[column] = data.get(source)
    values["uuid"] = find.uuid
    values["photos"] = " ".join(data.get("photos") or ()) or None
    values["status"] = find.status
    values["register_number"] = find.register_number
    values["flags"] = " ".join(find.flags) or None
    return values
