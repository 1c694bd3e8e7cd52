"""What changed between two revisions of a record, field by field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ABSENT = object()


@dataclass(frozen=True)
class FieldChange:
    field: str  # nested fields are dotted: position.lon
    old: Any  # None when the field was not recorded
    new: Any


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """The fields whose values differ, in a stable order; a field missing and a field set to
    null both read as "not recorded", as on the wire."""
    changes: list[FieldChange] = []
    for name in _ordered_names(old, new):
        before, after = old.get(name, _ABSENT), new.get(name, _ABSENT)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            for change in field_changes(before, after):
                changes.append(FieldChange(f"{name}.{change.field}", change.old, change.new))
            continue
        before = None if before is _ABSENT else before
        after = None if after is _ABSENT else after
        if before != after:
            changes.append(FieldChange(name, before, after))
    return changes


def _ordered_names(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    names = list(old)
    names.extend(name for name in new if name not in old)
    return names
