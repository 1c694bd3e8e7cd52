"""CSV (RFC 4180) of the finds: comma, '.' decimals, a header row, CRLF; UTF-8, with a BOM on
request for spreadsheets that guess the encoding otherwise.

Text cells that a spreadsheet would take for a formula (starting with = + - @, a tab or a
carriage return) get a leading apostrophe, as OWASP advises against CSV injection; numbers,
negative coordinates among them, are written as numbers.

Lines are built with str methods rather than the csv module: with long Cyrillic descriptions
the module's per-character copying costs twice as much, and the export is read by the
hundred thousand finds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from field_server.adapters.exports.fields import COLUMN_NAMES, INTEGER_COLUMNS, REAL_COLUMNS
from field_server.domain.export_layers import ExportSource

WGS84_DECIMALS = 8  # about a millimetre
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a text that is only a number cannot be a formula: "-3" stays as written
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def text_cell(value: str) -> str:
    """One text cell, defused and quoted as RFC 4180 asks."""
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def _text(value: Any) -> str:
    return "" if value is None else text_cell(str(value))


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        # the wire schema makes these numbers; anything else is text and treated as text
        return text_cell(str(value))
    return repr(value)


def write_csv(source: ExportSource, *, bom: bool = False) -> Iterator[bytes]:
    crs = source.header.crs
    # projected coordinates to the millimetre; degrees to about a millimetre
    xy_decimals = WGS84_DECIMALS if crs.is_geographic else 3
    names = COLUMN_NAMES
    cells: list[Callable[[Any], str]] = [
        _number if name in INTEGER_COLUMNS or name in REAL_COLUMNS else _text for name in names
    ]
    header = ",".join([*names, "lon", "lat", "x", "y", "crs"]) + "\r\n"
    yield (("\ufeff" if bom else "") + header).encode("utf-8")
    tail = f",EPSG:{crs.epsg}\r\n"
    for chunk in source.find_chunks():
        lines = []
        for row, lon, lat, x, y in zip(
            chunk.rows, chunk.lons, chunk.lats, chunk.xs, chunk.ys, strict=True
        ):
            lines.append(
                ",".join([cell(value) for cell, value in zip(cells, row, strict=True)])
                + f",{lon:.{WGS84_DECIMALS}f},{lat:.{WGS84_DECIMALS}f}"
                + f",{x:.{xy_decimals}f},{y:.{xy_decimals}f}"
                + tail
            )
        yield "".join(lines).encode("utf-8")
