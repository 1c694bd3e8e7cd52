"""The attributes of a find as every export writes them, in one order."""

from __future__ import annotations

from typing import Any

from field_server.domain.export_layers import FindChunk

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


def find_rows(chunk: FindChunk) -> list[tuple[Any, ...]]:
    """The finds' attributes as tuples in FIND_COLUMNS order; lists (photos, flags) as
    space-separated text. Spelled out member by member: this runs once per exported find."""
    rows = []
    for uuid, data, status, number, flags in zip(
        chunk.uuids, chunk.datas, chunk.statuses, chunk.register_numbers, chunk.flags, strict=True
    ):
        get = data.get
        at = data["position"].get
        photos = get("photos")
        rows.append(
            (
                get("find_number"),
                uuid,
                get("survey_uuid"),
                get("site_code"),
                get("trench"),
                get("context"),
                get("kind"),
                get("material"),
                get("object_name"),
                get("description"),
                get("quantity"),
                get("weight_g"),
                get("length_mm"),
                get("width_mm"),
                get("height_mm"),
                get("condition"),
                at("elevation_m"),
                at("depth_m"),
                at("horizontal_accuracy_m"),
                at("vertical_accuracy_m"),
                at("method"),
                get("found_on"),
                get("recorded_at"),
                get("recorded_by"),
                " ".join(photos) if photos else None,
                get("notes"),
                status,
                number,
                " ".join(flags) if flags else None,
            )
        )
    return rows
