"""Small helpers for the XML formats: escaping and UTC times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

# characters XML 1.0 does not allow at all, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text(value: object) -> str:
    return escape(_NOT_XML.sub("\ufffd", str(value)))


def attr(value: object) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", str(value)))


def utc_time(value: str | None) -> str | None:
    """An RFC 3339 time with offset as xsd:dateTime in UTC (``…Z``), or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
