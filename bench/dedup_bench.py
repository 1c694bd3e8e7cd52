"""Duplicate detection benchmark: a whole expedition of 100,000 finds, and a push of 500.

Prints medians next to the targets of issue 4: full detection ≤ 2 s and ≤ 500 MB peak RSS,
incremental detection after a push of 500 finds ≤ 100 ms (and the whole push with it); then the
acceptance act of 1,000 finds including its PDF ≤ 2 s, by bench/act_bench.py on the same kind of
database (``--no-act`` leaves it out).

The store is filled straight through the repositories (records, revisions, find traits) so that
setup takes seconds; what is timed goes through the services as the server runs them. Each
full detection runs in a fresh child process, so its peak RSS is that of one server process
reading the expedition cold. The peak is the child's own high-water mark (VmHWM in
/proc/self/status): ``getrusage``'s ``ru_maxrss`` of a spawned child on Linux also counts the
parent it was forked from, which here holds the 100,000 generated finds.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # act_bench, peak_memory and sync_bench, its siblings

import act_bench  # noqa: E402
from peak_memory import peak_mb  # noqa: E402
from sync_bench import postgres_database  # noqa: E402

from field_core.content_hash import canonical_json, text_hash  # noqa: E402
from field_server.adapters.database import make_engine  # noqa: E402
from field_server.adapters.duplicate_repositories import traits_row  # noqa: E402
from field_server.adapters.schema_migration import upgrade_database  # noqa: E402
from field_server.adapters.unit_of_work import UnitOfWorkFactory  # noqa: E402
from field_server.domain.access import Actor, Role  # noqa: E402
from field_server.domain.duplicates import traits_of  # noqa: E402
from field_server.domain.find_grid import METRES_PER_DEGREE  # noqa: E402
from field_server.services import auth, duplicates, expeditions, sync_push  # noqa: E402
from field_server.services.auth import now_utc  # noqa: E402

CODE = "DUP-2026"
SITES = {"S1": (48.20, 67.05), "S2": (48.1933, 67.8447), "S3": (47.812, 67.655)}
MATERIALS = [
    ("ceramic", 45),
    ("bone", 15),
    ("iron", 8),
    ("slag", 8),
    ("stone", 8),
    ("copper_alloy", 5),
    ("glass", 4),
    ("charcoal", 4),
    ("flint", 3),
]
RECORDERS = ["a.nurlankyzy", "d.oralbay", "s.kim", "e.zhaksybekov"]
NAMES = {
    "ceramic": "Қыш ыдыс сынығы",
    "bone": "Жануар сүйегі",
    "iron": "Темір бұйым",
    "slag": "Қож",
    "stone": "Тас құрал",
    "copper_alloy": "Қола бұйым",
    "glass": "Шыны моншақ",
    "charcoal": "Көмір үлгісі",
    "flint": "Шақпақ тас",
}


# Trenches of each site as (east offset m, width m, length m, share of the site's finds).
LAYOUTS = {
    # four 20 × 20 m trenches, most finds in the first two: about 37 finds per m² in the
    # densest over the season, harder than any dig
    "dense": [
        (0.0, 20.0, 20.0, 45),
        (30.0, 20.0, 20.0, 35),
        (60.0, 20.0, 20.0, 15),
        (90.0, 20.0, 20.0, 5),
    ],
    # a large dig: trenches of 10 × 10 to 20 × 40 m, finds in proportion to their area
    # (about 15 finds per m² over the season)
    "dig": [
        (0.0, 10.0, 10.0, 100),
        (15.0, 10.0, 20.0, 200),
        (30.0, 20.0, 20.0, 400),
        (55.0, 20.0, 30.0, 600),
        (80.0, 20.0, 40.0, 800),
    ],
}


def generate(
    rng: random.Random, count: int, survey: str, start: int, layout: str = "dense"
) -> list[dict[str, Any]]:
    """Finds clustered in the trenches of three sites (LAYOUTS), 35 % bulk lots, 5 % samples,
    total-station positions, and about 1 % near duplicates of earlier finds."""
    finds: list[dict[str, Any]] = []
    materials = [m for m, w in MATERIALS for _ in range(w)]
    trenches = LAYOUTS[layout]
    for n in range(count):
        if finds and rng.random() < 0.01:
            finds.append(_double_entry(rng, rng.choice(finds), start + n))
            continue
        site = rng.choice(list(SITES))
        lat0, lon0 = SITES[site]
        trench = rng.choices(range(1, len(trenches) + 1), weights=[t[3] for t in trenches])[0]
        offset, width, length, _ = trenches[trench - 1]
        east = offset + rng.uniform(0, width)
        north = rng.uniform(0, length)
        lat = lat0 + north / METRES_PER_DEGREE
        lon = lon0 + east / (METRES_PER_DEGREE * math.cos(math.radians(lat0)))
        material = rng.choice(materials)
        roll = rng.random()
        kind = "bulk" if roll < 0.35 else "sample" if roll < 0.40 else "small_find"
        bulk = kind != "small_find"
        day = 1 + rng.randrange(40)
        finds.append(
            {
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "data": {
                    "survey_uuid": survey,
                    "expedition_code": CODE,
                    "site_code": site,
                    "trench": f"Р-{trench}",
                    "context": str(100 * trench + rng.randrange(1, 12)),
                    "find_number": f"DUP26-{start + n:06d}",
                    "kind": kind,
                    "material": material,
                    "object_name": NAMES[material] + (" (жиынтық)" if bulk else ""),
                    "description": None,
                    "quantity": rng.randint(2, 300) if kind == "bulk" else 1,
                    "weight_g": round(rng.uniform(5, 3000), 1),
                    "length_mm": None if bulk else rng.randint(10, 150),
                    "width_mm": None if bulk else rng.randint(8, 100),
                    "height_mm": None if bulk else rng.randint(3, 20),
                    "condition": None,
                    "position": {
                        "lon": round(lon, 8),
                        "lat": round(lat, 8),
                        "elevation_m": 390.0,
                        "depth_m": round(rng.uniform(0.1, 2.0), 2),
                        "horizontal_accuracy_m": round(rng.uniform(0.01, 0.05), 3),
                        "vertical_accuracy_m": 0.02,
                        "method": "total_station",
                    },
                    "found_on": f"2026-07-{min(day, 31):02d}"
                    if day <= 31
                    else f"2026-08-{day - 31:02d}",
                    "recorded_at": f"2026-07-{min(day, 31):02d}T12:00:00+05:00"
                    if day <= 31
                    else f"2026-08-{day - 31:02d}T12:00:00+05:00",
                    "recorded_by": rng.choice(RECORDERS),
                    "photos": [],
                    "notes": None,
                },
            }
        )
    return finds


def _double_entry(rng: random.Random, original: dict[str, Any], number: int) -> dict[str, Any]:
    data = json.loads(json.dumps(original["data"]))
    shift = rng.uniform(0.05, 0.4)
    data["position"]["lon"] = round(
        data["position"]["lon"]
        + shift / (METRES_PER_DEGREE * math.cos(math.radians(data["position"]["lat"]))),
        8,
    )
    data["find_number"] = f"DUP26-{number:06d}"
    data["recorded_by"] = next(r for r in RECORDERS if r != data["recorded_by"])
    return {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "data": data}


def build_store(
    database_url: str, count: int, seed: int, layout: str = "dense"
) -> tuple[UnitOfWorkFactory, str]:
    engine = make_engine(database_url)
    upgrade_database(engine)
    uow_factory = UnitOfWorkFactory(engine)
    auth.create_user(uow_factory, "bench.recorder", "bench-password", ["recorder"], cost=2**10)
    expeditions.create_expedition(
        uow_factory, None, expeditions.ExpeditionSpec(CODE, "Dedup bench", 2026, "DUP26-{n:06d}")
    )
    expeditions.add_member(uow_factory, None, CODE, "bench.recorder", leader=True)
    survey = str(uuid.UUID(int=seed, version=4))
    survey_data = {
        "expedition_code": CODE,
        "title": "bench",
        "team": RECORDERS,
        "started_on": "2026-07-01",
        "ended_on": None,
        "notes": None,
    }
    finds = generate(random.Random(seed), count, survey, 1, layout)
    now = now_utc()
    with uow_factory(write=True) as uow:
        expedition = uow.expeditions.by_code(CODE)
        assert expedition is not None
        records, revisions, traits = [], [], []
        for record_type, key, data in [("survey", survey, survey_data)] + [
            ("find", f["uuid"], f["data"]) for f in finds
        ]:
            text = canonical_json(data)
            digest = text_hash(text)
            records.append(
                {
                    "uuid": key,
                    "type": record_type,
                    "expedition_id": expedition.id,
                    "survey_uuid": survey,
                    "find_number": data.get("find_number"),
                    "photo_sha256": None,
                    "server_rev": 1,
                    "data": text,
                    "content_hash": digest,
                    "seq": uow.changes.take(),
                    "status": "synced" if record_type == "find" else None,
                    "register_number": None,
                    "merged_into": None,
                    "flags": "[]",
                    "open_conflicts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            revisions.append(
                {
                    "uuid": key,
                    "server_rev": 1,
                    "data": text,
                    "content_hash": digest,
                    "origin": "device",
                    "device_id": "bench",
                    "device_rev": 1,
                    "base_rev": 0,
                    "user_id": None,
                    "created_at": now,
                }
            )
            if record_type == "find":
                traits.append(traits_row(traits_of(key, data), expedition.id, "synced"))
        for start in range(0, len(records), 5000):
            uow.records.insert_records(records[start : start + 5000])
            uow.records.insert_revisions(revisions[start : start + 5000])
        uow.traits.save(traits, {})
        uow.commit()
    if engine.dialect.name == "postgresql":
        # what autovacuum does after such a load (it is off on the benchmark's server)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return uow_factory, survey


def _full_detection_child(database_url: str, queue: Any) -> None:
    engine = make_engine(database_url)
    started, cpu = time.perf_counter(), time.process_time()
    report = duplicates.detect_expedition(UnitOfWorkFactory(engine), None, CODE)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    queue.put((elapsed, peak_mb(), report.open, report.finds, cpu))


def full_detection(database_url: str) -> tuple[float, float, int, int, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_full_detection_child, args=(database_url, queue))
    child.start()
    result = queue.get(timeout=600)
    child.join()
    return result


def incremental(
    uow_factory: UnitOfWorkFactory, survey: str, seed: int, layout: str = "dense"
) -> tuple[float, float, int, float]:
    """One push of 500 new finds into the same trenches: (detection s, whole push s, flagged,
    detection CPU s)."""
    spent = [0.0, 0.0]  # wall, CPU of this thread (the push runs in it)

    def timed(function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started
                spent[1] += time.thread_time() - cpu

        return run

    original_examine = sync_push.examine_finds
    original_save = sync_push.BatchWriter._save_duplicates
    sync_push.examine_finds = timed(original_examine)
    sync_push.BatchWriter._save_duplicates = timed(original_save)  # type: ignore[method-assign]
    try:
        with uow_factory() as uow:
            user = uow.users.by_username("bench.recorder")
            expedition = uow.expeditions.by_code(CODE)
        assert user is not None and expedition is not None
        actor = Actor(
            user.id, user.username, frozenset({Role.RECORDER}), frozenset({expedition.id})
        )
        finds = generate(random.Random(seed), 500, survey, 900_000 + seed * 1000, layout)
        body = {
            "device_id": "bench-laptop",
            "batch_id": str(uuid.uuid4()),
            "records": [
                {"type": "find", "uuid": f["uuid"], "base_rev": 0, "rev": 1, "data": f["data"]}
                for f in finds
            ],
        }
        started = time.perf_counter()
        answer = json.loads(sync_push.apply_push(uow_factory, actor, body))
        whole = time.perf_counter() - started
    finally:
        sync_push.examine_finds = original_examine
        sync_push.BatchWriter._save_duplicates = original_save  # type: ignore[method-assign]
    statuses = {r["status"] for r in answer["results"]}
    if statuses != {"created"}:
        raise SystemExit(f"bench: the push was not taken whole: {statuses}")
    flagged = sum(
        any(f["code"] == "duplicate_candidate" for f in r.get("flags", []))
        for r in answer["results"]
    )
    return spent[0], whole, flagged, spent[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="full detections (median)")
    parser.add_argument("--pushes", type=int, default=5, help="pushes of 500 finds (median)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="dense")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", default=None, help="an empty database to fill")
    where.add_argument(
        "--postgresql",
        metavar="SERVER_URL",
        default=None,
        help="make (and drop) a new database on this server, e.g. "
        "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-act", action="store_true", help="skip the acceptance act")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qazba-dedup-") as folder, ExitStack() as stack:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        if args.postgresql:
            name = f"qazba_dedup_{uuid.uuid4().hex[:10]}"
            url = stack.enter_context(postgres_database(args.postgresql, name))
        run(args, url)
    if not args.no_act:
        backend = "postgresql" if args.postgresql or args.database_url else "sqlite"
        print(f"acceptance act: {act_bench.main(['--backend', backend])}")


def run(args: argparse.Namespace, url: str) -> None:
    started = time.perf_counter()
    uow_factory, survey = build_store(url, args.finds, args.seed, args.layout)
    print(
        f"store: {args.finds:,} finds, layout {args.layout}, in "
        f"{time.perf_counter() - started:.1f} s ({url.split(':')[0]})"
    )
    runs = [full_detection(url) for _ in range(args.repeat)]
    seconds = statistics.median(r[0] for r in runs)
    peak = statistics.median(r[1] for r in runs)
    cpu = statistics.median(r[4] for r in runs)
    verdict = "ok" if seconds <= 2 else "NO"
    memory = "ok" if peak <= 500 else "NO"
    each = [round(r[0], 2) for r in runs]
    print(
        f"full detection: median {seconds:.2f} s (target ≤ 2 s: {verdict}; CPU {cpu:.2f} s), "
        f"peak RSS median {peak:.0f} MB (target ≤ 500 MB: {memory}); {runs[0][3]:,} finds, "
        f"{runs[0][2]:,} open candidates; runs {each}"
    )
    pushes = [
        incremental(uow_factory, survey, args.seed + n + 1, args.layout) for n in range(args.pushes)
    ]
    detect_ms = statistics.median(p[0] for p in pushes) * 1000
    push_ms = statistics.median(p[1] for p in pushes) * 1000
    detect_cpu_ms = statistics.median(p[3] for p in pushes) * 1000
    print(
        f"push of 500 finds: detection median {detect_ms:.0f} ms (target ≤ 100 ms: "
        f"{'ok' if detect_ms <= 100 else 'NO'}; CPU {detect_cpu_ms:.0f} ms), whole push "
        f"median {push_ms:.0f} ms; "
        f"detection runs {[round(p[0] * 1000) for p in pushes]} ms; "
        f"flagged per push {[p[2] for p in pushes]}"
    )
    uow_factory.engine.dispose()


if __name__ == "__main__":
    main()
