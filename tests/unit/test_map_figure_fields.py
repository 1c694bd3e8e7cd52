"""The map figure's content, built from an export source without the renderer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from shapely.geometry import Polygon

from field_core.geo import crs
from field_server.domain.export_layers import (
    ExportHeader,
    FindChunk,
    SiteFeature,
    TrackFeature,
    TrenchCollector,
    TrenchFeature,
    find_row,
    track_line,
)
from field_server.services.exports import figure_fields, figure_note, figure_title

# Dombauyl, with UTM 42N coordinates computed by hand (see tests/unit/test_crs.py)
LON, LAT, X, Y = 67.8447, 48.1933, 414142.8854, 5338430.3396


class FakeSource:
    def __init__(self) -> None:
        self.header = ExportHeader(
            "ULY-2026",
            "Ұлытау археологиялық экспедициясы 2026",
            crs.crs_info(crs.UTM_42N),
            datetime(2026, 8, 1, tzinfo=UTC),
            {"site": "DMB"},
        )
        self.collector = TrenchCollector()
        self.finds = [
            {"material": m, "trench": "Р-1", "site_code": "DMB",
             "position": {"lon": LON + dx, "lat": LAT}}
            for m, dx in (("ceramic", 0.0), ("slag", 0.00001), ("ceramic", 0.00002))
        ]  # fmt: skip

    def sites(self) -> list[SiteFeature]:
        square = Polygon([(LON, LAT), (LON + 0.001, LAT), (LON + 0.001, LAT + 0.001)])
        return [SiteFeature("DMB", "Домбауыл", square, crs.project_geometry(crs.UTM_42N, square))]

    def find_chunks(self, names: object = ()) -> Iterator[FindChunk]:
        # every column, whichever were asked for: the figure must pick its own
        rows = [
            (*find_row({"uuid": str(i), "status": "synced"}, d),
             d["position"]["lon"], d["position"]["lat"])
            for i, d in enumerate(self.finds)
        ]  # fmt: skip
        chunk = FindChunk.of_rows(rows, crs.UTM_42N)
        self.collector.add(chunk.site_codes, chunk.trenches, chunk.lons, chunk.lats)
        yield chunk

    def trenches(self) -> list[TrenchFeature]:
        return self.collector.trenches(crs.UTM_42N)

    def tracks(self) -> Iterator[TrackFeature]:
        points = [[LON, LAT], [LON + 0.001, LAT + 0.001]]
        line = track_line(points)
        assert line is not None
        yield TrackFeature("t", "track", "Күн 1", "a.gpx", points,
                           crs.project_geometry(crs.UTM_42N, line))  # fmt: skip


def test_the_figure_holds_projected_finds_sites_trenches_and_tracks() -> None:
    fields = figure_fields(FakeSource(), "kk")
    assert fields["crs_label"] == "WGS 84 / UTM zone 42N (EPSG:32642)"
    assert fields["crs_is_geographic"] is False
    assert fields["title"] == "Экспедиция ULY-2026 — Домбауыл"
    x, y, material = fields["finds"][0]
    assert (x, y, material) == (pytest.approx(X, abs=0.001), pytest.approx(Y, abs=0.001), "ceramic")
    assert [f[2] for f in fields["finds"]] == ["ceramic", "slag", "ceramic"]
    [(code, site)] = fields["sites"]
    assert code == "DMB" and site.exterior.coords[0] == pytest.approx((X, Y), abs=0.001)
    [(trench, outline)] = fields["trenches"]
    # three finds along a parallel: the hull is a line, grown by 1 m on every side (the UTM grid
    # turns about 0.9° from true north here, so the line tilts by 2 cm over its 1.5 m)
    assert trench == "Р-1" and outline.geom_type == "Polygon"
    assert outline.bounds[1] == pytest.approx(Y - 1.0, abs=0.05)
    assert outline.bounds[3] == pytest.approx(Y + 1.0, abs=0.05)
    assert outline.bounds[0] == pytest.approx(X - 1.0, abs=0.01)
    [(name, track)] = fields["tracks"]
    assert name == "Күн 1" and track.coords[0] == pytest.approx((X, Y), abs=0.001)
    assert fields["material_labels"] == {"ceramic": "Керамика", "slag": "Қож"}
    assert fields["legend_title"] == "Материал"
    # the figure prints the CRS label itself: the note only says how WGS 84 got there
    assert fields["note"] == "WGS 84 координаталары датумды түрлендірусіз."


@pytest.mark.parametrize(
    ("lang", "keys"),
    [
        ("kk", ("Материал", "Ескерткіш", "Қазба", "GPS жолы")),
        ("ru", ("Материал", "Памятник", "Раскоп", "GPS-трек")),
        ("en", ("Material", "Site", "Trench", "GPS track")),
    ],
)
def test_the_legend_is_worded_in_the_figure_language(lang: str, keys: tuple[str, ...]) -> None:
    fields = figure_fields(FakeSource(), lang)
    assert (
        fields["legend_title"], fields["site_key"], fields["trench_key"], fields["track_key"]
    ) == keys  # fmt: skip


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("kk", "WGS 84-тен түрлендіру: Pulkovo 1942 to WGS 84 (16) (EPSG:15865), "
               "мәлімделген дәлдігі 4,5 м."),
        ("ru", "Пересчёт из WGS 84: Pulkovo 1942 to WGS 84 (16) (EPSG:15865), "
               "заявленная точность 4,5 м."),
        ("en", "From WGS 84 by Pulkovo 1942 to WGS 84 (16) (EPSG:15865), stated accuracy 4.5 m."),
    ],
)  # fmt: skip
def test_the_note_names_the_datum_transformation_in_the_figure_language(
    lang: str, note: str
) -> None:
    assert figure_note(crs.crs_info(crs.PULKOVO_GK_ZONE_12).shift, lang) == note


@pytest.mark.parametrize(
    ("title", "site", "lang", "expected"),
    [
        ("Ұлытау археологиялық экспедициясы 2026", None, "kk",
         "Ұлытау археологиялық экспедициясы 2026 (ULY-2026)"),
        ("Ulytau survey 2026", None, "en", "Expedition ULY-2026 — Ulytau survey 2026"),
        ("Ұлытау 2026", None, "ru", "Экспедиция ULY-2026 — Ұлытау 2026"),
        ("Ұлытау археологиялық экспедициясы 2026", "Домбауыл кесенесі", "ru",
         "Экспедиция ULY-2026 — Домбауыл кесенесі"),
    ],
)  # fmt: skip
def test_the_title_names_the_expedition_once_and_the_site_when_one_is_drawn(
    title: str, site: str | None, lang: str, expected: str
) -> None:
    assert figure_title("ULY-2026", title, site, lang) == expected
