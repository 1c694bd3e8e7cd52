"""The field client sync benchmark: a fresh laptop's finds and photos synced by the real
``field-client`` to a real ``field-server serve`` on loopback, against the disk's own ceiling.

Run as ``.venv/bin/python bench/client_sync_bench.py`` (see bench/README.md). The client talks
to the server through a small counting TCP relay in this process, so the bytes on the wire are
counted, not estimated. A missed target is a finding, not a failure: the script exits non-zero
only when a run could not be completed or a sync left something unsent.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import json
import os
import random
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from shapely.geometry import shape
from sync_bench import (
    BIN,
    EXPEDITION,
    PASSWORD,
    RECORDER,
    BenchError,
    Site,
    fresh_store,
    load_sites,
    running_server,
)

from field_client import finds
from field_client.home import STORE_NAME
from field_client.store import Store

FIELD_CLIENT = BIN / "field-client"
SECOND_SYNC_TARGET_S = 1.0
CEILING_SHARE_TARGET = 0.5
# Noise saved at this quality comes out near 0.9 bytes per pixel; a calibration image says
# exactly, so the photos land near the asked size whatever Pillow's encoder does.
JPEG_QUALITY = 90
RELAY_BUFFER = 256 * 1024


# -- the counting relay ---------------------------------------------------------------------


class Relay:
    """A loopback TCP relay in front of the server that counts every byte each way."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.up = 0
        self.down = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.up = self.down = self.connections = 0

    def counts(self) -> tuple[int, int, int]:
        with self._lock:
            return self.up, self.down, self.connections

    def close(self) -> None:
        self._closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        try:
            if hasattr(os, "splice"):
                self._splice(source, sink, upward)
            else:
                self._copy(source, sink, upward)
        except OSError:
            pass
        finally:
            # half-close so the other direction can finish its answer
            for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
                with suppress(OSError):
                    sock.shutdown(how)

    def _splice(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        # Linux moves the bytes socket → pipe → socket without them entering Python: copied
        # through Python, the relay took a third as much CPU as the server it measures, on
        # the same two cores.
        read_end, write_end = os.pipe()
        try:
            with suppress(OSError):
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, RELAY_BUFFER)
            while True:
                count = os.splice(source.fileno(), write_end, RELAY_BUFFER)
                if count == 0:
                    break
                left = count
                while left:
                    left -= os.splice(read_end, sink.fileno(), left)
                self._count(upward, count)
        finally:
            os.close(read_end)
            os.close(write_end)

    def _copy(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        buffer = bytearray(RELAY_BUFFER)
        view = memoryview(buffer)
        while count := source.recv_into(buffer):
            sink.sendall(view[:count])
            self._count(upward, count)

    def _count(self, upward: bool, count: int) -> None:
        with self._lock:
            if upward:
                self.up += count
            else:
                self.down += count


# -- the laptop -----------------------------------------------------------------------------


class Laptop:
    """The real field-client executable with its own FIELD_CLIENT_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "FIELD_CLIENT_HOME": str(home)}

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(FIELD_CLIENT), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(
                f"field-client {' '.join(args[:2])} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-400:]}"
            )
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json"))


def record_finds(home: Path, count: int, site: Site) -> None:
    """The finds, through the client's own code in one transaction (a process per find would
    take an hour for ten thousand)."""
    point = shape(site.boundary).representative_point()
    rng = random.Random(7)
    store = Store.open(home / STORE_NAME)
    try:
        with store.transaction() as connection:
            for i in range(count):
                finds.add(
                    connection,
                    None,
                    {
                        "material": rng.choice(["ceramic", "bone", "iron", "slag", "glass"]),
                        "object_name": f"Қыш ыдыс сынығы / фрагмент керамики № {i}",
                        "find_number": f"BENCH-{i:05d}",
                        "site_code": site.code,
                        "method": "total_station",
                        "lon": point.x,
                        "lat": point.y,
                    },
                )
    finally:
        store.close()


def payload_bytes(home: Path) -> int:
    """The records' canonical JSON as the laptop holds it: what a sync must carry at least."""
    store = Store.open(home / STORE_NAME)
    try:
        with store.transaction() as connection:
            row = connection.execute(
                "SELECT coalesce(sum(length(CAST(data AS BLOB))), 0) FROM record"
            ).fetchone()
    finally:
        store.close()
    return int(row[0])


# -- photos and the disk's ceiling ----------------------------------------------------------


def make_photos(folder: Path, count: int, photo_mb: float) -> int:
    """``count`` distinct JPEGs of noise near ``photo_mb`` MB each; their total size."""
    folder.mkdir()
    probe = io.BytesIO()
    Image.frombytes("RGB", (400, 300), random.Random(0).randbytes(400 * 300 * 3)).save(
        probe, "JPEG", quality=JPEG_QUALITY
    )
    per_pixel = len(probe.getvalue()) / (400 * 300)
    pixels = photo_mb * 1_000_000 / per_pixel
    width = int((pixels * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    total = 0
    for i in range(count):
        noise = random.Random(1000 + i).randbytes(width * height * 3)
        path = folder / f"BENCH-{i:05d}_IMG{i:04d}.JPG"
        Image.frombytes("RGB", (width, height), noise).save(path, "JPEG", quality=JPEG_QUALITY)
        total += path.stat().st_size
    return total


def disk_ceiling(photos: list[Path], target: Path) -> float:
    """MB/s of writing the same files with SHA-256 and fsync: what storing a photo costs here."""
    target.mkdir()
    started = time.perf_counter()
    total = 0
    for photo in photos:
        data = photo.read_bytes()
        hashlib.sha256(data).hexdigest()
        with open(target / photo.name, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        total += len(data)
    elapsed = time.perf_counter() - started
    return total / 1e6 / elapsed


class UploadWatch:
    """When the sync began uploading photos, as the laptop's store says between the sync's own
    transactions: it splits the wall time into the records' phase and the photos' phase."""

    def __init__(self, home: Path, started: float) -> None:
        self.path = home / STORE_NAME
        self.started = started
        self.began: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and self.began is None:
            try:
                store = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
                try:
                    (touched,) = store.execute(
                        "SELECT count(*) FROM photo_file "
                        "WHERE on_server = 1 OR upload_url IS NOT NULL"
                    ).fetchone()
                finally:
                    store.close()
            except sqlite3.Error:
                touched = 0
            if touched:
                self.began = time.perf_counter() - self.started
            self._stop.wait(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        if self.began is None:
            raise BenchError("the sync never began uploading photos")
        return self.began


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds a running process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU seconds of the finished child processes of this one (the field-client runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- one run --------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    finds_per_s: float
    photo_mb_per_s: float
    wire_bytes: int
    payload_bytes: int
    second_sync_s: float
    second_wire_bytes: int
    second_records_sent: int
    second_photos_uploaded: int
    ceiling_mb_per_s: float
    server_cpu_s: float
    client_cpu_s: float


def one_run(args: argparse.Namespace, work: Path, photos_dir: Path, photo_bytes: int) -> Run:
    sites = load_sites()
    with fresh_store("sqlite", work, sites, "") as env:
        with running_server(env, work) as server:
            relay = Relay(server.port)
            try:
                laptop = Laptop(Path(tempfile.mkdtemp(prefix="laptop-", dir=work)))
                laptop.run(
                    "login",
                    "--server",
                    f"http://127.0.0.1:{relay.port}",
                    "--username",
                    RECORDER,
                    "--password-stdin",
                    stdin=PASSWORD + "\n",
                )
                laptop.run("survey", "start", "--expedition", EXPEDITION, "--title", "Өлшеу")
                record_finds(laptop.home, args.finds, sites[0])
                laptop.run("import", "photos", str(photos_dir))
                records = payload_bytes(laptop.home)

                relay.reset()
                server_cpu = process_cpu_s(server.process.pid)
                client_cpu = children_cpu_s()
                started = time.perf_counter()
                watch = UploadWatch(laptop.home, started)
                first = laptop.json("sync")
                wall = time.perf_counter() - started
                server_cpu = process_cpu_s(server.process.pid) - server_cpu
                client_cpu = children_cpu_s() - client_cpu
                uploads_began = watch.stop()
                up, down, _ = relay.counts()
                if (
                    first.get("photos_uploaded") != args.photos
                    or first["records_sent"] < args.finds
                ):
                    raise BenchError(f"the first sync left something out: {first}")

                relay.reset()
                started = time.perf_counter()
                second = laptop.json("sync")
                second_s = time.perf_counter() - started
                up2, down2, _ = relay.counts()
            finally:
                relay.close()
        ceiling = disk_ceiling(sorted(photos_dir.iterdir()), work / "ceiling")
        return Run(
            wall_s=wall,
            finds_per_s=args.finds / uploads_began,
            photo_mb_per_s=photo_bytes / 1e6 / (wall - uploads_began),
            wire_bytes=up + down,
            payload_bytes=records + photo_bytes,
            second_sync_s=second_s,
            second_wire_bytes=up2 + down2,
            second_records_sent=int(second["records_sent"]),
            second_photos_uploaded=int(second.get("photos_uploaded", 0)),
            ceiling_mb_per_s=ceiling,
            server_cpu_s=server_cpu,
            client_cpu_s=client_cpu,
        )


# -- the table ------------------------------------------------------------------------------


def _median(runs: list[Run], name: str) -> float:
    return float(statistics.median(getattr(run, name) for run in runs))


def print_table(runs: list[Run], args: argparse.Namespace, photo_bytes: int) -> None:
    ceiling = _median(runs, "ceiling_mb_per_s")
    photo_rate = _median(runs, "photo_mb_per_s")
    wire = _median(runs, "wire_bytes")
    payload = _median(runs, "payload_bytes")
    second_s = _median(runs, "second_sync_s")
    resent = max(r.second_records_sent + r.second_photos_uploaded for r in runs)
    rows = [
        ("first sync, wall time", f"{_median(runs, 'wall_s'):.1f} s", "—", ""),
        ("finds/s (records phase)", f"{_median(runs, 'finds_per_s'):,.0f}", "—", ""),
        (
            "photos, MB/s (upload phase)",
            f"{photo_rate:.1f}",
            f"≥ {ceiling / 2:.1f}",
            "met" if photo_rate >= CEILING_SHARE_TARGET * ceiling else "MISSED",
        ),
        ("disk ceiling: SHA-256 + fsync, MB/s", f"{ceiling:.1f}", "—", ""),
        (
            "first sync, CPU s: server / client",
            f"{_median(runs, 'server_cpu_s'):.1f} / {_median(runs, 'client_cpu_s'):.1f}",
            "—",
            "",
        ),
        (
            "bytes on the wire / payload",
            f"{wire / 1e6:,.1f} MB / {payload / 1e6:,.1f} MB = {wire / payload:.3f}",
            "—",
            "",
        ),
        (
            "second sync, wall time",
            f"{second_s:.2f} s",
            f"≤ {SECOND_SYNC_TARGET_S:.0f} s",
            "met" if second_s <= SECOND_SYNC_TARGET_S else "MISSED",
        ),
        (
            "second sync, records + photos re-sent",
            f"{resent}",
            "0",
            "met" if resent == 0 else "MISSED",
        ),
        (
            "second sync, bytes on the wire",
            f"{_median(runs, 'second_wire_bytes') / 1e3:,.1f} kB",
            "—",
            "",
        ),
    ]
    print(
        f"\nField client sync: {args.finds:,} finds, {args.photos} photos "
        f"({photo_bytes / 1e6:,.0f} MB), SQLite server on loopback, median of {len(runs)}"
    )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("measure", "median", "target", "")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finds", type=int, default=10_000, help="finds to sync (10,000)")
    parser.add_argument("--photos", type=int, default=300, help="photos to sync (300)")
    parser.add_argument("--photo-mb", type=float, default=3.0, help="MB per photo (3)")
    parser.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh store (1)")
    args = parser.parse_args(argv)
    if min(args.finds, args.photos, args.repeat) < 1 or args.photo_mb <= 0:
        parser.error("--finds, --photos and --repeat must be at least 1, --photo-mb above 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qazba-client-bench-") as temporary:
        work = Path(temporary)
        photos_dir = work / "card"
        print(f"making {args.photos} photos of ~{args.photo_mb:g} MB …", file=sys.stderr)
        photo_bytes = make_photos(photos_dir, args.photos, args.photo_mb)
        runs: list[Run] = []
        try:
            for number in range(1, args.repeat + 1):
                print(f"run {number}/{args.repeat} …", file=sys.stderr)
                runs.append(one_run(args, work, photos_dir, photo_bytes))
                if (work / "ceiling").exists():
                    _clear(work / "ceiling")
        except BenchError as error:
            print(f"client_sync_bench: {error}", file=sys.stderr)
            return 1
        print_table(runs, args, photo_bytes)
    return 0


def _clear(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    sys.exit(main())
