"""Export benchmark: 100,000 finds of one expedition in each format (DESIGN §7, issue 5).

Prints the median of several runs per format against its target (wall clock, and the CPU
seconds of this process, which a busy machine inflates less), and the peak memory of each export
measured in a child process (its own high-water mark, see peak_memory). Usage:

    .venv/bin/python bench/export_bench.py [--finds 100000] [--repeat 3] [--database-url URL]

With ``--database-url postgresql://postgres@127.0.0.1:5432/postgres`` (a server URL whose user
may create databases) the finds go into a fresh PostgreSQL database, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # peak_memory and sync_bench, its siblings

from peak_memory import peak_mb  # noqa: E402

from field_core.content_hash import canonical_json, text_hash  # noqa: E402
from field_server.adapters.database import make_engine  # noqa: E402
from field_server.adapters.schema_migration import upgrade_database  # noqa: E402
from field_server.adapters.unit_of_work import UnitOfWorkFactory  # noqa: E402
from field_server.domain.export_layers import sheet_row  # noqa: E402
from field_server.services import expeditions  # noqa: E402
from field_server.services.exports import plan_export  # noqa: E402
from tests import samples  # noqa: E402

TARGETS = {
    "geojson": 2.0,
    "csv": 2.0,
    "gpkg": 5.0,
    "kml": None,
    "gpx": None,
    "svg": 10.0,
    "png": 10.0,
    "pdf": 10.0,
}
STREAMED = ("geojson", "csv", "kml", "gpx")
PEAK_TARGET_MB = 300


def fill(url: str, count: int) -> None:
    upgrade_database(make_engine(url))
    uow = UnitOfWorkFactory(make_engine(url))
    sample = next(e for e in samples.expeditions() if e["code"] == "ULY-2026")
    expeditions.create_expedition(
        uow, None, expeditions.ExpeditionSpec("ULY-2026", sample["title"], 2026, None, 5.0)
    )
    for site in sample["sites"]:
        expeditions.add_site(uow, None, "ULY-2026", site["code"], site["name"], site["boundary"])
    templates = [f["data"] for s in samples.surveys() if s.expedition_code == "ULY-2026"
                 for f in s.finds]  # fmt: skip
    survey = samples.survey_of("ULY-2026").survey
    now = datetime.now(UTC)
    with uow(write=True) as unit:
        expedition = unit.expeditions.by_code("ULY-2026")
        assert expedition is not None
        rows, sheets = [], []
        text = canonical_json(survey["data"])
        rows.append(_row(survey["uuid"], "survey", expedition.id, survey["uuid"], None, text,
                         unit.changes.take(), now))  # fmt: skip
        for n in range(count):
            data = dict(templates[n % len(templates)])
            data["find_number"] = f"B-{n:06d}"
            data["survey_uuid"] = survey["uuid"]
            position = dict(data["position"])
            position["lon"] += (n % 100) * 1e-6
            position["lat"] += (n // 100 % 100) * 1e-6
            data["position"] = position
            number, text = data["find_number"], canonical_json(data)
            seq = unit.changes.take()
            uid = str(uuid.uuid4())
            rows.append(_row(uid, "find", expedition.id, survey["uuid"], number, text, seq, now))
            sheets.append(sheet_row(uid, data))
            if len(rows) >= 5000:
                unit.records.insert_records(rows)
                unit.sheets.save(sheets)
                rows, sheets = [], []
        unit.records.insert_records(rows)
        unit.sheets.save(sheets)
        unit.commit()


def _row(uid: str, kind: str, expedition_id: int, survey: str, number: str | None, text: str,
         seq: int, now: datetime) -> dict:  # fmt: skip
    return {
        "uuid": uid, "type": kind, "expedition_id": expedition_id, "survey_uuid": survey,
        "find_number": number, "photo_sha256": None, "server_rev": 1, "data": text,
        "content_hash": text_hash(text), "seq": seq, "status": "synced" if kind == "find" else None,
        "register_number": None, "merged_into": None, "flags": "[]", "open_conflicts": 0,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def run_once(url: str, fmt: str, crs: str | None, scratch: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one export written to /dev/null."""
    uow = UnitOfWorkFactory(make_engine(url))
    query = {"crs": crs} if crs else {}
    started, cpu = time.perf_counter(), time.process_time()
    plan = plan_export(uow, None, "ULY-2026", fmt, query)
    with open(os.devnull, "wb") as out:
        plan.write_to(out, scratch)
    return time.perf_counter() - started, time.process_time() - cpu


def child(url: str, fmt: str, scratch: Path) -> None:
    run_once(url, fmt, None, scratch)
    print(json.dumps({"peak_mb": peak_mb()}))


@contextmanager
def database(server_url: str | None, scratch: Path) -> Iterator[str]:
    """A fresh empty database: SQLite in ``scratch``, or one created on a PostgreSQL server."""
    if server_url is None:
        yield f"sqlite:///{scratch}/bench.sqlite3"
        return
    # imported here: the child that measures a format's peak memory loads none of it
    from sync_bench import postgres_database

    with postgres_database(server_url, f"qazba_export_bench_{secrets.token_hex(4)}") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--formats", default=",".join(TARGETS), help="comma-separated")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return
    formats = [f for f in args.formats.split(",") if f]
    unknown = sorted(set(formats) - set(TARGETS))
    if unknown:
        parser.error(f"unknown formats {unknown}; formats: {', '.join(TARGETS)}")
    with tempfile.TemporaryDirectory(prefix="qazba-export-bench-") as folder:
        scratch = Path(folder)
        with database(args.database_url, scratch) as url:
            backend = make_engine(url).dialect.name
            started = time.perf_counter()
            fill(url, args.finds)
            print(
                f"{args.finds:,} finds stored in {time.perf_counter() - started:.1f} s ({backend})"
            )
            print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
            print(
                f"{'format':8} {'median s':>9} {'cpu s':>6} {'target s':>9}  ok   peak MB (child)"
            )
            for fmt in formats:
                runs = [run_once(url, fmt, None, scratch) for _ in range(args.repeat)]
                done = subprocess.run(
                    [sys.executable, __file__, "--child", url, fmt, str(scratch)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                peak = json.loads(done.stdout)["peak_mb"]
                target = TARGETS[fmt]
                median = statistics.median(wall for wall, _ in runs)
                cpu = statistics.median(cpu for _, cpu in runs)
                ok = "yes" if target is None or median <= target else "NO"
                peak_ok = (" ok" if peak <= PEAK_TARGET_MB else " NO") if fmt in STREAMED else ""
                shown = f"{target:>9.1f}" if target else f"{'-':>9}"
                print(f"{fmt:8} {median:9.2f} {cpu:6.2f} {shown}  {ok:4} {peak:7.0f}{peak_ok}")
            print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
