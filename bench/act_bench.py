"""The act benchmark: an acceptance act of 1,000 approved finds, with its PDF, CSV and HTML.

Each run takes a fresh database (SQLite in a temporary folder, or a new PostgreSQL database;
with ``--database-url``, every run uses that one), pushes N new finds of ULY-2026 through the
sync API and approves them (not timed), then times, through the application's own HTTP
interface in this process:

- ``POST /api/v1/register/acts`` of all N finds (numbers, entries, one museum revision each);
- ``GET …/acts/KP/<n>.pdf``, ``.csv`` and ``.html`` (kk).

It prints the median of the runs against the target (act + PDF ≤ 2 s). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # sync_bench, its sibling

from sync_bench import PG_ADMIN_URL, postgres_database  # noqa: E402

from field_server.adapters.database import make_engine  # noqa: E402
from field_server.adapters.schema_migration import upgrade_database  # noqa: E402
from field_server.app import create_app  # noqa: E402
from field_server.config import ServerConfig  # noqa: E402
from field_server.domain.find_status import FindStatus  # noqa: E402
from field_server.services import auth, expeditions  # noqa: E402
from field_server.services.errors import AlreadyExists  # noqa: E402
from field_server.services.museum_revisions import (  # noqa: E402
    FindChange,
    load_finds,
    record_museum_revisions,
)

PASSWORD = "qazba-bench-2026"
TARGET_S = 2.0
SAMPLES = ROOT / "sample_surveys"


def sample_records() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    folder = SAMPLES / "uly-2026-baskamyr"
    survey = json.loads((folder / "survey.json").read_text("utf-8"))
    finds = json.loads((folder / "finds.json").read_text("utf-8"))
    return survey, finds


def make_finds(count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``count`` finds cycling through the sample's, each with its own uuid and number."""
    survey, templates = sample_records()
    # a run on a store that already holds an earlier run's finds gives its own numbers
    tag = uuid.uuid4().hex[:6].upper()
    finds = []
    for n in range(count):
        record = json.loads(json.dumps(templates[n % len(templates)]))
        record["uuid"] = str(uuid.uuid4())
        record["data"]["find_number"] = f"ULY26-{tag}-{n + 1:05d}"
        record["data"]["photos"] = []
        finds.append(record)
    return survey, finds


def prepared_app(database_url: str, data_dir: Path) -> Any:
    """The app on ``database_url``, migrated, with the bench's people and ULY-2026."""
    engine = make_engine(database_url)
    upgrade_database(engine)
    engine.dispose()
    app = create_app(
        ServerConfig(
            data_dir=data_dir, database_url=database_url, secret_key="bench", scrypt_cost=2**10
        )
    )
    uow = app.extensions["qazba"].uow
    # a store given by --database-url may hold these from an earlier run
    for name, role in (("recorder", "recorder"), ("registrar", "registrar")):
        with contextlib.suppress(AlreadyExists):
            auth.create_user(uow, name, PASSWORD, [role], cost=2**10)
    sample = json.loads((SAMPLES / "expeditions.json").read_text("utf-8"))["expeditions"][0]
    spec = expeditions.ExpeditionSpec(
        sample["code"], sample["title"], sample["year"], sample["find_number_format"], None
    )
    with contextlib.suppress(AlreadyExists):
        expeditions.create_expedition(uow, None, spec)
    for site in sample["sites"]:
        with contextlib.suppress(AlreadyExists):
            expeditions.add_site(
                uow, None, sample["code"], site["code"], site["name"], site["boundary"]
            )
    expeditions.add_member(uow, None, sample["code"], "recorder", leader=True)
    return app


def token(app: Any, who: str) -> dict[str, str]:
    answer = app.test_client().post(
        "/api/v1/auth/token",
        json={"username": who, "password": PASSWORD, "device_name": "bench"},
    )
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def approved_finds(app: Any, count: int) -> list[str]:
    """Push ``count`` new finds and approve them (a museum revision each); their uuids."""
    client = app.test_client()
    survey, finds = make_finds(count)
    recorder = token(app, "recorder")
    records = [survey, *finds]
    for start in range(0, len(records), 500):
        answer = client.post(
            "/api/v1/sync/push",
            json={
                "device_id": "bench",
                "batch_id": str(uuid.uuid4()),
                "records": records[start : start + 500],
            },
            headers=recorder,
        ).get_json()
        assert all(r["status"] in ("created", "unchanged") for r in answer["results"]), answer
    uuids = [f["uuid"] for f in finds]
    uow = app.extensions["qazba"].uow
    with uow(write=True) as unit:
        record_museum_revisions(
            unit,
            [
                FindChange(find, status=FindStatus.APPROVED)
                for find in load_finds(unit, uuids).values()
            ],
            user_id=None,
            now=auth.now_utc(),
            action="find.review",
            reason="bench",
        )
        unit.commit()
    return uuids


def one_run(app: Any, count: int, profile: cProfile.Profile | None) -> dict[str, float]:
    uuids = approved_finds(app, count)
    headers = token(app, "registrar")
    client = app.test_client()
    times: dict[str, float] = {}
    if profile:
        profile.enable()
    started = time.perf_counter()
    response = client.post(
        "/api/v1/register/acts",
        json={
            "expedition_code": "ULY-2026",
            "fund": "KP",
            "find_uuids": uuids,
            "storage_location": "Қор 2",
        },
        headers=headers,
    )
    times["act"] = time.perf_counter() - started
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert len(created["entries"]) == count
    path = f"/api/v1/register/acts/KP/{created['act_number']}"
    for fmt in ("pdf", "csv", "html"):
        started = time.perf_counter()
        document = client.get(f"{path}.{fmt}", headers=headers)
        times[fmt] = time.perf_counter() - started
        if profile and fmt == "pdf":
            profile.disable()
        assert document.status_code == 200 and document.data
        times[f"{fmt}_bytes"] = len(document.data)
    return times


def fresh_run(backend: str, count: int, profile: cProfile.Profile | None) -> dict[str, float]:
    """One run on a store of its own: SQLite in a temporary folder, or a new PostgreSQL
    database dropped afterwards."""
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{folder}/bench.sqlite3"
        else:
            name = f"qazba_bench_{uuid.uuid4().hex[:10]}"
            url = stack.enter_context(postgres_database(PG_ADMIN_URL, name))
        app = prepared_app(url, Path(folder))
        try:
            return one_run(app, count, profile)
        finally:
            app.extensions["qazba"].uow.engine.dispose()


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark, print its table and return the verdict in one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--database-url",
        default=None,
        help="run every repetition on this database (migrated and filled by the bench) "
        "instead of fresh ones; --backend is then ignored",
    )
    parser.add_argument(
        "--profile", default=None, help="write a cProfile of the timed act and PDF to this file"
    )
    args = parser.parse_args(argv)
    profile = cProfile.Profile() if args.profile else None
    if args.database_url:
        kind = make_engine(args.database_url).dialect.name
        with tempfile.TemporaryDirectory() as folder:
            app = prepared_app(args.database_url, Path(folder))
            try:
                runs = [one_run(app, args.finds, profile) for _ in range(args.repeat)]
            finally:
                app.extensions["qazba"].uow.engine.dispose()
        results = [(f"{kind} (given)", runs)]
    else:
        backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
        results = [
            (backend, [fresh_run(backend, args.finds, profile) for _ in range(args.repeat)])
            for backend in backends
        ]
    print(f"Acceptance act of {args.finds:,} approved finds, median of {args.repeat}")
    print(
        f"{'backend':<19} {'act s':>7} {'pdf s':>7} {'act+pdf s':>10} {'csv s':>7} "
        f"{'html s':>7} {'pdf kB':>7} {'target':>8} met"
    )
    verdicts = []
    for backend, runs in results:

        def median(key: str, rows: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in rows)

        both = statistics.median(r["act"] + r["pdf"] for r in runs)
        met = "yes" if both <= TARGET_S else "NO"
        print(
            f"{backend:<19} {median('act'):>7.3f} {median('pdf'):>7.3f} {both:>10.3f} "
            f"{median('csv'):>7.3f} {median('html'):>7.3f} {median('pdf_bytes') / 1000:>7.0f} "
            f"{'≤ 2 s':>8} {met}"
        )
        print(
            "                    runs (act+pdf): "
            + ", ".join(f"{r['act'] + r['pdf']:.3f}" for r in runs)
        )
        verdicts.append(f"{backend} median {both:.2f} s ({'ok' if met == 'yes' else 'NO'})")
    if profile:
        profile.dump_stats(args.profile)
        print(f"profile written to {args.profile}")
    return f"{'; '.join(verdicts)}, target ≤ {TARGET_S:g} s"


if __name__ == "__main__":
    main()
