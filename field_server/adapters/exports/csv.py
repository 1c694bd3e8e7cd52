"""CSV (RFC 4180) of the finds: comma, '.' decimals, a header row, CRLF; UTF-8, with a BOM on
request for spreadsheets that guess the encoding otherwise."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from field_server.adapters.exports.fields import FIND_COLUMNS, find_values
from field_server.domain.export_layers import ExportSource

WGS84_DECIMALS = 8  # about a millimetre


def write_csv(source: ExportSource, *, bom: bool = False) -> Iterator[bytes]:
    crs = source.header.crs
    # projected coordinates to the millimetre; degrees to about a millimetre
    xy_format = "{:.8f}" if crs.is_geographic else "{:.3f}"
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*(name for name, _ in FIND_COLUMNS), "lon", "lat", "x", "y", "crs"])
    yield (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")
    crs_code = f"EPSG:{crs.epsg}"
    for chunk in source.find_chunks():
        buffer.seek(0)
        buffer.truncate()
        for find in chunk:
            values = find_values(find)
            writer.writerow(
                [
                    *("" if values[name] is None else values[name] for name, _ in FIND_COLUMNS),
                    f"{find.lon:.{WGS84_DECIMALS}f}",
                    f"{find.lat:.{WGS84_DECIMALS}f}",
                    xy_format.format(find.x),
                    xy_format.format(find.y),
                    crs_code,
                ]
            )
        yield buffer.getvalue().encode("utf-8")
