"""Trench outlines on the review map: the same as every export draws."""

from __future__ import annotations

from shapely.geometry import shape

from field_server.domain.export_layers import trench_outline
from field_server.domain.survey_map import trench_outlines


def test_a_trench_is_drawn_as_the_exports_draw_it_even_from_one_find_or_a_line() -> None:
    finds = [
        ("BSK", "Р-1", 67.0, 48.0),
        ("BSK", "Р-1", 67.001, 48.0),
        ("BSK", "Р-1", 67.0, 48.001),
        ("BSK", "Р-1", 67.0002, 48.0002),  # inside
        ("BSK", "Р-2", 67.1, 48.1),  # one find
        ("BSK", "Р-3", 67.2, 48.2),
        ("BSK", "Р-3", 67.3, 48.3),  # a line
        ("BSK", None, 67.4, 48.4),  # no trench
    ]
    outlines = trench_outlines(finds)
    assert [(o.site_code, o.trench, o.finds) for o in outlines] == [
        ("BSK", "Р-1", 4), ("BSK", "Р-2", 1), ("BSK", "Р-3", 2)
    ]  # fmt: skip
    for outline in outlines:
        mine = [(lon, lat) for _, trench, lon, lat in finds if trench == outline.trench]
        expected = trench_outline([p[0] for p in mine], [p[1] for p in mine])
        polygon = shape(outline.geometry)
        assert polygon.geom_type == "Polygon" and polygon.equals_exact(expected, 1e-12)
        assert all(polygon.contains(shape({"type": "Point", "coordinates": p})) for p in mine)


def test_the_same_trench_name_in_two_sites_is_two_trenches() -> None:
    square = [(0.0, 0.0), (0.001, 0.0), (0.001, 0.001)]
    finds = [("A", "1", lon, lat) for lon, lat in square]
    finds += [("B", "1", lon + 1, lat) for lon, lat in square]
    assert [(o.site_code, o.trench) for o in trench_outlines(finds)] == [("A", "1"), ("B", "1")]


def test_no_finds_draw_no_trench() -> None:
    assert trench_outlines([]) == []
