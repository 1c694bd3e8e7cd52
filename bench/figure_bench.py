"""The map figure benchmark: 100,000 finds clustered in ten trenches of three sites around the
Dombauyl mausoleum, in UTM zone 42N, drawn as SVG, PNG and PDF against the 10 s target.

Run as ``.venv/bin/python bench/figure_bench.py`` (see bench/README.md). It times
``render_map_figure`` alone, from a ready MapFigure to the last byte written; selecting and
projecting the finds belong to the export. A missed target is a finding printed as ``NO``; the
script exits non-zero only when a figure comes out wrong (empty, or a PNG narrower than 1600 px).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

from PIL import Image
from pyproj import Transformer
from shapely.affinity import rotate
from shapely.geometry import LineString, Point, Polygon, box, shape
from sync_bench import MATERIAL_WEIGHTS  # its sibling in bench/: the same mix of materials

from field_server.adapters.map_figure import FORMATS, MapFigure, render_map_figure

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_surveys"
MATERIALS_FILE = ROOT / "schemas" / "materials.json"
TARGET_S = 10.0
MIN_PNG_WIDTH = 1600
TO_UTM_42N = Transformer.from_crs("EPSG:4326", "EPSG:32642", always_xy=True)

# Two more sites beside the mausoleum, as offsets in metres east and north of it with a radius:
# the settlement and the burial ground an excavation there would open trenches in.
NEARBY_SITES = (
    ("DMB-Q", "Домбауыл қонысы (поселение)", 620.0, 140.0, 160.0),
    ("DMB-K", "Домбауыл қорымы (могильник)", -480.0, -420.0, 120.0),
)
TRENCHES_PER_SITE = {"DMB": 4, "DMB-Q": 3, "DMB-K": 3}


def material_labels(language: str = "kk") -> dict[str, str]:
    vocabulary = json.loads(MATERIALS_FILE.read_text(encoding="utf-8"))["materials"]
    return {term["code"]: term["labels"][language] for term in vocabulary}


def dombauyl_boundary() -> Polygon:
    expeditions = json.loads((SAMPLES / "expeditions.json").read_text(encoding="utf-8"))
    site = next(
        s
        for expedition in expeditions["expeditions"]
        for s in expedition["sites"]
        if s["code"] == "DMB"
    )
    lonlat = shape(site["boundary"])
    return Polygon([TO_UTM_42N.transform(lon, lat) for lon, lat in lonlat.exterior.coords])


def irregular_site(rng: random.Random, cx: float, cy: float, radius: float) -> Polygon:
    corners = []
    for index in range(11):
        angle = 2 * math.pi * index / 11
        reach = radius * rng.uniform(0.75, 1.15)
        corners.append((cx + reach * math.cos(angle), cy + reach * math.sin(angle) * 0.8))
    return Polygon(corners)


def trench_in(rng: random.Random, site: Polygon) -> Polygon:
    """A rectangular trench, 6-20 by 4-10 m, turned a little, lying inside the site."""
    minx, miny, maxx, maxy = site.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        width, height = rng.uniform(6, 20), rng.uniform(4, 10)
        trench = rotate(box(x, y, x + width, y + height), rng.uniform(-20, 20), origin="center")
        if site.buffer(-5).contains(trench):
            return trench


def clustered_points(rng: random.Random, trench: Polygon, count: int) -> list[tuple[float, float]]:
    """Finds bunched around a few features (a hearth, a pit) of the trench, all inside it."""
    minx, miny, maxx, maxy = trench.bounds
    centres = [(rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(5)]
    points: list[tuple[float, float]] = []
    while len(points) < count:
        cx, cy = rng.choice(centres)
        x, y = rng.gauss(cx, 1.2), rng.gauss(cy, 1.2)
        if minx <= x <= maxx and miny <= y <= maxy and trench.contains(Point(x, y)):
            points.append((x, y))
    return points


def build_figure(finds: int, seed: int) -> MapFigure:
    rng = random.Random(seed)
    mausoleum = dombauyl_boundary()
    centre = mausoleum.centroid
    sites: list[tuple[str, str, Polygon]] = [("DMB", "Домбауыл кесенесі (мавзолей)", mausoleum)]
    for code, name, east, north, radius in NEARBY_SITES:
        sites.append((code, name, irregular_site(rng, centre.x + east, centre.y + north, radius)))
    trenches: list[tuple[str, Polygon]] = []
    for code, _, polygon in sites:
        for _ in range(TRENCHES_PER_SITE[code]):
            trenches.append((f"Р-{len(trenches) + 1}", trench_in(rng, polygon)))
    # uneven shares: some trenches are far richer than others
    shares = [rng.uniform(0.3, 1.7) for _ in trenches]
    counts = [int(finds * share / sum(shares)) for share in shares]
    counts[0] += finds - sum(counts)
    codes = list(MATERIAL_WEIGHTS)
    weights = list(MATERIAL_WEIGHTS.values())
    records: list[tuple[float, float, str]] = []
    for (_, trench), count in zip(trenches, counts, strict=True):
        materials = rng.choices(codes, weights, k=count)
        for (x, y), material in zip(clustered_points(rng, trench, count), materials, strict=True):
            records.append((x, y, material))
    walk = [polygon.representative_point() for _, _, polygon in sites]
    track = LineString([(p.x + rng.uniform(-30, 30), p.y + rng.uniform(-30, 30)) for p in walk])
    return MapFigure(
        title="Ұлытау археологиялық экспедициясы 2026 — Домбауыл",
        crs_label="WGS 84 / UTM zone 42N (EPSG:32642)",
        crs_is_geographic=False,
        sites=[(name, polygon) for _, name, polygon in sites],
        trenches=trenches,
        tracks=[("GPS 2026-07-08", track)],
        finds=records,
        material_labels=material_labels(),
        legend_title="Материал",
        site_key="Ескерткіш",
        trench_key="Қазба",
        track_key="GPS жолы",
        note="Recorded in WGS 84 and projected to UTM 42N on the same datum: no datum shift.",
    )


def check(fmt: str, payload: bytes) -> str:
    if not payload:
        raise SystemExit(f"the {fmt} figure is empty")
    if fmt == "png":
        with Image.open(io.BytesIO(payload)) as image:
            width, height = image.size
        if width < MIN_PNG_WIDTH:
            raise SystemExit(f"the PNG is {width} px wide, under {MIN_PNG_WIDTH}")
        return f"{width}×{height} px"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, help="also write the figures into this folder")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    figure = build_figure(args.finds, args.seed)
    print(
        f"{len(figure.finds):,} finds in {len(figure.trenches)} trenches of "
        f"{len(figure.sites)} sites (data built in {time.perf_counter() - started:.1f} s, "
        f"not timed); median of {args.repeat}"
    )
    print(f"{'format':<8}{'median s':>10}{'min s':>8}{'max s':>8}{'size':>11}  target   ok  note")
    for fmt in FORMATS:
        times = []
        payload = b""
        for _ in range(args.repeat):
            out = io.BytesIO()
            began = time.perf_counter()
            render_map_figure(figure, fmt, out)
            times.append(time.perf_counter() - began)
            payload = out.getvalue()
        note = check(fmt, payload)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"figure_bench.{fmt}").write_bytes(payload)
        median = statistics.median(times)
        print(
            f"{fmt:<8}{median:>10.2f}{min(times):>8.2f}{max(times):>8.2f}"
            f"{len(payload) / 1e6:>9.2f} MB  ≤ {TARGET_S:.0f} s  "
            f"{'yes' if median <= TARGET_S else 'NO':>3}  {note}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
