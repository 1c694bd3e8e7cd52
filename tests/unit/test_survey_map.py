"""Trench outlines drawn from the finds in each trench."""

from __future__ import annotations

from shapely.geometry import shape

from field_server.domain.survey_map import trench_outlines


def test_a_trench_is_the_hull_of_its_finds_and_lines_or_points_draw_nothing() -> None:
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
    [outline] = trench_outlines(finds)
    assert (outline.site_code, outline.trench, outline.finds) == ("BSK", "Р-1", 4)
    polygon = shape(outline.geometry)
    assert polygon.geom_type == "Polygon"
    assert len(polygon.exterior.coords) == 4  # a triangle, closed


def test_the_same_trench_name_in_two_sites_is_two_trenches() -> None:
    square = [(0.0, 0.0), (0.001, 0.0), (0.001, 0.001)]
    finds = [("A", "1", lon, lat) for lon, lat in square]
    finds += [("B", "1", lon + 1, lat) for lon, lat in square]
    assert [(o.site_code, o.trench) for o in trench_outlines(finds)] == [("A", "1"), ("B", "1")]
