"""The map figure's pure helpers: round scale-bar lengths, grid steps and labels, styles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from pyproj import Geod
from shapely.geometry import LineString, MultiPoint, Polygon, box

from field_server.adapters.map_figure import (
    SITE_EDGE,
    SITE_FILL,
    TRACK_COLOUR,
    TRENCH_EDGE,
    MapFigure,
    format_distance,
    format_grid_degrees,
    format_grid_metres,
    grid_step,
    legend_keys,
    material_style,
    metres_per_degree_of_longitude,
    round_length,
    scale_bar_length,
)

MATERIALS = Path(__file__).resolve().parents[2] / "schemas" / "materials.json"
NNBSP = "\u202f"


def is_one_two_five(value: float) -> bool:
    exponent = math.floor(math.log10(value) + 1e-9)
    return round(value / 10**exponent, 9) in (1.0, 2.0, 5.0)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (7.3, 5.0),
        (5.0, 5.0),
        (4.99, 2.0),
        (2.0, 2.0),
        (1999.0, 1000.0),
        (20_000.0, 20_000.0),
        (0.031, 0.02),
        (0.001, 0.001),
        (9.99e5, 5e5),
    ],
)
def test_a_round_length_is_the_largest_one_two_or_five_not_above_the_limit(
    limit: float, expected: float
) -> None:
    assert round_length(limit) == expected


@pytest.mark.parametrize("limit", [0.0, -3.0, math.nan, math.inf])
def test_a_round_length_needs_a_positive_finite_limit(limit: float) -> None:
    with pytest.raises(ValueError):
        round_length(limit)


@pytest.mark.parametrize(
    ("map_width_m", "bar_m"),
    [(60.0, 10.0), (100.0, 20.0), (1500.0, 200.0), (19_000.0, 2000.0), (80_000.0, 20_000.0)],
)
def test_the_scale_bar_is_a_round_length_of_at_most_a_quarter_of_the_map(
    map_width_m: float, bar_m: float
) -> None:
    assert scale_bar_length(map_width_m) == bar_m


def test_the_scale_bar_never_shrinks_below_a_tenth_of_the_map_at_any_width() -> None:
    for step in range(-20, 60):
        width = 10 ** (step / 10)
        length = scale_bar_length(width)
        assert is_one_two_five(length), (width, length)
        assert width / 10 < length <= width / 4 * (1 + 1e-12), (width, length)


def test_a_grid_step_gives_a_readable_number_of_round_lines() -> None:
    for step in range(-30, 70):
        span = 10 ** (step / 10)
        spacing = grid_step(span)
        assert is_one_two_five(spacing), (span, spacing)
        assert 3 <= span / spacing <= 10, (span, spacing)


@pytest.mark.parametrize(
    ("metres", "text"),
    [(500.0, "500 m"), (1000.0, "1 km"), (2000.0, "2 km"), (20_000.0, "20 km"), (0.5, "0.5 m")],
)
def test_distances_read_in_metres_or_kilometres(metres: float, text: str) -> None:
    assert format_distance(metres) == text


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        (5_337_000.0, 200.0, f"5{NNBSP}337{NNBSP}000"),
        (414_200.0, 200.0, f"414{NNBSP}200"),
        (12_414_250.0, 50.0, f"12{NNBSP}414{NNBSP}250"),
        (414_200.5, 0.5, f"414{NNBSP}200.5"),
        (950.0, 50.0, "950"),
        (-1000.0, 500.0, f"−1{NNBSP}000"),
    ],
)
def test_grid_metres_are_full_numbers_with_thousands_separated(
    value: float, step: float, text: str
) -> None:
    assert format_grid_metres(value, step) == text


@pytest.mark.parametrize(
    ("value", "step", "axis", "text"),
    [
        (67.845, 0.005, "x", "67.845° E"),
        (48.19, 0.01, "y", "48.19° N"),
        (-70.5, 0.5, "x", "70.5° W"),
        (-33.0, 1.0, "y", "33° S"),
        (48.0, 0.002, "y", "48.000° N"),
    ],
)
def test_grid_degrees_carry_their_hemisphere(
    value: float, step: float, axis: str, text: str
) -> None:
    assert format_grid_degrees(value, step, axis) == text  # type: ignore[arg-type]


@pytest.mark.parametrize("latitude", [0.0, 30.0, 48.1933, 60.0, 75.0])
def test_a_degree_of_longitude_has_the_length_of_its_parallel(latitude: float) -> None:
    # a geodesic of a thousandth of a degree follows the parallel to well under a millimetre
    _, _, metres = Geod(ellps="WGS84").inv(67.0, latitude, 67.001, latitude)
    assert metres_per_degree_of_longitude(latitude) == pytest.approx(metres * 1000, rel=1e-6)


def test_every_material_of_the_vocabulary_has_its_own_colour_and_marker() -> None:
    codes = [term["code"] for term in json.loads(MATERIALS.read_text("utf-8"))["materials"]]
    styles = [material_style(code) for code in codes]
    assert len(set(styles)) == len(codes)
    assert len({style.colour for style in styles}) == len(codes)


def test_codes_outside_the_vocabulary_take_distinct_spare_styles() -> None:
    spare = [material_style("unlisted", index) for index in range(20)]
    assert len(set(spare)) == 20
    assert not set(spare) & {material_style("ceramic"), material_style("bone")}


def figure_of(
    sites: list[Polygon], trenches: list[Polygon], tracks: list[LineString | MultiPoint]
) -> MapFigure:
    return MapFigure(
        title="Expedition ULY-2026",
        crs_label="WGS 84 / UTM zone 42N (EPSG:32642)",
        crs_is_geographic=False,
        sites=[("DMB", geometry) for geometry in sites],
        trenches=[("Р-1", geometry) for geometry in trenches],
        tracks=[("Day 1", geometry) for geometry in tracks],
        finds=[(414_142.9, 5_338_430.3, "ceramic")],
        material_labels={"ceramic": "Ceramic"},
        legend_title="Material",
        site_key="Site",
        trench_key="Trench",
        track_key="GPS track",
        note="",
    )


def test_the_legend_keys_look_like_the_sites_trenches_and_tracks_they_stand_for() -> None:
    track = LineString([(414_000, 5_338_000), (414_300, 5_338_600)])
    keys = legend_keys(figure_of([box(0, 0, 400, 300)], [box(10, 10, 20, 20)], [track]))
    assert [label for _, label in keys] == ["Site", "Trench", "GPS track"]
    (site, _), (trench, _), (line, _) = keys
    assert isinstance(site, Patch) and isinstance(trench, Patch) and isinstance(line, Line2D)
    assert site.get_facecolor() == to_rgba(SITE_FILL)
    assert site.get_edgecolor() == to_rgba(SITE_EDGE)
    assert trench.get_facecolor()[3] == 0  # an outline, unfilled like the trenches drawn
    assert trench.get_edgecolor() == to_rgba(TRENCH_EDGE)
    assert line.get_color() == TRACK_COLOUR and line.get_linestyle() == "--"


def test_the_legend_keys_only_what_the_map_draws() -> None:
    waypoints = MultiPoint([(414_000, 5_338_000), (414_300, 5_338_600)])
    assert legend_keys(figure_of([], [], [])) == []
    # waypoints are drawn by no track line, and an empty outline draws nothing
    keys = legend_keys(figure_of([Polygon()], [box(10, 10, 20, 20)], [waypoints]))
    assert [label for _, label in keys] == ["Trench"]
