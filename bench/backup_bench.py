"""Backup benchmark: ``field-server backup`` and ``restore`` of a museum of 100,000 finds and 300
photos of about 3 MB, against ``tar`` of the same data in the same run (DESIGN §10).

Prints the median wall seconds, throughput (archive MB per second) and peak memory (the
child's own VmHWM plus that of the process a SQLite restore forks, see peak_memory) of each,
and the ratio to tar. Usage:

    .venv/bin/python bench/backup_bench.py [--finds 100000] [--photos 300] [--repeat 3]
        [--backend sqlite|postgresql] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

tar's side: on SQLite ``tar -cf`` of the data folder (photos and the SQLite file) and ``tar -xf``
of it; on PostgreSQL ``pg_dump`` of the database plus ``tar -cf`` of the photos and the dump,
and ``tar -xf`` plus ``psql`` loading the dump into a new database. Neither tar nor pg_dump
syncs what it writes; backup and restore sync every file they finish. So tar is timed twice
over: as it is, and followed by ``sync FILE`` (coreutils: fsync of the archive) after
``tar -cf``, ``sync -f DIR`` (syncfs of the file system) after ``tar -xf``. The target is judged
against tar with the sync: a backup that is not on disk yet is not a backup. Every timed step
starts after an untimed ``sync``, so none pays for what an earlier one left unwritten.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import secrets
import shutil
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

from peak_memory import children_peak_mb, peak_mb  # noqa: E402

from field_core.content_hash import canonical_json, text_hash  # noqa: E402
from field_server.adapters.database import make_engine  # noqa: E402
from field_server.adapters.duplicate_repositories import traits_row  # noqa: E402
from field_server.adapters.photo_store import FilesystemPhotoStore  # noqa: E402
from field_server.adapters.schema_migration import upgrade_database  # noqa: E402
from field_server.adapters.unit_of_work import UnitOfWorkFactory  # noqa: E402
from field_server.domain.duplicates import traits_of  # noqa: E402
from field_server.domain.export_layers import sheet_row  # noqa: E402
from field_server.services import expeditions  # noqa: E402
from tests import samples  # noqa: E402

FIELD_SERVER = ROOT / ".venv" / "bin" / "field-server"
PEAK_TARGET_MB = 300
RATIO_TARGET = 0.5
BATCH = 5000


# -- the museum -------------------------------------------------------------------------------


def fill(url: str, data_dir: Path, finds: int, photos: int, photo_bytes: int) -> None:
    """Finds as a push would store them (record, revision, sheet, traits, photo links), and
    photos as uploads would (the blob in the store, its photo_blobs row, a photo record)."""
    engine = make_engine(url)
    upgrade_database(engine)
    uow = UnitOfWorkFactory(engine)
    sample = next(e for e in samples.expeditions() if e["code"] == "ULY-2026")
    expeditions.create_expedition(
        uow, None, expeditions.ExpeditionSpec("ULY-2026", sample["title"], 2026, None, 5.0)
    )
    for site in sample["sites"]:
        expeditions.add_site(uow, None, "ULY-2026", site["code"], site["name"], site["boundary"])
    store = FilesystemPhotoStore(data_dir / "photos")
    staging = data_dir / "uploads"
    staging.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    digests = []
    for n in range(photos):
        # JPEG-sized noise with a JPEG start: camera files do not compress either
        size = int(photo_bytes * rng.uniform(0.8, 1.2))
        data = b"\xff\xd8\xff\xe0" + rng.randbytes(size - 4)
        digest = hashlib.sha256(data).hexdigest()
        staged = staging / f"bench-{n}"
        staged.write_bytes(data)
        store.put(digest, staged)
        digests.append((digest, size))
    templates = [f["data"] for s in samples.surveys() if s.expedition_code == "ULY-2026"
                 for f in s.finds]  # fmt: skip
    survey = samples.survey_of("ULY-2026").survey
    now = datetime.now(UTC)
    with uow(write=True) as unit:
        expedition = unit.expeditions.by_code("ULY-2026")
        assert expedition is not None
        for digest, size in digests:
            unit.blobs.add_if_absent(digest, size, "image/jpeg", (4000, 3000), None, now)
        records: list[dict] = []
        revisions: list[dict] = []
        sheets: list[dict] = []
        traits: list[dict] = []
        links: dict[str, tuple[str, ...]] = {}

        def add(uid: str, kind: str, data: dict, number: str | None, photo: str | None) -> None:
            text = canonical_json(data)
            seq = unit.changes.take()
            records.append(_record(uid, kind, expedition.id, survey["uuid"], number, text,
                                   seq, now, photo))  # fmt: skip
            revisions.append({
                "uuid": uid, "server_rev": 1, "data": text, "content_hash": text_hash(text),
                "origin": "device", "device_id": "bench-laptop", "device_rev": 1, "base_rev": 0,
                "user_id": None, "created_at": now,
            })  # fmt: skip

        def flush() -> None:
            unit.records.insert_records(records)
            unit.records.insert_revisions(revisions)
            unit.sheets.save(sheets)
            unit.traits.save(traits, links)
            for rows in (records, revisions, sheets, traits):
                rows.clear()
            links.clear()

        add(survey["uuid"], "survey", survey["data"], None, None)
        for digest, size in digests:
            photo = {
                "survey_uuid": survey["uuid"], "sha256": digest, "bytes": size,
                "media_type": "image/jpeg", "width": 4000, "height": 3000, "taken_at": None,
                "position": None, "position_source": "none", "caption": None, "find_uuids": [],
            }  # fmt: skip
            add(str(uuid.uuid4()), "photo", photo, None, digest)
        for n in range(finds):
            data = dict(templates[n % len(templates)])
            data["find_number"] = f"B-{n:06d}"
            data["survey_uuid"] = survey["uuid"]
            position = dict(data["position"])
            position["lon"] += (n % 100) * 1e-6
            position["lat"] += (n // 100 % 100) * 1e-6
            data["position"] = position
            data["photos"] = [digests[n % len(digests)][0]] if digests and n % 2 == 0 else []
            uid = str(uuid.uuid4())
            add(uid, "find", data, data["find_number"], None)
            sheets.append(sheet_row(uid, data))
            traits.append(traits_row(traits_of(uid, data), expedition.id, "synced"))
            links[uid] = tuple(data["photos"])
            if len(records) >= BATCH:
                flush()
        flush()
        unit.commit()
    engine.dispose()


def _record(uid: str, kind: str, expedition_id: int, survey: str, number: str | None, text: str,
            seq: int, now: datetime, photo: str | None) -> dict:  # fmt: skip
    return {
        "uuid": uid, "type": kind, "expedition_id": expedition_id, "survey_uuid": survey,
        "find_number": number, "photo_sha256": photo, "server_rev": 1, "data": text,
        "content_hash": text_hash(text), "seq": seq, "status": "synced" if kind == "find" else None,
        "register_number": None, "merged_into": None, "flags": "[]", "open_conflicts": 0,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


# -- timing -----------------------------------------------------------------------------------


def child(args: list[str]) -> None:
    """Run one field-server command in this process and print its peak memory."""
    from field_server.cli import main as cli

    cli.main(args, standalone_mode=False)
    print(json.dumps({"peak_mb": peak_mb(), "children_peak_mb": children_peak_mb()}))


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


CPU_SECONDS: dict[str, list[float]] = {}  # each command's CPU seconds, its forked process's too


def timed_child(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak MB) of one command; its CPU seconds go to ``CPU_SECONDS``, which on
    a machine busy with other work tell what the command itself took."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(args)],
        env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    CPU_SECONDS.setdefault(args[0], []).append(_children_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"field-server {args[0]} failed: {done.stderr.strip()[-800:]}")
    peaks = json.loads(done.stdout.strip().splitlines()[-1])
    # with the process a SQLite restore forks, counted as if none of their pages were shared
    return seconds, peaks["peak_mb"] + peaks["children_peak_mb"]


def timed(command: list[str] | str, **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def drop_file(path: Path) -> None:
    path.unlink(missing_ok=True)


@contextmanager
def database(backend: str, admin_url: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder}/qazba.sqlite3"
        return
    from sync_bench import postgres_database

    with postgres_database(admin_url, f"qazba_backup_bench_{secrets.token_hex(4)}") as url:
        yield url


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--photo-mb", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="for --backend postgresql: a server URL whose user may create databases",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    with tempfile.TemporaryDirectory(prefix="qazba-backup-bench-") as scratch:
        run(args, Path(scratch))


def run(args: argparse.Namespace, scratch: Path) -> None:
    source = scratch / "source"
    source.mkdir()
    with database(args.backend, args.database_url, source) as url:
        started = time.perf_counter()
        fill(url, source, args.finds, args.photos, int(args.photo_mb * 1024 * 1024))
        print(f"{args.finds:,} finds and {args.photos} photos stored in "
              f"{time.perf_counter() - started:.1f} s ({args.backend})")  # fmt: skip
        print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        env = {"FIELD_SERVER_DATABASE_URL": url, "FIELD_SERVER_DATA_DIR": str(source),
               "FIELD_SERVER_SECRET_KEY": "bench"}  # fmt: skip
        archive = scratch / "qazba.tar"
        backups, backup_peaks, restores, restore_peaks = [], [], [], []
        tar_out, tar_in, tar_out_synced, tar_in_synced = [], [], [], []
        for number in range(args.repeat):
            drop_file(archive)
            settle()
            seconds, peak = timed_child(["backup", "--out", str(archive), "--quiet"], env)
            backups.append(seconds)
            backup_peaks.append(peak)
            target = scratch / f"target-{number}"
            target.mkdir()
            with database(args.backend, args.database_url, target) as target_url:
                settle()
                seconds, peak = timed_child(
                    ["restore", str(archive), "--quiet"],
                    {"FIELD_SERVER_DATABASE_URL": target_url,
                     "FIELD_SERVER_DATA_DIR": str(target), "FIELD_SERVER_SECRET_KEY": "bench"},
                )  # fmt: skip
                restores.append(seconds)
                restore_peaks.append(peak)
            shutil.rmtree(target)
            plain_s, synced_s = tar_backup(args.backend, url, source, scratch)
            tar_out.append(plain_s)
            tar_out_synced.append(synced_s)
            plain_s, synced_s = tar_restore(args.backend, args.database_url, scratch)
            tar_in.append(plain_s)
            tar_in_synced.append(synced_s)
        archive_mb = archive.stat().st_size / 1e6
        tar_mb = (scratch / "plain.tar").stat().st_size / 1e6
        print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(f"archive {archive_mb:.0f} MB; tar {tar_mb:.0f} MB "
              f"(median of {args.repeat}; MB/s = that size / seconds)")  # fmt: skip
        print("the target (ratio >= 0.5) is judged against tar with sync (ok); plain tar beside it")
        print(f"{'':8} {'ours s':>7} {'MB/s':>6} {'tar s':>6} {'MB/s':>6} {'ratio':>6} "
              f"{'+sync s':>7} {'MB/s':>6} {'ratio':>6}  ok  peak MB  ok")  # fmt: skip
        for name, ours, peaks, theirs, synced in (
            ("backup", backups, backup_peaks, tar_out, tar_out_synced),
            ("restore", restores, restore_peaks, tar_in, tar_in_synced),
        ):
            ours_s, theirs_s, synced_s = median_of(ours), median_of(theirs), median_of(synced)
            ours_rate, theirs_rate = archive_mb / ours_s, tar_mb / theirs_s
            synced_rate = tar_mb / synced_s
            ratio, synced_ratio = ours_rate / theirs_rate, ours_rate / synced_rate
            peak = max(peaks)
            print(f"{name:8} {ours_s:7.2f} {ours_rate:6.0f} {theirs_s:6.2f} {theirs_rate:6.0f} "
                  f"{ratio:6.2f} {synced_s:7.2f} {synced_rate:6.0f} {synced_ratio:6.2f}  "
                  f"{'yes' if synced_ratio >= RATIO_TARGET else 'NO ':3} {peak:8.0f}  "
                  f"{'yes' if peak <= PEAK_TARGET_MB else 'NO'}")  # fmt: skip
        print(
            "CPU seconds (user + system, median): "
            + ", ".join(f"{name} {median_of(runs):.2f}" for name, runs in CPU_SECONDS.items())
        )


def settle() -> None:
    """Write out what earlier steps left in the page cache, untimed, before a timed step."""
    subprocess.run(["sync"], check=True)


def tar_backup(backend: str, url: str, source: Path, scratch: Path) -> tuple[float, float]:
    """(tar's seconds, the same followed by ``sync`` of the archive)."""
    out = scratch / "plain.tar"
    drop_file(out)
    settle()
    if backend == "sqlite":
        seconds = timed(["tar", "-cf", str(out), "-C", str(source), "photos", "qazba.sqlite3"])
    else:
        dump = source / "qazba.sql"
        seconds = timed(f"pg_dump --no-owner '{plain(url)}' > '{dump}'", shell=True)
        seconds += timed(["tar", "-cf", str(out), "-C", str(source), "photos", "qazba.sql"])
        dump.unlink()
    return seconds, seconds + timed(["sync", str(out)])


def tar_restore(backend: str, admin_url: str, scratch: Path) -> tuple[float, float]:
    """(seconds of ``tar -xf`` (and psql), the same followed by a sync of the file system)."""
    target = scratch / "plain-target"
    target.mkdir()
    try:
        settle()
        seconds = timed(["tar", "-xf", str(scratch / "plain.tar"), "-C", str(target)])
        if backend == "postgresql":
            with database(backend, admin_url, target) as url:
                script = str(target / "qazba.sql")
                seconds += timed(["psql", "-q", "-o", "/dev/null", "-f", script, plain(url)])
                return seconds, seconds + timed(["sync", "-f", str(target)])
        return seconds, seconds + timed(["sync", "-f", str(target)])
    finally:
        shutil.rmtree(target)


if __name__ == "__main__":
    main()
