"""field-client import csv: total-station exports become finds in WGS 84; bad files, nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from field_client.csv_import import MAX_CELL_CHARS, parse_columns
from field_client.errors import ClientError
from tests.unit.field_client.conftest import run

COLUMNS = "find_number=No,lon=E,lat=N,elevation_m=H,material=Mat,object_name=Name"
# UTM 42N (EPSG:32642) near the Dombauyl mausoleum, as a total station exports it (semicolons,
# decimal commas, a BOM), and its WGS 84 position
TOTAL_STATION = (
    "\ufeffNo;E;N;H;Mat;Name\n"
    'ULY26-0101;564000,5;5338000,25;430,1;ceramic;=HYPERLINK("http://x")\n'
    "ULY26-0102;564010;5338010;;bone;сүйек\n"
)


@pytest.fixture
def survey(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "survey", "start", "--expedition", "ULY-2026", "--title", "T")
    assert code == 0, err


def import_csv(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[int, str, str]:
    return run(
        capsys,
        "import",
        "csv",
        str(path),
        "--epsg",
        "32642",
        "--columns",
        COLUMNS,
        "--recorded-by",
        "d.oralbay",
        *extra,
    )


def finds(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, _ = run(capsys, "find", "list", "--json")
    assert code == 0
    return list(json.loads(out))


def test_a_total_station_export_becomes_finds_in_wgs84_with_formulas_kept_as_text(
    survey: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ts.csv"
    path.write_text(TOTAL_STATION, encoding="utf-8")
    code, _, err = import_csv(capsys, path, "--method", "total_station")
    assert code == 0, err
    first, second = sorted(finds(capsys), key=lambda f: f["find_number"])
    assert first["object_name"] == '=HYPERLINK("http://x")'
    assert second["object_name"] == "сүйек"
    assert first["position"]["lon"] == pytest.approx(69.861171, abs=1e-6)
    assert first["position"]["lat"] == pytest.approx(48.192010, abs=1e-6)
    assert first["position"]["elevation_m"] == 430.1
    assert first["position"]["method"] == "total_station"
    code, _, err = import_csv(capsys, path)
    assert code == 0 and err.count("already here; skipped") == 2
    assert len(finds(capsys)) == 2


def test_a_russian_excel_export_needs_its_encoding_named(
    survey: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(TOTAL_STATION.replace("сүйек", "кость").encode("cp1251", "ignore"))
    code, _, err = import_csv(capsys, path)
    assert code != 0 and "--encoding cp1251" in err and err.count("\n") == 1
    assert finds(capsys) == []
    code, _, err = import_csv(capsys, path, "--encoding", "cp1251")
    assert code == 0, err
    assert {f["object_name"] for f in finds(capsys)} >= {"кость"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (TOTAL_STATION + "ULY26-0103;abc;5338010;;bone;x\n", "line 4: lon 'abc' is not a number"),
        (TOTAL_STATION + "ULY26-0104;564010;5338010;;marble;x\n", "line 4"),
        ("No;E;N\n1;2;3\n", "has no column 'H'"),
        ("No;E;N;H;Mat;Name\nA;" + "x" * (MAX_CELL_CHARS + 1) + ";1;1;a;b\n", "field limit"),
        ("", "is empty"),
        ("\x00\x01PNG", "not a text file"),
    ],
    ids=["not a number", "bad material", "missing column", "huge cell", "empty", "binary"],
)
def test_a_bad_file_fails_in_one_line_and_saves_nothing(
    content: str,
    reason: str,
    survey: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    code, out, err = import_csv(capsys, path)
    assert code != 0 and out == "" and err.count("\n") == 1, err
    assert err.startswith("field-client: bad.csv") and reason in err, err
    assert finds(capsys) == []


def test_an_unknown_epsg_code_is_named(
    survey: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ts.csv"
    path.write_text(TOTAL_STATION, encoding="utf-8")
    code, _, err = run(capsys, "import", "csv", str(path), "--epsg", "99999", "--columns", COLUMNS)
    assert code != 0 and "EPSG:99999" in err and err.count("\n") == 1


def test_the_column_mapping_names_known_fields_and_a_position() -> None:
    assert parse_columns("find_number=No, lon=E ,lat=N") == {
        "find_number": "No",
        "lon": "E",
        "lat": "N",
    }
    for bad in ("lon=E", "lon=E,lat=N,colour=C", "lon=E,lat"):
        with pytest.raises(ClientError):
            parse_columns(bad)
