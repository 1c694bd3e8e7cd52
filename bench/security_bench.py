"""Security benchmark: finds flooding one find number (audit finding 2), and a find page
naming huge images (finding 1).

A real ``field-server serve`` (SQLite, and PostgreSQL when it is reachable) takes ``--finds``
finds that all carry one find number, in pushes of ``--batch``, as a device with a number
typed into every record (or a hostile one) would send them. Printed: each push's time and
answer size as the number's group grows (the first push, when no find carried the number
yet, against the last), the candidates the queue then holds, and the median time and size
of one page of the queue in the API and of the review UI's duplicates page, read
``--repeat`` times, with the server's peak RSS.

Before the fix the audit measured, for finds of one number: 400 finds 3.6 s and a 30.9 MB
answer, 700 finds 104,650 open candidates, and the UI's duplicates page 47 s and 517 MB.

The find page: ``--photos`` different PNGs of ``--side`` × ``--side`` pixels (the audit's 20 of
9400 × 9400) uploaded by tus, one find naming them all; printed, the review UI's page of that
find the first time and after (median of ``--repeat``), and the health check's answer while
eight views of the page run at once. The audit measured 16.1 s a view and 60.7 s for the health
check behind eight views.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from sync_bench import (  # noqa: E402
    PASSWORD,
    PG_ADMIN_URL,
    BenchError,
    Client,
    FindFactory,
    Server,
    encode,
    field_server,
    fresh_store,
    load_sites,
    running_server,
)

REVIEWER = "bench.reviewer"
SURVEY = "5d8a7c2e-0f41-4b6a-9e3d-2c7b1a9f4e60"
NUMBER = "ULY26-000042"


@contextmanager
def museum(
    backend: str, args: argparse.Namespace, work: Path
) -> Iterator[tuple[Server, Client, FindFactory]]:
    """A real server on a fresh store with a reviewer, a recorder's device signed in, and the
    finds that device records."""
    sites = load_sites()
    with fresh_store(backend, work, sites, args.pg_admin_url) as env:
        field_server(
            env, "create-user", REVIEWER, "--role", "reviewer", "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        with running_server(env, work) as server:
            device = Client(server.port)
            device.login()
            yield server, device, FindFactory(args.seed, SURVEY, sites)


def flood(
    backend: str, args: argparse.Namespace, work: Path, *, one_number: bool = True
) -> dict[str, Any]:
    """The pushes and the pages; with ``one_number`` False every find keeps a number of its
    own, the same pushes otherwise: what the expedition's growth alone costs a push."""
    with museum(backend, args, work) as (server, device, factory):
        device.json("POST", "/api/v1/sync/push", _batch([factory.survey()], "s"))
        finds = []
        for n in range(args.finds):
            record = factory.find(n + 1)
            if one_number:
                record["data"]["find_number"] = NUMBER
            finds.append(record)
        pushes: list[tuple[float, int, int]] = []  # (seconds, answer bytes, finds)
        for start in range(0, len(finds), args.batch):
            part = finds[start : start + args.batch]
            body = encode(_batch(part, f"flood-{start}"))
            began = time.perf_counter()
            status, payload = device.call("POST", "/api/v1/sync/push", body)
            pushes.append((time.perf_counter() - began, len(payload), len(part)))
            if status != 200:
                raise BenchError(f"push: {status} {payload[:300]!r}")
        reviewer = Client(server.port)
        reviewer.token = reviewer.json(
            "POST",
            "/api/v1/auth/token",
            {"username": REVIEWER, "password": PASSWORD, "device_name": "bench"},
            expect=201,
        )["token"]
        queue_path = "/api/v1/expeditions/ULY-2026/duplicates?limit=50"
        api_times, api_sizes = [], []
        page: dict[str, Any] = {}
        for _ in range(args.repeat):
            began = time.perf_counter()
            status, payload = reviewer.call("GET", queue_path)
            api_times.append(time.perf_counter() - began)
            api_sizes.append(len(payload))
            page = json.loads(payload)
        open_candidates = reviewer.json("POST", "/api/v1/expeditions/ULY-2026/duplicates/detect")[
            "open"
        ]
        ui_times, ui_sizes = _ui_pages(server.port, args.repeat)
        peak_mb = max(server.rss.peak_kb, server.rss.hwm_kb) / 1024
    groups = [c for c in page["candidates"] if c["find_number"] == NUMBER]
    return {
        "backend": backend,
        "pushes": pushes,
        "open": open_candidates,
        "group_finds": len(groups[0]["find_uuids"]) if groups else 0,
        "api_ms": statistics.median(api_times) * 1000,
        "api_kb": statistics.median(api_sizes) / 1024,
        "ui_ms": statistics.median(ui_times) * 1000,
        "ui_kb": statistics.median(ui_sizes) / 1024,
        "peak_mb": peak_mb,
    }


def _batch(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    batch_id = f"00000000-0000-4000-8000-{abs(hash(name)) % 10**12:012d}"
    return {"device_id": "bench-flood", "batch_id": batch_id, "records": records}


def _ui_pages(port: int, repeat: int) -> tuple[list[float], list[int]]:
    base = f"http://127.0.0.1:{port}"
    session = _ui_session(base)
    times, sizes = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        answer = session.get(f"{base}/expeditions/ULY-2026/duplicates")
        times.append(time.perf_counter() - began)
        sizes.append(len(answer.content))
        if answer.status_code != 200:
            raise BenchError(f"the duplicates page: {answer.status_code}")
    return times, sizes


def huge_png(side: int, seed: int) -> bytes:
    """A PNG of side × side pixels that compresses to a few hundred kB, each one different."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (side, side), 200)
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)
    for _ in range(400):  # a few lines, so that the files differ and are not all one colour
        x, y = rng.randrange(side), rng.randrange(side)
        draw.line((x, y, x + rng.randrange(-side // 4, side // 4), y + 40), fill=rng.randrange(90))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _tus_upload(port: int, token: str, data: bytes) -> str:
    base = f"http://127.0.0.1:{port}/api/v1/uploads"
    digest = hashlib.sha256(data).hexdigest()
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    created = requests.post(
        base,
        headers={
            **headers,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": "sha256 " + base64.b64encode(digest.encode()).decode(),
        },
        timeout=300,
    )
    if created.status_code != 201:
        raise BenchError(f"tus creation: {created.status_code} {created.text[:300]}")
    sent = requests.patch(
        created.headers["Location"],
        data=data,
        headers={
            **headers,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        timeout=600,
    )
    if sent.status_code != 204:
        raise BenchError(f"tus PATCH: {sent.status_code} {sent.text[:300]}")
    return digest


def _ui_session(base: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise BenchError("the login page has no CSRF token")
    signed = session.post(
        f"{base}/login",
        data={"username": REVIEWER, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    if signed.status_code != 200:
        raise BenchError(f"signing in to the review UI: {signed.status_code}")
    return session


def find_page(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """A find naming ``--photos`` huge PNGs: its page in the review UI, and the health check
    while eight views of it run at once."""
    images = [huge_png(args.side, seed) for seed in range(args.photos)]
    with museum(backend, args, work) as (server, device, factory):
        assert device.token is not None
        digests = [_tus_upload(server.port, device.token, data) for data in images]
        find = factory.find(1)
        find["data"]["photos"] = digests
        device.json("POST", "/api/v1/sync/push", _batch([factory.survey(), find], "page"))
        base = f"http://127.0.0.1:{server.port}"
        session = _ui_session(base)
        page = f"{base}/finds/{find['uuid']}"
        views = []
        for _ in range(args.repeat + 1):
            began = time.perf_counter()
            answer = session.get(page)
            views.append(time.perf_counter() - began)
            if answer.status_code != 200:
                raise BenchError(f"the find page: {answer.status_code}")
        with ThreadPoolExecutor(8) as pool:
            running = [pool.submit(session.get, page) for _ in range(8)]
            began = time.perf_counter()
            health = requests.get(f"{base}/api/v1/health", timeout=120)
            health_s = time.perf_counter() - began
            eight = [r.result().status_code for r in running]
        if health.status_code != 200 or eight != [200] * 8:
            raise BenchError(f"health {health.status_code}, views {eight}")
        peak_mb = max(server.rss.peak_kb, server.rss.hwm_kb) / 1024
    return {
        "backend": backend,
        "png_kb": statistics.median(len(i) for i in images) / 1024,
        "first_ms": views[0] * 1000,
        "again_ms": statistics.median(views[1:]) * 1000,
        "health_ms": health_s * 1000,
        "peak_mb": peak_mb,
    }


def report_find_page(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{result['backend']}: a find naming {args.photos} PNGs of {args.side} x {args.side} "
        f"(median {result['png_kb']:.0f} kB each)"
    )
    print(f"  find page, first view {result['first_ms']:8.1f} ms")
    print(f"  find page, again      {result['again_ms']:8.1f} ms  (median of {args.repeat})")
    print(f"  health check while 8 views run  {result['health_ms']:8.1f} ms")
    print(f"  server peak RSS       {result['peak_mb']:8.0f} MB")


def report(result: dict[str, Any], control: dict[str, Any], args: argparse.Namespace) -> None:
    pushes = result["pushes"]
    first, last = pushes[0], pushes[-1]
    total = sum(p[0] for p in pushes)
    median = statistics.median(p[0] for p in pushes)
    print(f"\n{result['backend']}: {args.finds} finds of one number, pushes of {args.batch}")
    print(f"  all pushes            {total:8.2f} s  (median push {median * 1000:.0f} ms)")
    for name, (seconds, size, count) in (("first push", first), ("last push", last)):
        print(
            f"  {name:<20}  {seconds * 1000:8.0f} ms  {size / 1024:7.1f} kB answer  "
            f"({size / count:.0f} B a find)"
        )
    own = control["pushes"]
    print(
        f"  the same, own numbers {sum(p[0] for p in own):8.2f} s  (first push "
        f"{own[0][0] * 1000:.0f} ms, last {own[-1][0] * 1000:.0f} ms: the expedition's growth)"
    )
    print(f"  open candidates       {result['open']:8d}  (one group of {result['group_finds']})")
    print(
        f"  queue page, API       {result['api_ms']:8.1f} ms  {result['api_kb']:7.1f} kB"
        f"  (median of {args.repeat})"
    )
    print(
        f"  duplicates page, UI   {result['ui_ms']:8.1f} ms  {result['ui_kb']:7.1f} kB"
        f"  (median of {args.repeat})"
    )
    print(f"  server peak RSS       {result['peak_mb']:8.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=700)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="reads of each page (median)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--photos", type=int, default=20, help="huge PNGs a find names (0: skip)")
    parser.add_argument("--side", type=int, default=9400, help="their width and height")
    parser.add_argument(
        "--only", choices=("flood", "find-page"), default=None, help="run one part only"
    )
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory(prefix="security-bench-") as folder:
        for backend in backends:
            try:
                if args.only != "find-page":
                    control = flood(backend, args, Path(folder), one_number=False)
                    report(flood(backend, args, Path(folder)), control, args)
                if args.only != "flood" and args.photos:
                    report_find_page(find_page(backend, args, Path(folder)), args)
            except BenchError as error:
                print(f"\n{backend}: {error}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
