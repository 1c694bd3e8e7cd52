"""The CSV writer: RFC 4180 quoting, cells a spreadsheet would run as formulas defused,
numbers left as numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from field_core.geo import crs
from field_server.adapters.exports.csv import text_cell, write_csv
from field_server.domain.export_layers import ExportHeader, FindChunk, find_row

BASE: dict[str, Any] = {
    "survey_uuid": "165d2e4c-052f-4c92-8639-2d7dd2ca4b81",
    "expedition_code": "ULY-2026",
    "find_number": "ULY26-0001",
    "kind": "small_find",
    "material": "ceramic",
    "object_name": "Құмыра сынығы",
    "quantity": 1,
    "found_on": "2026-07-29",
    "recorded_at": "2026-07-29T10:11:53+05:00",
    "recorded_by": "a.nurlankyzy",
    "photos": [],
}


class OneChunk:
    def __init__(self, epsg: int, finds: list[tuple[dict[str, Any], float, float]]) -> None:
        self.header = ExportHeader(
            "ULY-2026", "Ұлытау", crs.crs_info(epsg), datetime(2026, 8, 1, tzinfo=UTC), {}
        )
        self.finds = finds

    def find_chunks(self) -> Iterator[FindChunk]:
        rows = [
            (*find_row({"uuid": f"00000000-0000-4000-8000-{i:012d}", "status": "synced"}, data),
             lon, lat)
            for i, (data, lon, lat) in enumerate(self.finds)
        ]  # fmt: skip
        yield FindChunk.of_rows(rows, self.header.crs.epsg)


def rows_of(source: Any, **options: Any) -> list[dict[str, str]]:
    text = b"".join(write_csv(source, **options)).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x.invalid","a")', '\'=HYPERLINK("http://x.invalid","a")'),
        ("+7 701 000 00 00", "'+7 701 000 00 00"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1,1)", "'@SUM(1,1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        (";=cmd|' /C calc'!A0", "';'=cmd|' /C calc'!A0"),
        ("|calc", "'|calc"),
        ("Р-1;=1+1", "Р-1;'=1+1"),  # a spreadsheet splitting on ';' starts a cell there
        ("Р-1; қабат 2", "Р-1; қабат 2"),
        ("-12", "-12"),  # only a number: no formula, kept as written
        ("+3.5", "+3.5"),
        ("Р-1 = траншея", "Р-1 = траншея"),  # an = inside the text is harmless
        ("", ""),
    ],
)
def test_text_that_a_spreadsheet_would_run_starts_with_an_apostrophe(
    value: str, written: str
) -> None:
    data = {**BASE, "object_name": value, "notes": value, "position": {"lon": 1.0, "lat": 2.0}}
    [row] = rows_of(OneChunk(crs.WGS84, [(data, 1.0, 2.0)]))
    assert row["object_name"] == row["notes"] == written


def test_numbers_stay_numbers_even_when_negative() -> None:
    position = {"lon": -61.5, "lat": -12.25, "elevation_m": -28.0, "depth_m": 1.5}
    data = {**BASE, "quantity": 3, "weight_g": -0.0, "position": position}
    [row] = rows_of(OneChunk(crs.WGS84, [(data, -61.5, -12.25)]))
    assert row["lon"] == "-61.50000000" and row["lat"] == "-12.25000000"
    assert row["x"] == "-61.50000000" and row["y"] == "-12.25000000"
    assert row["elevation_m"] == "-28.0" and row["depth_m"] == "1.5"
    assert row["quantity"] == "3" and row["weight_g"] == "-0.0"


def test_quotes_commas_and_line_breaks_are_quoted_as_rfc_4180_asks() -> None:
    data = {
        **BASE,
        "object_name": 'Ернеу, "қызыл" ангоб',
        "description": "бір\r\nекі",
        "notes": "a,b",
        "context": "102",
        "position": {"lon": 67.8, "lat": 48.2},
    }
    payload = b"".join(write_csv(OneChunk(crs.UTM_42N, [(data, 67.8, 48.2)]), bom=True))
    assert payload.startswith("\ufefffind_number,uuid,".encode())
    assert '"Ернеу, ""қызыл"" ангоб"'.encode() in payload
    assert b'"a,b"' in payload and '"бір\r\nекі"'.encode() in payload
    [row] = rows_of(OneChunk(crs.UTM_42N, [(data, 67.8, 48.2)]))
    assert row["object_name"] == 'Ернеу, "қызыл" ангоб'
    assert row["description"] == "бір\r\nекі"
    x, y = crs.project_point(crs.UTM_42N, 67.8, 48.2)
    assert row["crs"] == "EPSG:32642" and (row["x"], row["y"]) == (f"{x:.3f}", f"{y:.3f}")
    assert row["site_code"] == "" and row["photos"] == ""


def test_a_column_with_one_comma_is_quoted_whole_and_reads_back_the_same() -> None:
    notes = ["a,b", "Шаршы А-1", None, "c"]
    finds = []
    for note in notes:
        data = {**BASE, "position": {"lon": 67.8, "lat": 48.2}}
        if note is not None:
            data["notes"] = note
        finds.append((data, 67.8, 48.2))
    payload = b"".join(write_csv(OneChunk(crs.WGS84, finds))).decode()
    lines = payload.split("\r\n")
    # notes come just before the status
    before_status = [line.split(",synced,")[0] for line in lines[1:5]]
    assert before_status[0].endswith(',"a,b"') and before_status[1].endswith(',"Шаршы А-1"')
    assert before_status[2].endswith("a.nurlankyzy,,")  # empty photos and notes: unquoted
    assert before_status[3].endswith(',"c"')
    assert [row["notes"] for row in rows_of(OneChunk(crs.WGS84, finds))] == [
        "a,b", "Шаршы А-1", "", "c"
    ]  # fmt: skip


def test_a_text_cell_is_left_alone_when_it_is_plain() -> None:
    assert text_cell("Керамика") == "Керамика"


def test_a_cell_with_a_semicolon_is_quoted_for_spreadsheets_that_split_on_it() -> None:
    data = {**BASE, "object_name": "Р-1;=1+1", "position": {"lon": 1.0, "lat": 2.0}}
    text = b"".join(write_csv(OneChunk(crs.WGS84, [(data, 1.0, 2.0)]))).decode("utf-8")
    assert '"Р-1;\'=1+1"' in text
    # split on ';' outside quotes, as Kazakh and Russian Excel reads it: no cell starts a formula
    cells = next(csv.reader(io.StringIO(text.splitlines()[1]), delimiter=";"))
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
