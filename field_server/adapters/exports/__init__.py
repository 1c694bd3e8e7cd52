"""Format writers of exports: each reads an ExportSource and writes one file format."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from field_server.domain.export_layers import ExportSource

Writer = Callable[..., Iterator[bytes]]


def writer_for(fmt: str) -> Writer:
    """The streaming writer of a format (geojson, kml, gpx, csv)."""
    from field_server.adapters.exports import csv, geojson, gpx, kml

    writers: dict[str, Any] = {
        "geojson": geojson.write_geojson,
        "kml": kml.write_kml,
        "gpx": gpx.write_gpx,
        "csv": csv.write_csv,
    }
    return writers[fmt]


__all__ = ["ExportSource", "writer_for"]
