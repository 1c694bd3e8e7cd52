"""Canonical JSON and the content hash that tells a replay from a change."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, Unicode kept as it is (not \\u-escaped).

    Stored data is this text, so equal content gives equal bytes and equal hashes on every
    database and both sides of the wire.
    """
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def content_hash(value: Any) -> str:
    return text_hash(canonical_json(value))


def text_hash(canonical_text: str) -> str:
    """The content hash of a value already written as canonical JSON."""
    return hashlib.sha256(canonical_text.encode("utf-8")).hexdigest()
