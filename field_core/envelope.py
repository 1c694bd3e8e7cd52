"""The record envelope on the wire: ``{type, uuid, base_rev, rev, data}``."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

from field_core.contract import RECORD_TYPES

ENVELOPE_KEYS = frozenset({"type", "uuid", "base_rev", "rev", "data"})
MAX_REV = 2**31 - 1


@dataclass(frozen=True)
class Envelope:
    type: str
    uuid: str
    base_rev: int
    rev: int
    data: dict[str, Any]


def _as_int(value: Any) -> int | None:
    """An integer as JSON Schema counts one (2.0 is 2); None for anything else."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def canonical_uuid(value: Any) -> str | None:
    """The lowercase 8-4-4-4-12 form, or None when ``value`` is not one."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        parsed = uuidlib.UUID(value)
    except ValueError:
        return None
    text = str(parsed)
    return text if text == value else None


def parse_envelope(raw: Any) -> tuple[Envelope | None, list[dict[str, str]]]:
    """Check the envelope only; ``data`` is checked against its type's schema afterwards."""
    if not isinstance(raw, dict):
        return None, [{"field": "", "message": "a record is a JSON object"}]
    problems = [
        {"field": key, "message": "unknown field"} for key in sorted(set(raw) - ENVELOPE_KEYS)
    ]
    problems += [{"field": key, "message": "missing"} for key in sorted(ENVELOPE_KEYS - set(raw))]
    kind = raw.get("type")
    if "type" in raw and kind not in RECORD_TYPES:
        problems.append({"field": "type", "message": f"one of {', '.join(RECORD_TYPES)}"})
    uuid = canonical_uuid(raw.get("uuid"))
    if "uuid" in raw and uuid is None:
        problems.append({"field": "uuid", "message": "a UUID in lowercase 8-4-4-4-12 form"})
    base_rev, rev = _as_int(raw.get("base_rev")), _as_int(raw.get("rev"))
    if "base_rev" in raw and not (base_rev is not None and 0 <= base_rev <= MAX_REV):
        problems.append({"field": "base_rev", "message": f"an integer from 0 to {MAX_REV}"})
    if "rev" in raw and not (rev is not None and 1 <= rev <= MAX_REV):
        problems.append({"field": "rev", "message": f"an integer from 1 to {MAX_REV}"})
    if "data" in raw and not isinstance(raw["data"], dict):
        problems.append({"field": "data", "message": "a JSON object"})
    if problems:
        return None, problems
    return Envelope(kind, uuid, base_rev, rev, raw["data"]), []  # type: ignore[arg-type]
