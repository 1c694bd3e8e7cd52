"""A register document as CSV (RFC 4180): one header row, comma-separated, CRLF line ends."""

from __future__ import annotations

import csv
import io

from field_server.adapters.exports.csv import defused
from field_server.adapters.register_documents.sheet import Sheet


def render_csv(sheet: Sheet, *, bom: bool = False) -> bytes:
    """UTF-8; ``bom`` puts a byte-order mark first, which spreadsheet programs need to read
    Cyrillic from a double-clicked file."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([column.title for column in sheet.columns])
    # the museum's books hold what field recorders typed: defused like the finds export
    writer.writerows([defused(c) if isinstance(c, str) else c for c in row] for row in sheet.rows)
    text = buffer.getvalue()
    return (("\ufeff" + text) if bom else text).encode("utf-8")
