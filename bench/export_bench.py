"""Export benchmark: 100,000 finds of one expedition in each format (DESIGN §7, issue 5).

Prints the median of several runs per format against its target, and the peak memory of a
streaming export measured in a child process. Usage:

    .venv/bin/python bench/export_bench.py [--finds 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from field_core.content_hash import canonical_json, text_hash  # noqa: E402
from field_server.adapters.database import make_engine  # noqa: E402
from field_server.adapters.schema_migration import upgrade_database  # noqa: E402
from field_server.adapters.unit_of_work import UnitOfWorkFactory  # noqa: E402
from field_server.services import expeditions  # noqa: E402
from field_server.services.exports import plan_export  # noqa: E402
from tests import samples  # noqa: E402

TARGETS = {"geojson": 2.0, "csv": 2.0, "gpkg": 5.0, "kml": None, "gpx": None, "png": 10.0}
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
        rows = []
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
            rows.append(
                _row(
                    str(uuid.uuid4()), "find", expedition.id, survey["uuid"], number, text, seq, now
                )
            )
            if len(rows) >= 5000:
                unit.records.insert_records(rows)
                rows = []
        unit.records.insert_records(rows)
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


def run_once(url: str, fmt: str, crs: str | None, scratch: Path) -> float:
    uow = UnitOfWorkFactory(make_engine(url))
    query = {"crs": crs} if crs else {}
    started = time.perf_counter()
    plan = plan_export(uow, None, "ULY-2026", fmt, query)
    with open(os.devnull, "wb") as out:
        plan.write_to(out, scratch)
    return time.perf_counter() - started


def child(url: str, fmt: str, scratch: Path) -> None:
    seconds = run_once(url, fmt, None, scratch)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory(prefix="qazba-export-bench-") as folder:
        scratch = Path(folder)
        url = f"sqlite:///{scratch}/bench.sqlite3"
        started = time.perf_counter()
        fill(url, args.finds)
        print(f"{args.finds:,} finds stored in {time.perf_counter() - started:.1f} s (SQLite)")
        try:
            import field_server.adapters.map_figure  # noqa: F401
        except ImportError:
            formats = [f for f in TARGETS if f != "png"]
        else:
            formats = list(TARGETS)
        print(f"{'format':8} {'median s':>9} {'target s':>9}  ok   peak MB (child)")
        for fmt in formats:
            times = [run_once(url, fmt, None, scratch) for _ in range(args.repeat)]
            done = subprocess.run(
                [sys.executable, __file__, "--child", url, fmt, str(scratch)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            peak = json.loads(done.stdout)["peak_mb"]
            target = TARGETS[fmt]
            median = statistics.median(times)
            ok = "yes" if target is None or median <= target else "NO"
            peak_ok = "" if fmt in ("gpkg", "png") else (" ok" if peak <= PEAK_TARGET_MB else " NO")
            shown = f"{target:>9.1f}" if target else f"{'-':>9}"
            print(f"{fmt:8} {median:9.2f} {shown}  {ok:4} {peak:7.0f}{peak_ok}")


if __name__ == "__main__":
    main()
