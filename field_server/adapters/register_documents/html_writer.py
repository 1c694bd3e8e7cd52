"""A register document as one self-contained HTML page, with a stylesheet for printing."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from field_server.adapters.register_documents.sheet import Sheet

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _environment() -> Environment:
    # autoescape everything: names and descriptions come from the field, typed by anyone
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(sheet: Sheet) -> str:
    total_width = sum(column.width for column in sheet.columns) or 1.0
    widths = [round(100 * column.width / total_width, 2) for column in sheet.columns]
    return _environment().get_template("sheet.html").render(sheet=sheet, widths=widths)
