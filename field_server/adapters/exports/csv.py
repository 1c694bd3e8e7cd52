"""CSV (RFC 4180) of the finds: comma, '.' decimals, a header row, CRLF; UTF-8, with a BOM on
request for spreadsheets that guess the encoding otherwise.

Text cells that a spreadsheet would take for a formula (starting with = + - @ ; |, a tab or
a carriage return) get a leading apostrophe, as OWASP advises against CSV injection, and a
cell holding a ';' is quoted, for the spreadsheets that split on it; numbers, negative
coordinates among them, are written as numbers.

Lines are built with str methods rather than the csv module: with long Cyrillic descriptions
the module's per-character copying costs twice as much, and the export is read by the
hundred thousand finds. Cells are made a column and a chunk at a time: a column of plain
texts (the usual case) is checked with a few substring searches and written as it is, or
quoted whole when some cell holds a comma or a line break; a column of numbers goes through
``map``; so most cells cost no Python call of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from field_core.geo.crs import WGS84
from field_server.adapters.exports.fields import COLUMN_NAMES, INTEGER_COLUMNS, REAL_COLUMNS
from field_server.domain.export_layers import ExportSource

WGS84_DECIMALS = 8  # about a millimetre
# ';' and '|' too: Kazakh and Russian Excel split a CSV on ';', so a cell after one starts a
# new cell, and '|' opens a DDE call in older ones
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", ";", "|")
# a text that is only a number cannot be a formula: "-3" stays as written
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
# What a column's cells are scanned for, joined by NUL with a NUL in front: a cell starting
# with a formula character follows a NUL. A NUL inside a cell can only make a false alarm,
# which costs the per-cell path and nothing else.
# (a regular expression with a literal first character is a fast search for it; the six
# two-character substrings one by one cost fifteen times more on UCS-2 text)
_FORMULA_CHARACTERS = "[" + re.escape("".join(FORMULA_STARTS)) + "]"
# ... or after a ';', where a spreadsheet splitting on ';' starts a new cell, quotes or not
# (it takes a quote as one only at the start of a cell)
_FORMULA_AFTER_NUL = re.compile("[\x00;]" + _FORMULA_CHARACTERS)
_FORMULA_AFTER_SEMICOLON = re.compile(";(?=" + _FORMULA_CHARACTERS + ")")
# a ';' is quoted too, so that a spreadsheet splitting on it keeps the cell whole
_NEEDS_QUOTES = (",", "\n", "\r", ";")
_NONE = type(None)
_NUMBER_TYPES = frozenset((int, float))


def defused(value: str) -> str:
    """The text with an apostrophe where a spreadsheet would run it as a formula: in front,
    and after a ';' that a formula character follows."""
    if ";" in value:
        value = _FORMULA_AFTER_SEMICOLON.sub(";'", value)
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def text_cell(value: str) -> str:
    """One text cell, defused and quoted as RFC 4180 asks."""
    value = defused(value)
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if any(mark in value for mark in _NEEDS_QUOTES):
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


def _text_column(values: tuple[Any, ...]) -> Sequence[str]:
    kinds = set(map(type, values))
    cells: Sequence[str]
    if kinds == {str}:
        cells = values
    elif kinds <= {str, _NONE}:
        cells = ["" if value is None else value for value in values]
    else:
        cells = ["" if value is None else str(value) for value in values]
    # searches over the whole column run at memory speed; a call per cell costs ten times more
    # on long Cyrillic descriptions
    joined = "\x00" + "\x00".join(cells)
    if '"' in joined or _FORMULA_AFTER_NUL.search(joined) is not None:
        return [text_cell(cell) for cell in cells]  # quotes to double or a formula to defuse
    if any(mark in joined for mark in _NEEDS_QUOTES):
        # RFC 4180 lets any field be quoted: the whole column is, rather than cell by cell
        return ['"' + cell + '"' if cell else cell for cell in cells]
    return cells


def _number_column(values: tuple[Any, ...]) -> Sequence[str]:
    kinds = set(map(type, values))
    if len(kinds) == 1 and kinds <= _NUMBER_TYPES:
        return list(map(repr, values))
    if kinds <= {int, float, _NONE}:
        return ["" if value is None else repr(value) for value in values]
    return [_number(value) for value in values]


def write_csv(source: ExportSource, *, bom: bool = False) -> Iterator[bytes]:
    crs = source.header.crs
    # projected coordinates to the millimetre; degrees to about a millimetre
    degrees = f"{{:.{WGS84_DECIMALS}f}}".format
    projected = f"{{:.{WGS84_DECIMALS if crs.is_geographic else 3}f}}".format
    names = COLUMN_NAMES
    cells: list[Callable[[tuple[Any, ...]], Sequence[str]]] = [
        _number_column if name in INTEGER_COLUMNS or name in REAL_COLUMNS else _text_column
        for name in names
    ]
    header = ",".join([*names, "lon", "lat", "x", "y", "crs"]) + "\r\n"
    yield (("\ufeff" if bom else "") + header).encode("utf-8")
    epsg = f"EPSG:{crs.epsg}"
    for chunk in source.find_chunks():
        if not len(chunk):
            continue
        columns = [cell(values) for cell, values in zip(cells, chunk.columns(), strict=True)]
        lons, lats = list(map(degrees, chunk.lons)), list(map(degrees, chunk.lats))
        if crs.epsg == WGS84:  # x and y are lon and lat, written the same
            xs, ys = lons, lats
        else:
            xs, ys = list(map(projected, chunk.xs)), list(map(projected, chunk.ys))
        columns += [lons, lats, xs, ys, [epsg] * len(chunk)]
        lines = "\r\n".join(map(",".join, zip(*columns, strict=True))) + "\r\n"
        yield lines.encode("utf-8")
