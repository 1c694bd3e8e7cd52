"""Field-by-field differences between two revisions of a record."""

from __future__ import annotations

from field_server.domain.revision_diff import FieldChange, field_changes


def test_a_first_revision_lists_every_recorded_field() -> None:
    assert field_changes({}, {"a": 1, "b": None}) == [FieldChange("a", None, 1)]


def test_nested_fields_are_dotted_and_absent_equals_null() -> None:
    old = {"object_name": "Rim", "position": {"lon": 67.1, "lat": 48.2}, "notes": None}
    new = {"object_name": "Rim", "position": {"lon": 67.2, "lat": 48.2, "depth_m": 0.4}}
    assert field_changes(old, new) == [
        FieldChange("position.lon", 67.1, 67.2),
        FieldChange("position.depth_m", None, 0.4),
    ]


def test_a_cleared_field_reads_as_not_recorded() -> None:
    assert field_changes({"notes": "x"}, {"notes": None}) == [FieldChange("notes", "x", None)]
    assert field_changes({"photos": ["a"]}, {"photos": ["a", "b"]}) == [
        FieldChange("photos", ["a"], ["a", "b"])
    ]
