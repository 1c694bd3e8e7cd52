"""The map figure drawn from the sample Dombauyl survey and read back: the SVG with xml.etree,
the PNG with Pillow, the PDF with pypdf."""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence

import pypdf
import pytest
import shapely
from PIL import Image
from pyproj import Geod, Transformer
from shapely.geometry import LineString, MultiPoint, Polygon, shape

from field_core.geo.gpx import read_gpx
from field_server.adapters.map_figure import (
    DPI,
    MAP_BOX,
    MATERIAL_STYLES,
    NOTHING_MATCHED,
    PAGE_INCHES,
    SITE_FILL,
    MapFigure,
    render_map_figure,
)
from tests.samples import SAMPLE_DIR, expeditions, surveys

SVG = "{http://www.w3.org/2000/svg}"
NNBSP = "\u202f"
UTM_42N = "WGS 84 / UTM zone 42N (EPSG:32642)"
NOTE = "WGS 84 → UTM 42N: a projection on one datum, no datum shift"
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32642", always_xy=True)
KAZAKH_TITLE = "Ұлытау археологиялық экспедициясы 2026 — Домбауыл"
RUSSIAN_TITLE = "Экспедиция ULY-2026 — Домбауыл"
# the legend's keys to sites, trenches and tracks, as the export service words them
LEGEND_KEYS = {
    "kk": ("Ескерткіш", "Қазба", "GPS жолы"),
    "ru": ("Памятник", "Раскоп", "GPS-трек"),
}


def material_labels(language: str) -> dict[str, str]:
    path = SAMPLE_DIR.parent / "schemas" / "materials.json"
    terms = json.loads(path.read_text(encoding="utf-8"))["materials"]
    return {term["code"]: term["labels"][language] for term in terms}


def sample_figure(language: str = "kk", *, projected: bool = True) -> MapFigure:
    """The Dombauyl survey of ULY-2026 as the export would hand it over: its site boundaries,
    trench outlines from the finds (hull buffered by 1 m, the envelope under three points),
    the GPS tracks of the survey and every find, in UTM 42N or in degrees."""
    project = TO_UTM.transform if projected else (lambda x, y: (x, y))
    expedition = next(e for e in expeditions() if e["code"] == "ULY-2026")
    survey = next(s for s in surveys() if s.folder == "uly-2026-dombauyl")
    sites = [
        (site["name"], shapely.transform(shape(site["boundary"]), project, interleaved=False))
        for site in expedition["sites"]
        if site["code"] == "DMB"
    ]
    finds = [
        (
            *project(f["data"]["position"]["lon"], f["data"]["position"]["lat"]),
            f["data"]["material"],
        )
        for f in survey.finds
        if f["data"]["site_code"] == "DMB"
    ]
    by_trench: dict[str, list[tuple[float, float]]] = {}
    for record in survey.finds:
        data = record["data"]
        if data.get("trench"):
            position = data["position"]
            by_trench.setdefault(data["trench"], []).append(
                project(position["lon"], position["lat"])
            )
    buffer = 1.0 if projected else 1.0 / 75_000
    trenches = [(name, outline(points, buffer)) for name, points in sorted(by_trench.items())]
    gpx = read_gpx(SAMPLE_DIR / survey.folder / "dombauyl-2026-gps.gpx")
    tracks = [
        (track.name or "", LineString([project(p[0], p[1]) for p in track.points]))
        for track in gpx.tracks
        if track.kind == "track"
    ]
    return MapFigure(
        title=KAZAKH_TITLE if language == "kk" else RUSSIAN_TITLE,
        crs_label=UTM_42N if projected else "WGS 84 (EPSG:4326)",
        crs_is_geographic=not projected,
        sites=sites,
        trenches=trenches,
        tracks=tracks,
        finds=finds,
        material_labels=material_labels(language),
        legend_title="Материал",
        site_key=LEGEND_KEYS[language][0],
        trench_key=LEGEND_KEYS[language][1],
        track_key=LEGEND_KEYS[language][2],
        note=NOTE,
    )


def outline(points: Sequence[tuple[float, float]], buffer: float) -> Polygon:
    cloud = MultiPoint(points)
    if len(points) < 3:
        return cloud.envelope.buffer(buffer, join_style="mitre")
    return cloud.convex_hull.buffer(buffer)


def render(figure: MapFigure, fmt: str) -> bytes:
    out = io.BytesIO()
    render_map_figure(figure, fmt, out)  # type: ignore[arg-type]
    return out.getvalue()


def svg_texts(payload: bytes) -> list[ET.Element]:
    return list(ET.fromstring(payload).iter(f"{SVG}text"))


def text_of(element: ET.Element) -> str:
    return "".join(element.itertext())


def grid_numbers(texts: Sequence[str]) -> list[int]:
    pattern = re.compile(rf"^\d{{1,3}}(?:{NNBSP}\d{{3}})+$")
    return [int(t.replace(NNBSP, "")) for t in texts if pattern.match(t)]


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_the_svg_keeps_title_sites_trenches_and_legend_as_text(language: str) -> None:
    figure = sample_figure(language)
    texts = {text_of(element) for element in svg_texts(render(figure, "svg"))}

    assert figure.title in texts
    assert "Домбауыл кесенесі (мавзолей Домбаул)" in texts
    assert {"Р-1", "Р-2"} <= texts
    assert "2026-07-08 ДМБ" in texts
    counts = Counter(code for _, _, code in figure.finds)
    assert f"Материал ({sum(counts.values())})" in texts
    for code, count in counts.items():
        assert f"{figure.material_labels[code]} — {count}" in texts
    labels = material_labels(language)
    assert ("Керамика — " + str(counts["ceramic"])) in texts
    if language == "kk":
        assert f"{labels['copper_alloy']} — {counts['copper_alloy']}" in texts  # Мыс қорытпасы
    else:
        assert f"Медный сплав — {counts['copper_alloy']}" in texts
    assert set(LEGEND_KEYS[language]) <= texts
    assert f"{UTM_42N}. {NOTE}" in texts


def test_the_legend_keys_to_sites_trenches_and_tracks_stand_under_the_materials() -> None:
    figure = sample_figure("kk")
    elements = svg_texts(render(figure, "svg"))
    counts = Counter(code for _, _, code in figure.finds)
    entries = {f"{figure.material_labels[code]} — {n}" for code, n in counts.items()}
    materials = [e for e in elements if text_of(e) in entries]
    keys = [e for e in elements if text_of(e) in LEGEND_KEYS["kk"]]
    page_height = PAGE_INCHES[1] * 72  # SVG units are points

    assert len(materials) == len(counts)
    assert [text_of(e) for e in keys] == list(LEGEND_KEYS["kk"])
    key_ys = [float(e.get("y", "nan")) for e in keys]
    assert max(float(e.get("y", "nan")) for e in materials) < min(key_ys)
    assert key_ys == sorted(key_ys) and max(key_ys) < page_height
    # one column: the keys' labels start where the materials' do
    assert {e.get("x") for e in keys} == {e.get("x") for e in materials}


@pytest.mark.parametrize("left_out", ["sites", "trenches", "tracks"])
def test_the_legend_has_a_key_only_for_what_the_map_shows(left_out: str) -> None:
    figure = sample_figure("ru")
    figure = MapFigure(**{**figure.__dict__, left_out: []})
    texts = {text_of(e) for e in svg_texts(render(figure, "svg"))}
    site, trench, track = LEGEND_KEYS["ru"]
    shown = {"sites": site, "trenches": trench, "tracks": track}

    assert shown.pop(left_out) not in texts
    assert set(shown.values()) <= texts


def test_the_svg_grid_is_labelled_in_round_metres_around_the_finds() -> None:
    figure = sample_figure()
    texts = [text_of(element) for element in svg_texts(render(figure, "svg"))]
    numbers = grid_numbers(texts)
    eastings = [n for n in numbers if 100_000 <= n < 1_000_000]
    northings = [n for n in numbers if 5_000_000 <= n < 6_000_000]
    xs = [x for x, _, _ in figure.finds]
    ys = [y for _, y, _ in figure.finds]

    assert len(eastings) >= 3 and len(northings) >= 3
    steps = {b - a for a, b in itertools.pairwise(eastings)}
    steps |= {b - a for a, b in itertools.pairwise(northings)}
    assert len(steps) == 1 and steps.pop() in {10, 20, 50, 100, 200}
    assert min(eastings) < min(xs) and max(xs) < max(eastings) + 200
    assert min(northings) < min(ys) and max(ys) < max(northings) + 200
    assert "E, m" in texts and "N, m" in texts


def scale_bar_metres(elements: Sequence[ET.Element]) -> tuple[float, float]:
    """The bar's stated length and its drawn length in SVG units, from its end labels."""
    by_text = {text_of(e): e for e in elements}
    stated = next(t for t in by_text if re.fullmatch(r"\d+ (m|km)", t))
    value, unit = stated.split()
    metres = float(value) * (1000 if unit == "km" else 1)
    drawn = float(by_text[stated].get("x", "nan")) - float(by_text["0"].get("x", "nan"))
    return metres, drawn


def x_of_grid_labels(
    elements: Sequence[ET.Element], parse: re.Pattern[str]
) -> list[tuple[float, float]]:
    found = []
    for element in elements:
        match = parse.fullmatch(text_of(element))
        if match and element.get("x") is not None:
            found.append((float(match.group(1).replace(NNBSP, "")), float(element.get("x", 0))))
    return found


def test_the_scale_bar_is_drawn_to_the_length_it_states_on_a_projected_map() -> None:
    elements = svg_texts(render(sample_figure(), "svg"))
    metres, drawn = scale_bar_metres(elements)
    eastings = x_of_grid_labels(elements, re.compile(rf"(\d{{3}}{NNBSP}\d{{3}})"))
    (e0, x0), (e1, x1) = eastings[0], eastings[-1]
    units_per_metre = (x1 - x0) / (e1 - e0)

    assert drawn / units_per_metre == pytest.approx(metres, rel=0.01)
    # the map is a few hundred metres across, so is a quarter of it at most
    assert metres in {20, 50, 100}


def test_the_scale_bar_is_drawn_to_its_length_on_a_map_in_degrees() -> None:
    figure = sample_figure(projected=False)
    elements = svg_texts(render(figure, "svg"))
    texts = [text_of(e) for e in elements]
    metres, drawn = scale_bar_metres(elements)
    longitudes = x_of_grid_labels(elements, re.compile(r"(\d+\.\d+)° E"))
    (l0, x0), (l1, x1) = longitudes[0], longitudes[-1]
    latitude = figure.finds[0][1]
    _, _, span = Geod(ellps="WGS84").inv(l0, latitude, l1, latitude)
    units_per_metre = (x1 - x0) / span

    assert drawn / units_per_metre == pytest.approx(metres, rel=0.01)
    assert any(re.fullmatch(r"48\.\d+° N", t) for t in texts)


def test_the_png_is_print_wide_and_shows_the_finds() -> None:
    figure = sample_figure()
    with Image.open(io.BytesIO(render(figure, "png"))) as image:
        assert image.format == "PNG"
        assert image.width >= 1600
        pixels = image.convert("RGB")
    colours = Counter({colour: n for n, colour in pixels.getcolors(pixels.width * pixels.height)})
    non_white = sum(n for colour, n in colours.items() if colour != (255, 255, 255))
    ceramic = tuple(int(MATERIAL_STYLES["ceramic"].colour[i : i + 2], 16) for i in (1, 3, 5))

    assert len(colours) > 50
    assert non_white > 0.02 * pixels.width * pixels.height
    assert colours[ceramic] > 0  # the ceramic finds' own colour is on the map


def test_the_pdf_is_one_page_with_the_kazakh_title_as_text_and_its_metadata() -> None:
    reader = pypdf.PdfReader(io.BytesIO(render(sample_figure("kk"), "pdf")))

    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert KAZAKH_TITLE in text
    assert "Мыс қорытпасы" in text
    metadata = reader.metadata
    assert metadata is not None
    assert metadata.title == KAZAKH_TITLE
    assert metadata.subject == f"{UTM_42N}. {NOTE}"
    assert metadata.creator == "Qazba"
    fonts = {
        str(font["/BaseFont"])
        for font in reader.pages[0]["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert any("DejaVuSans" in font for font in fonts)


def empty(figure: MapFigure, *, keep_sites: bool) -> MapFigure:
    return MapFigure(
        title=figure.title,
        crs_label=figure.crs_label,
        crs_is_geographic=figure.crs_is_geographic,
        sites=figure.sites if keep_sites else [],
        trenches=[],
        tracks=[],
        finds=[],
        material_labels=figure.material_labels,
        legend_title=figure.legend_title,
        site_key=figure.site_key,
        trench_key=figure.trench_key,
        track_key=figure.track_key,
        note=figure.note,
    )


@pytest.mark.parametrize("keep_sites", [True, False], ids=["sites-only", "nothing-at-all"])
def test_a_selection_without_finds_still_gives_valid_figures_that_say_so(
    keep_sites: bool,
) -> None:
    figure = empty(sample_figure("ru"), keep_sites=keep_sites)

    svg = render(figure, "svg")
    texts = {text_of(e) for e in svg_texts(svg)}
    assert set(NOTHING_MATCHED) <= texts
    assert figure.title in texts
    assert "Материал (0)" in texts
    site, trench, track = LEGEND_KEYS["ru"]
    assert (site in texts) is keep_sites
    assert trench not in texts and track not in texts
    with Image.open(io.BytesIO(render(figure, "png"))) as image:
        assert image.width >= 1600
    reader = pypdf.PdfReader(io.BytesIO(render(figure, "pdf")))
    assert len(reader.pages) == 1 and "Находок по фильтру нет" in reader.pages[0].extract_text()


def many_finds(figure: MapFigure, count: int) -> MapFigure:
    x0, y0, _ = figure.finds[0]
    codes = list(MATERIAL_STYLES)
    finds = [
        (x0 + (i % 97) * 0.3, y0 + (i // 97 % 89) * 0.3, codes[i % len(codes)])
        for i in range(count)
    ]
    return MapFigure(**{**figure.__dict__, "finds": finds})


def test_a_large_point_set_is_one_raster_image_in_the_svg_while_labels_stay_text() -> None:
    svg = render(many_finds(sample_figure(), 20_000), "svg")
    root = ET.fromstring(svg)

    assert len(list(root.iter(f"{SVG}image"))) == 1
    assert len(list(root.iter(f"{SVG}use"))) < 100  # no marker drawn one by one
    assert len(svg) < 2_000_000
    assert KAZAKH_TITLE in {text_of(e) for e in svg_texts(svg)}


def test_a_small_point_set_stays_vector() -> None:
    root = ET.fromstring(render(sample_figure(), "svg"))

    assert list(root.iter(f"{SVG}image")) == []
    assert len(list(root.iter(f"{SVG}use"))) >= len(sample_figure().finds)


def test_a_material_outside_the_vocabulary_is_listed_by_its_code() -> None:
    figure = sample_figure()
    x, y, _ = figure.finds[0]
    odd = MapFigure(**{**figure.__dict__, "finds": [*figure.finds, (x, y, "meteorite")]})

    assert "meteorite — 1" in {text_of(e) for e in svg_texts(render(odd, "svg"))}


def test_figures_drawn_in_parallel_threads_all_keep_their_text() -> None:
    figure = sample_figure()
    results: list[bytes] = []

    def draw(fmt: str) -> None:
        results.append(render(figure, fmt))

    threads = [threading.Thread(target=draw, args=(fmt,)) for fmt in ("svg", "pdf") * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    svgs = [r for r in results if r.lstrip().startswith(b"<?xml")]
    assert len(results) == 6 and len(svgs) == 3
    for svg in svgs:
        assert KAZAKH_TITLE in {text_of(e) for e in svg_texts(svg)}


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown figure format"):
        render_map_figure(sample_figure(), "tiff", io.BytesIO())  # type: ignore[arg-type]


def test_a_hole_in_a_site_is_left_unfilled() -> None:
    # a 400 × 300 m enclosure around a 200 × 100 m courtyard, the finds in two corners so the
    # map is centred on the courtyard
    x, y, _ = sample_figure().finds[0]
    enclosure = Polygon(
        [(x, y), (x + 400, y), (x + 400, y + 300), (x, y + 300)],
        [[(x + 100, y + 100), (x + 300, y + 100), (x + 300, y + 200), (x + 100, y + 200)]],
    )
    figure = MapFigure(
        **{
            **sample_figure().__dict__,
            "sites": [("Қоршау", enclosure)],
            "trenches": [],
            "tracks": [],
            "finds": [(x + 20, y + 20, "bone"), (x + 380, y + 280, "bone")],
        }
    )
    elements = svg_texts(render(figure, "svg"))
    eastings = x_of_grid_labels(elements, re.compile(rf"(\d{{3}}{NNBSP}\d{{3}})"))
    (e0, x0), (e1, x1) = eastings[0], eastings[-1]
    pixels_per_metre = (x1 - x0) / (e1 - e0) * DPI / 72  # SVG units are points
    with Image.open(io.BytesIO(render(figure, "png"))) as image:
        pixels = image.convert("RGB")
    left, bottom, width, height = MAP_BOX
    centre = (pixels.width * (left + width / 2), pixels.height * (1 - bottom - height / 2))

    def colour_at(metres_east: float) -> tuple[int, int, int]:
        cx, cy = round(centre[0] + metres_east * pixels_per_metre), round(centre[1])
        around = Counter(
            pixels.getpixel((cx + dx, cy + dy)) for dx in range(-3, 4) for dy in range(-3, 4)
        )
        return around.most_common(1)[0][0]  # type: ignore[return-value]

    site_fill = tuple(int(SITE_FILL[i : i + 2], 16) for i in (1, 3, 5))
    assert "Қоршау" in {text_of(e) for e in elements}
    assert colour_at(-175) == site_fill  # the enclosure's band
    assert colour_at(-40) == (255, 255, 255)  # the courtyard
    assert colour_at(-240) == (255, 255, 255)  # outside
