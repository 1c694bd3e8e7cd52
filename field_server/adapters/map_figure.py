"""The print-ready map figure of an expedition's finds: one matplotlib drawing written as SVG,
PNG or PDF, with sites, trenches, tracks, finds by material, a legend, a scale bar, a north
arrow and a grid labelled in the figure's CRS."""

from __future__ import annotations

import math
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.ticker import FixedLocator, FuncFormatter
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

FigureFormat = Literal["svg", "png", "pdf"]
FORMATS: tuple[FigureFormat, ...] = ("svg", "png", "pdf")

# A4 landscape; at 200 dpi the PNG is 2339 px wide, above the 1600 px a print needs.
PAGE_INCHES = (11.69, 8.27)
DPI = 200
MAP_BOX = (0.07, 0.11, 0.62, 0.78)  # left, bottom, width, height as fractions of the page
LEGEND_ANCHOR = (0.725, 0.89)
LEGEND_GAP = 0.02  # page fraction between the materials and the keys to the other features
_LEGEND_LOOK: Mapping[str, Any] = {
    "loc": "upper left",
    "fontsize": 9,
    "title_fontsize": 11,
    "frameon": False,
    "alignment": "left",
    "borderaxespad": 0,
    "handletextpad": 0.6,
}
FONT = "DejaVu Sans"  # ships with matplotlib and has every Kazakh and Russian letter
CREATOR = "Qazba"
# Above this many finds the points are drawn as one raster image inside the SVG and PDF:
# a hundred thousand vector markers would make files nobody can open; labels stay text.
RASTER_FROM = 5000
# What an empty selection says, a line in each language: the figure does not know its
# language, and the Kazakh and Russian legend titles are the same word.
NOTHING_MATCHED = ("Сүзгіге сәйкес олжа жоқ", "Находок по фильтру нет", "No finds match the filter")

# The WGS 84 ellipsoid (semi-major axis, first eccentricity squared): metres per degree of
# longitude on a map in degrees, for its scale bar.
_WGS84_A = 6_378_137.0
_WGS84_E2 = 0.00669437999014
_THIN_SPACE = "\u202f"  # thousands separator of Kazakh and Russian typography

_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "svg.fonttype": "none",  # labels stay <text>, searchable and editable
    "svg.hashsalt": "qazba",  # the same figure gives the same SVG ids
    "pdf.fonttype": 42,  # TrueType embedded whole: the PDF prints and copies Kazakh text
    "axes.unicode_minus": True,
}
# rc_context changes matplotlib's process-wide settings for its duration; two renders in two
# server threads would restore each other's settings midway, so renders take turns.
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class MapFigure:
    """What a map figure shows, every coordinate already in the figure's CRS."""

    title: str
    crs_label: str
    crs_is_geographic: bool
    sites: Sequence[tuple[str, BaseGeometry]]
    trenches: Sequence[tuple[str, BaseGeometry]]
    tracks: Sequence[tuple[str, BaseGeometry]]
    finds: Sequence[tuple[float, float, str]]
    material_labels: Mapping[str, str]
    legend_title: str
    # the legend's names for what the map draws besides the finds, in the figure's language
    site_key: str
    trench_key: str
    track_key: str
    note: str


@dataclass(frozen=True)
class MaterialStyle:
    colour: str
    marker: str


# Colours that suggest the material where a convention exists (terracotta ceramic, verdigris
# copper, gold), each with its own marker so the map also reads in grey print.
MATERIAL_STYLES: Mapping[str, MaterialStyle] = {
    "ceramic": MaterialStyle("#c0502e", "o"),
    "copper_alloy": MaterialStyle("#1f9e89", "^"),
    "iron": MaterialStyle("#5b3a29", "s"),
    "precious_metal": MaterialStyle("#e0a800", "*"),
    "stone": MaterialStyle("#7a7a7a", "D"),
    "flint": MaterialStyle("#27408b", "v"),
    "bone": MaterialStyle("#b8955a", "P"),
    "antler": MaterialStyle("#8c564b", "X"),
    "shell": MaterialStyle("#d95f9e", "h"),
    "leather": MaterialStyle("#a0522d", "<"),
    "wood": MaterialStyle("#4f8a2f", ">"),
    "textile": MaterialStyle("#8e5cb8", "p"),
    "glass": MaterialStyle("#16a6c9", "d"),
    "slag": MaterialStyle("#202020", "8"),
    "ore_mineral": MaterialStyle("#a6a81c", "H"),
    "paleontological": MaterialStyle("#7b2d6b", "o"),
    "charcoal": MaterialStyle("#000000", "s"),
    "soil_sample": MaterialStyle("#c9a36b", "D"),
    "other": MaterialStyle("#9e9e9e", "o"),
}
_SPARE_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf")
_SPARE_MARKERS = ("o", "s", "^", "D", "v", "P", "X")

SITE_EDGE = "#3b3b3b"
SITE_FILL = "#f3ecd9"
TRENCH_EDGE = "#1a1a1a"
TRACK_COLOUR = "#2b6cb0"
# one style for the map and its legend key, so the key always looks like what it stands for
SITE_STYLE: Mapping[str, Any] = {"facecolor": SITE_FILL, "edgecolor": SITE_EDGE, "linewidth": 1.2}
TRENCH_STYLE: Mapping[str, Any] = {"facecolor": "none", "edgecolor": TRENCH_EDGE, "linewidth": 0.9}
TRACK_STYLE: Mapping[str, Any] = {"color": TRACK_COLOUR, "linewidth": 1.0, "linestyle": (0, (4, 2))}
GRID_COLOUR = "#b5b5b5"
ARROW = "-|>,head_length=0.8,head_width=0.4"
NORTH_ARROW_BOX = (0.90, 0.79, 0.98, 0.98)  # axes fractions kept clear of labels


def render_map_figure(figure: MapFigure, fmt: FigureFormat, out: BinaryIO) -> None:
    """Draw ``figure`` and write it to ``out`` as SVG, PNG or PDF."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; one of {', '.join(FORMATS)}")
    with _RENDER_LOCK, matplotlib.rc_context(_RC):
        page = _draw(figure)
        page.savefig(out, format=fmt, dpi=DPI, metadata=_metadata(figure, fmt))


# -- pure helpers -----------------------------------------------------------------------------


def round_length(limit: float) -> float:
    """The largest 1, 2 or 5 times a power of ten that is not above ``limit`` (> 0)."""
    if not limit > 0 or not math.isfinite(limit):
        raise ValueError(f"a round length needs a positive finite limit, not {limit!r}")
    exponent = math.floor(math.log10(limit))
    for mantissa in (5, 2, 1):
        length = _decimal(mantissa, exponent)
        if length <= limit * (1 + 1e-12):
            return length
    # log10 rounding can put the limit just below 10**exponent
    return _decimal(5, exponent - 1)


def scale_bar_length(map_width_m: float) -> float:
    """The scale bar's length in metres: a round length of at most a quarter of the map's width,
    so it reads at a glance and leaves the map free."""
    return round_length(map_width_m / 4)


def grid_step(span: float, lines: int = 6) -> float:
    """A round grid spacing giving about ``lines`` grid lines (at least half as many) across
    ``span`` coordinate units."""
    return round_length(span / lines * 1.5)


def format_distance(metres: float) -> str:
    """A scale-bar length as people write it: ``500 m``, ``2 km``, ``0.5 m``."""
    if metres >= 1000:
        return f"{_plain_number(metres / 1000)} km"
    return f"{_plain_number(metres)} m"


def format_grid_metres(value: float, step: float) -> str:
    """An easting or northing in full, thousands separated: ``5 337 000``."""
    decimals = _decimals_for(step)
    text = f"{abs(value):,.{decimals}f}".replace(",", _THIN_SPACE)
    return f"−{text}" if value < 0 and round(value, decimals) != 0 else text


def format_grid_degrees(value: float, step: float, axis: Literal["x", "y"]) -> str:
    """A longitude or latitude in decimal degrees with its hemisphere: ``67.845° E``."""
    decimals = _decimals_for(step)
    hemisphere = ("E", "W") if axis == "x" else ("N", "S")
    return f"{abs(value):.{decimals}f}° {hemisphere[1] if value < 0 else hemisphere[0]}"


def metres_per_degree_of_longitude(latitude: float) -> float:
    """Length of one degree of longitude along a parallel of the WGS 84 ellipsoid."""
    phi = math.radians(latitude)
    radius = _WGS84_A * math.cos(phi) / math.sqrt(1 - _WGS84_E2 * math.sin(phi) ** 2)
    return math.pi / 180 * radius


def material_style(code: str, spare_index: int = 0) -> MaterialStyle:
    """The colour and marker of a material; a code outside the vocabulary takes a spare one."""
    style = MATERIAL_STYLES.get(code)
    if style is not None:
        return style
    return MaterialStyle(
        _SPARE_COLOURS[spare_index % len(_SPARE_COLOURS)],
        _SPARE_MARKERS[(spare_index // len(_SPARE_COLOURS)) % len(_SPARE_MARKERS)],
    )


def _decimal(mantissa: int, exponent: int) -> float:
    # 2 * 10**-3 is not exactly 0.002 in floating point; the string round trip is
    return float(f"{mantissa}e{exponent}")


def _decimals_for(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0


def _plain_number(value: float) -> str:
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return text.replace(",", _THIN_SPACE)


# -- drawing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    x0: float
    x1: float
    y0: float
    y1: float
    aspect: float  # displayed length of a y unit over that of an x unit
    metres_per_x_unit: float


def _draw(figure: MapFigure) -> Figure:
    page = Figure(figsize=PAGE_INCHES, dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(page)
    page.text(
        MAP_BOX[0],
        0.955,
        textwrap.fill(figure.title, 90),
        fontsize=16,
        fontweight="bold",
        ha="left",
        va="top",
    )
    footer = textwrap.fill(f"{figure.crs_label}. {figure.note}".strip(), 170)
    page.text(MAP_BOX[0], 0.015, footer, fontsize=7, ha="left", va="bottom", color="#333333")

    ax = page.add_axes(MAP_BOX)
    finds_by_material = _group_finds(figure.finds)
    view = _view(figure, finds_by_material)

    if view is None:
        _draw_empty_frame(ax)
    else:
        ax.set_xlim(view.x0, view.x1)
        ax.set_ylim(view.y0, view.y1)
        ax.set_aspect(view.aspect, adjustable="box")
        _draw_grid(ax, view, figure.crs_is_geographic)
        labels = [
            *_draw_sites(ax, figure.sites),
            *_draw_trenches(ax, figure.trenches),
            *_draw_tracks(ax, figure.tracks),
        ]
        _draw_finds(ax, finds_by_material)
        placer = _Placer(view)
        placer.reserve(_draw_scale_bar(ax, view))
        _draw_north_arrow(ax)
        placer.reserve_fraction(*NORTH_ARROW_BOX)
        _draw_labels(ax, placer, labels)
    if not figure.finds:
        ax.text(
            0.5,
            0.5,
            "\n".join(NOTHING_MATCHED),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=13,
            zorder=20,
            bbox={"boxstyle": "round,pad=0.6", "fc": "white", "ec": "#888888"},
        )
    _draw_legend(page, canvas.get_renderer(), figure, finds_by_material)
    return page


def _group_finds(
    finds: Sequence[tuple[float, float, str]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not finds:
        return {}
    xs = np.fromiter((f[0] for f in finds), dtype=float, count=len(finds))
    ys = np.fromiter((f[1] for f in finds), dtype=float, count=len(finds))
    codes = np.array([f[2] for f in finds], dtype=object)
    grouped: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for code in dict.fromkeys(codes.tolist()):
        mask = codes == code
        grouped[code] = (xs[mask], ys[mask])
    return grouped


def _view(
    figure: MapFigure, finds_by_material: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> _View | None:
    bounds = _data_bounds(figure, finds_by_material)
    if bounds is None:
        return None
    minx, miny, maxx, maxy = bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    if figure.crs_is_geographic:
        metres_per_x = metres_per_degree_of_longitude(cy)
        # degrees of latitude are longer than degrees of longitude by 1/cos(latitude)
        aspect = 1 / max(math.cos(math.radians(cy)), 0.01)
        least = 0.0005
    else:
        metres_per_x = 1.0
        aspect = 1.0
        least = 50.0
    width = max(maxx - minx, least)
    height = max(maxy - miny, least)
    pad = 0.08 * max(width, height * aspect)
    width += 2 * pad
    height += 2 * pad / aspect
    # widen one side so the map fills its box at the true aspect
    box_ratio = (MAP_BOX[3] * PAGE_INCHES[1]) / (MAP_BOX[2] * PAGE_INCHES[0])
    if height * aspect / width > box_ratio:
        width = height * aspect / box_ratio
    else:
        height = width * box_ratio / aspect
    return _View(
        cx - width / 2, cx + width / 2, cy - height / 2, cy + height / 2, aspect, metres_per_x
    )


def _data_bounds(
    figure: MapFigure, finds_by_material: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[float, float, float, float] | None:
    boxes: list[tuple[float, float, float, float]] = [
        geometry.bounds
        for _, geometry in (*figure.sites, *figure.trenches, *figure.tracks)
        if not geometry.is_empty
    ]
    for xs, ys in finds_by_material.values():
        ok = np.isfinite(xs) & np.isfinite(ys)
        if ok.any():
            boxes.append((xs[ok].min(), ys[ok].min(), xs[ok].max(), ys[ok].max()))
    boxes = [b for b in boxes if all(math.isfinite(v) for v in b)]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _draw_empty_frame(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#fafafa")


def _draw_grid(ax: Axes, view: _View, geographic: bool) -> None:
    x_step = grid_step(view.x1 - view.x0)
    y_step = grid_step(view.y1 - view.y0) if geographic else x_step
    ax.xaxis.set_major_locator(FixedLocator(_grid_values(view.x0, view.x1, x_step)))
    ax.yaxis.set_major_locator(FixedLocator(_grid_values(view.y0, view.y1, y_step)))
    if geographic:
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: format_grid_degrees(v, x_step, "x"))
        )
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _: format_grid_degrees(v, y_step, "y"))
        )
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_grid_metres(v, x_step)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_grid_metres(v, y_step)))
        ax.set_xlabel("E, m", fontsize=8)
        ax.set_ylabel("N, m", fontsize=8)
    ax.tick_params(labelsize=8, direction="in", length=4, top=True, right=True)
    for label in ax.get_yticklabels():
        label.set_rotation(90)
        label.set_verticalalignment("center")
    ax.grid(True, color=GRID_COLOUR, linewidth=0.5, linestyle="-")
    ax.set_axisbelow(True)


def _grid_values(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step)
    last = math.floor(high / step)
    return [_snap(n * step, step) for n in range(first, last + 1)]


def _snap(value: float, step: float) -> float:
    return round(value, _decimals_for(step) + 1)


def _polygons(geometry: BaseGeometry) -> Iterator[Polygon]:
    if isinstance(geometry, Polygon):
        if not geometry.is_empty:
            yield geometry
    elif isinstance(geometry, MultiPolygon) or hasattr(geometry, "geoms"):
        for part in geometry.geoms:  # type: ignore[attr-defined]
            yield from _polygons(part)


def _lines(geometry: BaseGeometry) -> Iterator[LineString]:
    if isinstance(geometry, LineString):
        if not geometry.is_empty:
            yield geometry
    elif isinstance(geometry, MultiLineString) or hasattr(geometry, "geoms"):
        for part in geometry.geoms:  # type: ignore[attr-defined]
            yield from _lines(part)


def _polygon_path(polygon: Polygon) -> Path:
    # exterior counter-clockwise, holes clockwise: the nonzero fill rule then leaves holes open
    oriented = orient(polygon, 1.0)
    rings = [oriented.exterior, *oriented.interiors]
    return Path.make_compound_path(
        *(Path(np.asarray(ring.coords)[:, :2], closed=True) for ring in rings)
    )


def _draw_sites(ax: Axes, sites: Sequence[tuple[str, BaseGeometry]]) -> list[_Label]:
    labels: list[_Label] = []
    for label, geometry in sites:
        parts = list(_polygons(geometry))
        for polygon in parts:
            ax.add_patch(PathPatch(_polygon_path(polygon), **SITE_STYLE, zorder=1))
        if parts and label:
            largest = max(parts, key=lambda p: p.area)
            labels.append(_Label(label, largest.bounds, SITE_LABEL))
    return labels


def _draw_trenches(ax: Axes, trenches: Sequence[tuple[str, BaseGeometry]]) -> list[_Label]:
    labels: list[_Label] = []
    for label, geometry in trenches:
        parts = list(_polygons(geometry))
        for polygon in parts:
            ax.add_patch(PathPatch(_polygon_path(polygon), **TRENCH_STYLE, zorder=3))
        if parts and label:
            labels.append(_Label(label, parts[0].bounds, TRENCH_LABEL))
    return labels


def _draw_tracks(ax: Axes, tracks: Sequence[tuple[str, BaseGeometry]]) -> list[_Label]:
    labels: list[_Label] = []
    for label, geometry in tracks:
        lines = list(_lines(geometry))
        for line in lines:
            coords = np.asarray(line.coords)
            ax.plot(coords[:, 0], coords[:, 1], **TRACK_STYLE, zorder=2)
        if lines and label:
            x, y = lines[0].coords[0][:2]
            labels.append(_Label(label, (x, y, x, y), TRACK_LABEL))
    return labels


@dataclass(frozen=True)
class _LabelStyle:
    fontsize: float
    bold: bool
    italic: bool
    colour: str
    zorder: int
    # where around its feature a label may go, in order of preference (see _Placer.spots)
    spots: tuple[str, ...]
    # left out when every spot is taken; sites and trenches are always named
    optional: bool = False


SITE_LABEL = _LabelStyle(10, True, False, SITE_EDGE, 12, ("N", "NE", "NW", "E", "W", "S", "in"))
TRENCH_LABEL = _LabelStyle(8, False, False, TRENCH_EDGE, 11, ("NE", "NW", "SE", "SW", "E", "W"))
# the day's tracks often start at the same camp: one name there is enough
TRACK_LABEL = _LabelStyle(7, False, True, TRACK_COLOUR, 10, ("SE", "SW", "NE", "NW"), True)


@dataclass(frozen=True)
class _Label:
    text: str
    feature: tuple[float, float, float, float]  # the bounds of what it names
    style: _LabelStyle


class _Placer:
    """Puts each label at the first spot around its feature that stays inside the map and clear
    of the labels, scale bar and arrow already there; matplotlib would let labels pile up."""

    def __init__(self, view: _View) -> None:
        self._view = view
        # the map box is fitted to the data at the true aspect, so a point has a fixed size in
        # coordinate units along each axis
        self._x_per_point = (view.x1 - view.x0) / (MAP_BOX[2] * PAGE_INCHES[0] * 72)
        self._y_per_point = (view.y1 - view.y0) / (MAP_BOX[3] * PAGE_INCHES[1] * 72)
        self._taken: list[tuple[float, float, float, float]] = []

    def reserve(self, box: tuple[float, float, float, float]) -> None:
        self._taken.append(box)

    def reserve_fraction(self, left: float, bottom: float, right: float, top: float) -> None:
        v = self._view
        width, height = v.x1 - v.x0, v.y1 - v.y0
        self._taken.append(
            (v.x0 + left * width, v.y0 + bottom * height, v.x0 + right * width, v.y0 + top * height)
        )

    def place(self, label: _Label) -> tuple[float, float, str, str] | None:
        style = label.style
        lines = label.text.splitlines() or [""]
        # DejaVu Sans averages about 0.6 em a letter (bold 0.7); erring wide costs nothing
        em = 0.7 if style.bold else 0.62
        width = (max(len(line) for line in lines) * em + 0.6) * style.fontsize * self._x_per_point
        height = (len(lines) * 1.25 + 0.4) * style.fontsize * self._y_per_point
        first_inside: tuple[tuple[float, float, str, str], tuple[float, ...]] | None = None
        for spot in self.spots(label.feature, style.spots):
            box = _text_box(spot, width, height)
            if not self._inside(box):
                continue
            if not any(_overlap(box, taken) for taken in self._taken):
                self._taken.append(box)
                return spot
            first_inside = first_inside or (spot, box)
        if style.optional:
            return None
        if first_inside is not None:
            return first_inside[0]
        return next(iter(self.spots(label.feature, style.spots)))

    def spots(
        self, bounds: tuple[float, float, float, float], names: Sequence[str]
    ) -> Iterator[tuple[float, float, str, str]]:
        minx, miny, maxx, maxy = bounds
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        gx, gy = 3 * self._x_per_point, 3 * self._y_per_point
        table = {
            "N": (cx, maxy + gy, "center", "bottom"),
            "NE": (maxx + gx, maxy + gy, "left", "bottom"),
            "NW": (minx - gx, maxy + gy, "right", "bottom"),
            "E": (maxx + gx, cy, "left", "center"),
            "W": (minx - gx, cy, "right", "center"),
            "S": (cx, miny - gy, "center", "top"),
            "SE": (maxx + gx, miny - gy, "left", "top"),
            "SW": (minx - gx, miny - gy, "right", "top"),
            "in": (cx, maxy - gy, "center", "top"),
        }
        for name in names:
            yield table[name]

    def _inside(self, box: tuple[float, float, float, float]) -> bool:
        v = self._view
        return box[0] >= v.x0 and box[1] >= v.y0 and box[2] <= v.x1 and box[3] <= v.y1


def _text_box(
    spot: tuple[float, float, str, str], width: float, height: float
) -> tuple[float, float, float, float]:
    x, y, ha, va = spot
    left = {"left": x, "right": x - width, "center": x - width / 2}[ha]
    bottom = {"bottom": y, "top": y - height, "center": y - height / 2}[va]
    return left, bottom, left + width, bottom + height


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _draw_labels(ax: Axes, placer: _Placer, labels: Sequence[_Label]) -> None:
    for label in labels:
        spot = placer.place(label)
        if spot is None:
            continue
        x, y, ha, va = spot
        style = label.style
        ax.text(
            x,
            y,
            label.text,
            ha=ha,
            va=va,
            fontsize=style.fontsize,
            fontweight="bold" if style.bold else "normal",
            fontstyle="italic" if style.italic else "normal",
            color=style.colour,
            zorder=style.zorder,
            clip_on=True,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )


def _draw_finds(ax: Axes, finds_by_material: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    total = sum(len(xs) for xs, _ in finds_by_material.values())
    rasterized = total > RASTER_FROM
    size = 5.0 if total <= 1000 else 3.5 if total <= 10_000 else 2.4
    spare = _spare_indices(finds_by_material)
    # the commonest material first, so rare ones stay visible on top
    ordered = sorted(finds_by_material.items(), key=lambda item: -len(item[1][0]))
    for code, (xs, ys) in ordered:
        style = material_style(code, spare.get(code, 0))
        ax.plot(
            xs,
            ys,
            linestyle="none",
            marker=style.marker,
            markersize=size,
            markerfacecolor=style.colour,
            markeredgecolor="white" if total <= 1000 else style.colour,
            markeredgewidth=0.4 if total <= 1000 else 0.0,
            rasterized=rasterized,
            zorder=5,
        )


def _spare_indices(finds_by_material: Mapping[str, object]) -> dict[str, int]:
    unknown = sorted(code for code in finds_by_material if code not in MATERIAL_STYLES)
    return {code: index for index, code in enumerate(unknown)}


def _legend_order(figure: MapFigure, counts: Mapping[str, int]) -> list[str]:
    known = [code for code in figure.material_labels if code in counts]
    return known + sorted(code for code in counts if code not in figure.material_labels)


def _draw_legend(
    page: Figure,
    renderer: RendererAgg,
    figure: MapFigure,
    finds_by_material: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    counts = {code: len(xs) for code, (xs, _) in finds_by_material.items()}
    spare = _spare_indices(finds_by_material)
    handles: list[Line2D] = []
    labels: list[str] = []
    for code in _legend_order(figure, counts):
        style = material_style(code, spare.get(code, 0))
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=style.marker,
                markersize=7,
                markerfacecolor=style.colour,
                markeredgecolor=style.colour,
            )
        )
        label = figure.material_labels.get(code, code)
        labels.append(f"{label} — {_plain_number(counts[code])}")
    total = sum(counts.values())
    title = f"{figure.legend_title} ({_plain_number(total)})"
    materials: Artist
    if not handles:
        materials = page.text(
            *LEGEND_ANCHOR, title, fontsize=11, fontweight="bold", ha="left", va="top"
        )
    else:
        legend = page.legend(
            handles, labels, title=title, bbox_to_anchor=LEGEND_ANCHOR, **_LEGEND_LOOK
        )
        legend.get_title().set_fontweight("bold")
        materials = legend
    keys = legend_keys(figure)
    if keys:
        # the keys go under the materials, however many those are: measure where they end
        bottom = materials.get_window_extent(renderer).transformed(page.transFigure.inverted()).y0
        key_handles, key_labels = zip(*keys, strict=True)
        page.legend(
            key_handles,
            key_labels,
            bbox_to_anchor=(LEGEND_ANCHOR[0], bottom - LEGEND_GAP),
            **_LEGEND_LOOK,
        )


def legend_keys(figure: MapFigure) -> list[tuple[Artist, str]]:
    """Legend keys to the sites, trenches and tracks, each drawn as the map draws it and only
    when the map shows at least one: a key to nothing on the map would only mislead."""
    keys: list[tuple[Artist, str]] = []
    if any(True for _, geometry in figure.sites for _ in _polygons(geometry)):
        keys.append((Patch(**SITE_STYLE), figure.site_key))
    if any(True for _, geometry in figure.trenches for _ in _polygons(geometry)):
        keys.append((Patch(**TRENCH_STYLE), figure.trench_key))
    if any(True for _, geometry in figure.tracks for _ in _lines(geometry)):
        keys.append((Line2D([], [], **TRACK_STYLE), figure.track_key))
    return keys


def _draw_scale_bar(ax: Axes, view: _View) -> tuple[float, float, float, float]:
    """Draw the bar in the map's lower left corner; return the box it covers."""
    width_units = view.x1 - view.x0
    height_units = view.y1 - view.y0
    length_m = scale_bar_length(width_units * view.metres_per_x_unit)
    length = length_m / view.metres_per_x_unit
    x = view.x0 + 0.04 * width_units
    y = view.y0 + 0.06 * height_units
    bar_height = 0.012 * height_units
    backing = (
        x - 0.015 * width_units,
        y - 0.035 * height_units,
        x + length + 0.055 * width_units,
        y + 0.05 * height_units,
    )
    ax.add_patch(
        Rectangle(
            backing[:2],
            backing[2] - backing[0],
            backing[3] - backing[1],
            facecolor="white",
            edgecolor="none",
            alpha=0.85,
            zorder=14,
        )
    )
    half = length / 2
    for index, fill in enumerate(("black", "white")):
        ax.add_patch(
            Rectangle(
                (x + index * half, y),
                half,
                bar_height,
                facecolor=fill,
                edgecolor="black",
                linewidth=0.8,
                zorder=15,
            )
        )
    unit, divisor = ("km", 1000.0) if length_m >= 1000 else ("m", 1.0)
    ticks = ((0.0, "0"), (half, _plain_number(length_m / 2 / divisor)))
    for offset, text in (*ticks, (length, f"{_plain_number(length_m / divisor)} {unit}")):
        ax.text(
            x + offset,
            y + bar_height * 1.6,
            text,
            ha="center",
            va="bottom",
            fontsize=8,
            zorder=16,
        )
    return backing


def _draw_north_arrow(ax: Axes) -> None:
    # Grid north and true north differ by the meridian convergence: about 1° at Dombauyl in
    # zone 42N, at most about 2.3° at the zone's edges. A plain arrow is honest at that size.
    ax.annotate(
        "",
        xy=(0.94, 0.91),
        xytext=(0.94, 0.81),
        xycoords="axes fraction",
        textcoords="axes fraction",
        arrowprops={"arrowstyle": ARROW, "color": "black", "linewidth": 1.6},
        zorder=16,
    )
    ax.text(
        0.94,
        0.915,
        "N",
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontsize=12,
        fontweight="bold",
        zorder=16,
    )


def _metadata(figure: MapFigure, fmt: FigureFormat) -> dict[str, str | None]:
    about = f"{figure.crs_label}. {figure.note}".strip()
    if fmt == "pdf":
        return {"Title": figure.title, "Subject": about, "Creator": CREATOR, "CreationDate": None}
    if fmt == "svg":
        return {"Title": figure.title, "Description": about, "Creator": CREATOR, "Date": None}
    return {"Title": figure.title, "Description": about, "Software": CREATOR}
