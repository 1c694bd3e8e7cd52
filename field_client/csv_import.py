"""CSV imports of finds: total-station and spreadsheet exports, mapped by column, to WGS 84."""

# The whole file is checked before anything is saved: a bad row fails the command with its line
# number and nothing of the file is kept, so a corrected file can simply be imported again. A
# row whose find number is already on the laptop is skipped with a warning, which makes a second
# import of the same file add nothing. Cells are kept as the text they are: a cell such as
# "=HYPERLINK(…)" is an object name like any other, never evaluated or stripped.

from __future__ import annotations

import csv
import io
import math
import os
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from field_client import finds, records, surveys
from field_client.errors import ClientError
from field_client.records import LocalRecord
from field_core.geo.crs import CrsError, Transformer, parse_crs, to_wgs84
from field_core.geo.source_file import UnreadableFile, regular_file_size, source_file_name

MAX_CSV_BYTES = 50 * 1024 * 1024
MAX_CSV_ROWS = 100_000
MAX_CELL_CHARS = 10_000
_SNIFF_CHARS = 64 * 1024

_INTEGER_FIELDS = frozenset({"quantity"})
_NUMBER_FIELDS = frozenset(
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
MAPPABLE = frozenset({*finds.FIND_FIELDS, *finds.POSITION_FIELDS})
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+[.,]?[0-9]*|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


class CsvError(UnreadableFile):
    """A CSV file that cannot be imported; str() is one line naming the file (and its line)."""


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, Any]


@dataclass
class CsvImport:
    created: list[LocalRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_columns(text: str) -> dict[str, str]:
    """The --columns mapping 'find_number=No,lon=E,lat=N' as {contract field: CSV column}."""
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise ClientError(f"--columns: {part.strip()!r} is not FIELD=COLUMN")
        if name not in MAPPABLE:
            raise ClientError(
                f"--columns: {name!r} is not a find field; use: {', '.join(sorted(MAPPABLE))}"
            )
        mapping[name] = column
    for needed in ("lon", "lat"):
        if needed not in mapping:
            raise ClientError(
                f"--columns must name the {needed} column (x/east for lon, y/north for lat "
                "in the source CRS)"
            )
    return mapping


def transformer_from(epsg: int) -> Transformer:
    """From the source CRS to WGS 84, x/east first as the wire's lon, lat."""
    try:
        return to_wgs84(parse_crs(epsg))
    except CrsError as error:
        raise ClientError(
            f"{error}; check the code (e.g. 32642 for UTM 42N, 28412 for Pulkovo 1942 / GK zone 12)"
        ) from None


def read_rows(
    path: str | os.PathLike[str],
    mapping: dict[str, str],
    transformer: Transformer,
    encoding: str = "utf-8",
) -> list[CsvRow]:
    """Every data row as find values with lon, lat in WGS 84; CsvError on the first problem."""
    source = source_file_name(path)
    text = _text(path, source, encoding)
    dialect = _dialect(text[:_SNIFF_CHARS])
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    old_limit = csv.field_size_limit(MAX_CELL_CHARS)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvError(source, "is empty: no header row")
        names = [cell.strip().lstrip("\ufeff") for cell in header]
        where = {}
        for name, column in mapping.items():
            if column not in names:
                raise CsvError(
                    source,
                    f"has no column {column!r} (for {name}); its columns: "
                    + ", ".join(repr(n[:40]) for n in names[:30]),
                )
            where[name] = names.index(column)
        decimal_comma = dialect.delimiter != ","
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_CSV_ROWS:
                raise CsvError(source, f"holds more than {MAX_CSV_ROWS:,} rows")
            line = reader.line_num
            values = _values(cells, where, decimal_comma, source, line)
            rows.append(CsvRow(line, _to_wgs84(values, transformer, source, line)))
    except csv.Error as error:
        raise CsvError(source, f"line {reader.line_num}: not readable CSV ({error})") from None
    finally:
        csv.field_size_limit(old_limit)
    return rows


def _text(path: str | os.PathLike[str], source: str, encoding: str) -> str:
    try:
        size = regular_file_size(path)
        if size > MAX_CSV_BYTES:
            raise CsvError(
                source, f"is {size / 1e6:.0f} MB, above the {MAX_CSV_BYTES // 10**6} MB limit"
            )
        with open(path, "rb") as stream:
            raw = stream.read(MAX_CSV_BYTES + 1)
    except OSError as error:
        raise CsvError(source, f"cannot be read: {error.strerror or error}") from None
    if len(raw) > MAX_CSV_BYTES:
        raise CsvError(source, "grew above the CSV size limit while being read")
    if b"\x00" in raw[:_SNIFF_CHARS] and not encoding.lower().startswith("utf-16"):
        raise CsvError(source, "is not a text file (it holds NUL bytes)")
    try:
        return raw.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except LookupError:
        raise CsvError(source, f"--encoding {encoding!r} is not an encoding Python knows") from None
    except UnicodeDecodeError as error:
        raise CsvError(
            source,
            f"is not valid {encoding} text (byte {error.start}); give its encoding, "
            "e.g. --encoding cp1251 for a Russian Excel export",
        ) from None


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _values(
    cells: list[str], where: dict[str, int], decimal_comma: bool, source: str, line: int
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, index in where.items():
        cell = cells[index].strip() if index < len(cells) else ""
        if not cell:
            continue
        if name in ("lon", "lat") or name in _NUMBER_FIELDS or name in _INTEGER_FIELDS:
            values[name] = _number(cell, name, decimal_comma, source, line)
        else:
            values[name] = cell
    return values


def _number(cell: str, name: str, decimal_comma: bool, source: str, line: int) -> float | int:
    text = cell.replace(" ", "").replace("\u00a0", "")
    if not _DECIMAL.fullmatch(text) or ("," in text and not decimal_comma):
        raise CsvError(source, f"line {line}: {name} {cell[:40]!r} is not a number")
    value = float(text.replace(",", "."))
    if not math.isfinite(value):
        raise CsvError(source, f"line {line}: {name} {cell[:40]!r} is not a finite number")
    if name in _INTEGER_FIELDS:
        if not value.is_integer():
            raise CsvError(source, f"line {line}: {name} {cell[:40]!r} is not a whole number")
        return int(value)
    return value


def _to_wgs84(
    values: dict[str, Any], transformer: Transformer, source: str, line: int
) -> dict[str, Any]:
    if "lon" not in values or "lat" not in values:
        raise CsvError(source, f"line {line}: the position's x and y are both needed")
    lon, lat = transformer.transform(values["lon"], values["lat"])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise CsvError(
            source, f"line {line}: ({values['lon']}, {values['lat']}) lies outside the source CRS"
        )
    return {**values, "lon": round(lon, 8), "lat": round(lat, 8)}


def save_finds(
    connection: sqlite3.Connection,
    survey_key: str | None,
    rows: list[CsvRow],
    source: str,
    defaults: dict[str, Any],
    into: CsvImport,
) -> None:
    """Record each row as a find (call inside the command's transaction)."""
    code = surveys.choose(connection, survey_key).data["expedition_code"]
    for row in rows:
        values = {**defaults, **row.values}
        number = values.get("find_number")
        if number and _number_known(connection, code, number):
            into.warnings.append(
                f"{source} line {row.line}: find {number} is already here; skipped"
            )
            continue
        try:
            saved = finds.add(connection, survey_key, values)
        except ClientError as error:
            raise ClientError(f"{source} line {row.line}: {error.reason}") from None
        into.created.append(saved.record)
        into.warnings.extend(f"{source} line {row.line}: {w}" for w in saved.warnings)


def _number_known(connection: sqlite3.Connection, code: str, number: str) -> bool:
    return records.holder_of_number(connection, code, number) is not None
