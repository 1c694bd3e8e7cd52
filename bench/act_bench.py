"""The act benchmark: an acceptance act of 1,000 approved finds, with its PDF, CSV and HTML.

Each run takes a fresh database (SQLite in a temporary folder, or a new PostgreSQL database),
pushes N finds of ULY-2026 through the sync API and approves them (not timed), then times,
through the application's own HTTP interface in this process:

- ``POST /api/v1/register/acts`` of all N finds (numbers, entries, one museum revision each);
- ``GET …/acts/KP/1.pdf``, ``.csv`` and ``.html`` (kk).

It prints the median of the runs against the target (act + PDF ≤ 2 s). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from field_server.adapters.database import make_engine  # noqa: E402
from field_server.adapters.schema_migration import upgrade_database  # noqa: E402
from field_server.app import create_app  # noqa: E402
from field_server.config import ServerConfig  # noqa: E402
from field_server.domain.find_status import FindStatus  # noqa: E402
from field_server.services import auth, expeditions  # noqa: E402
from field_server.services.museum_revisions import load_find, record_museum_revision  # noqa: E402

PASSWORD = "qazba-bench-2026"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
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
    finds = []
    for n in range(count):
        record = json.loads(json.dumps(templates[n % len(templates)]))
        record["uuid"] = str(uuid.uuid4())
        record["data"]["find_number"] = f"ULY26-B{n + 1:05d}"
        record["data"]["photos"] = []
        finds.append(record)
    return survey, finds


def prepared_app(
    database_url: str, data_dir: Path, count: int
) -> tuple[Any, dict[str, str], list[str]]:
    upgrade_database(make_engine(database_url))
    app = create_app(
        ServerConfig(
            data_dir=data_dir, database_url=database_url, secret_key="bench", scrypt_cost=2**10
        )
    )
    uow = app.extensions["qazba"].uow
    for name, role in (("recorder", "recorder"), ("registrar", "registrar")):
        auth.create_user(uow, name, PASSWORD, [role], cost=2**10)
    sample = json.loads((SAMPLES / "expeditions.json").read_text("utf-8"))["expeditions"][0]
    expeditions.create_expedition(
        uow,
        None,
        expeditions.ExpeditionSpec(
            sample["code"], sample["title"], sample["year"], sample["find_number_format"], None
        ),
    )
    for site in sample["sites"]:
        expeditions.add_site(
            uow, None, sample["code"], site["code"], site["name"], site["boundary"]
        )
    expeditions.add_member(uow, None, sample["code"], "recorder", leader=True)
    client = app.test_client()

    def token(who: str) -> dict[str, str]:
        answer = client.post(
            "/api/v1/auth/token",
            json={"username": who, "password": PASSWORD, "device_name": "bench"},
        )
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    survey, finds = make_finds(count)
    recorder = token("recorder")
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
        assert all(r["status"] == "created" for r in answer["results"]), answer
    uuids = [f["uuid"] for f in finds]
    with uow(write=True) as unit:
        for find_uuid in uuids:
            record_museum_revision(
                unit,
                load_find(unit, find_uuid),
                user_id=None,
                now=auth.now_utc(),
                action="find.review",
                reason="bench",
                status=FindStatus.APPROVED,
            )
        unit.commit()
    return app, token("registrar"), uuids


def one_run(database_url: str, data_dir: Path, count: int) -> dict[str, float]:
    app, headers, uuids = prepared_app(database_url, data_dir, count)
    client = app.test_client()
    times: dict[str, float] = {}
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
    assert len(response.get_json()["entries"]) == count
    for fmt in ("pdf", "csv", "html"):
        started = time.perf_counter()
        document = client.get(f"/api/v1/register/acts/KP/1.{fmt}", headers=headers)
        times[fmt] = time.perf_counter() - started
        assert document.status_code == 200 and document.data
        times[f"{fmt}_bytes"] = len(document.data)
    app.extensions["qazba"].uow.engine.dispose()
    return times


def postgres_database() -> tuple[str, str]:
    name = f"qazba_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(f"Acceptance act of {args.finds:,} approved finds, median of {args.repeat}")
    print(
        f"{'backend':<11} {'act s':>7} {'pdf s':>7} {'act+pdf s':>10} {'csv s':>7} "
        f"{'html s':>7} {'pdf kB':>7} {'target':>8} met"
    )
    for backend in backends:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder:
                if backend == "sqlite":
                    runs.append(
                        one_run(f"sqlite:///{folder}/bench.sqlite3", Path(folder), args.finds)
                    )
                    continue
                name, url = postgres_database()
                try:
                    runs.append(one_run(url, Path(folder), args.finds))
                finally:
                    drop(name)

        def median(key: str, rows: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in rows)

        both = statistics.median(r["act"] + r["pdf"] for r in runs)
        print(
            f"{backend:<11} {median('act'):>7.3f} {median('pdf'):>7.3f} {both:>10.3f} "
            f"{median('csv'):>7.3f} {median('html'):>7.3f} {median('pdf_bytes') / 1000:>7.0f} "
            f"{'≤ 2 s':>8} {'yes' if both <= TARGET_S else 'NO'}"
        )
        print(
            "            runs (act+pdf): " + ", ".join(f"{r['act'] + r['pdf']:.3f}" for r in runs)
        )


if __name__ == "__main__":
    main()
