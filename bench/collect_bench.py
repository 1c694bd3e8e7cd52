"""The phones benchmark: finds with a photo each sent by OpenRosa, as ODK Collect sends them, to a
real ``field-server serve`` and to a real ``field-client collect serve``, against the tus photo
path of the same server in the same run; then the peak memory of each while 50 MB bodies are in
flight.

    .venv/bin/python bench/collect_bench.py [--submissions 2000] [--phones 4] [--repeat 1]
        [--backend sqlite|postgresql] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

See bench/README.md, "Phones (OpenRosa)". It prints figures and exits non-zero only when a run
could not be completed or an answer was wrong (a submission refused, a find or photo missing
afterwards); a missed target is a finding, printed as ``NO``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from PIL import Image
from shapely.geometry import Point, shape
from shapely.prepared import prep
from sync_bench import (
    BIN,
    DESCRIPTIONS,
    EXPEDITION,
    MATERIAL_WEIGHTS,
    OBJECTS,
    PASSWORD,
    PG_ADMIN_URL,
    RECORDER,
    BenchError,
    RssSampler,
    Site,
    free_port,
    fresh_store,
    load_sites,
    postgres_note,
    running_server,
)

FIELD_CLIENT = BIN / "field-client"
SITE = "DMB"
KZ_TIME = timezone(timedelta(hours=5))
OPENROSA = {"X-OpenRosa-Version": "1.0"}
XML_PART = "xml_submission_file"
RATIO_TARGET = 0.8
MEMORY_TARGET_MB = 300.0
# A phone photo's size and shape: 2304 × 1728 of camera-like noise at quality 85 is about 3 MB.
PHOTO_SIDES = (2304, 1728)
PHOTO_QUALITY = 85
BIG_BODY_MARGIN = 16 * 1024  # the form, the part headers and the boundary, under the limit


# -- what the phones send -----------------------------------------------------------------


class Photos:
    """One JPEG shared by every submission, each copy made different by 32 bytes after its end
    (phones append trailers there too), so no two photos share a SHA-256 and nothing dedups.
    The shared part is hashed once: each photo's digest is that state plus its own tail."""

    def __init__(self, jpeg: bytes, padding: int = 0) -> None:
        # a 50 MB photo: the same picture with a long trailer, so a body reaches the limit
        self.body = memoryview(jpeg + os.urandom(padding))
        self._state = hashlib.sha256(self.body)

    @property
    def size(self) -> int:
        return len(self.body) + 32

    @staticmethod
    def size_of(sent: Sent) -> float:
        """The photo size a phase sent, on average."""
        return sent.photo_bytes / sent.submissions if sent.submissions else 0.0

    def tail(self) -> bytes:
        return secrets.token_bytes(32)

    def sha256(self, tail: bytes) -> bytes:
        state = self._state.copy()
        state.update(tail)
        return state.digest()


def camera_jpeg() -> bytes:
    width, height = PHOTO_SIDES
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    encoded = io.BytesIO()
    image.save(encoded, "JPEG", quality=PHOTO_QUALITY)
    return encoded.getvalue()


class FindMaker:
    """The values a recorder enters on the phone: a point inside the site, a material and an
    object name of it, a description; reproducible from each phone's own seed. Finds that
    differ as a season's do, so duplicate detection weighs them as it would real ones."""

    def __init__(self, site: Site) -> None:
        # about 10 m inside the boundary, so no find is flagged as outside its site
        self.polygon = shape(site.boundary).buffer(-0.00015)
        self.prepared = prep(self.polygon)
        self.materials = list(OBJECTS)
        self.weights = [MATERIAL_WEIGHTS.get(m, 1) for m in self.materials]

    def answers(self, rng: random.Random) -> dict[str, str]:
        west, south, east, north = self.polygon.bounds
        while True:
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            if self.prepared.contains(Point(lon, lat)):
                break
        material = rng.choices(self.materials, self.weights)[0]
        altitude, accuracy = rng.uniform(420, 436), rng.uniform(2, 4.5)
        return {
            "material": material,
            "object_name": rng.choice(OBJECTS[material]),
            "description": rng.choice(DESCRIPTIONS),
            "weight_g": f"{rng.uniform(0.4, 900.0):.1f}",
            "length_mm": f"{rng.uniform(3, 180):.1f}",
            "position": f"{lat:.7f} {lon:.7f} {altitude:.1f} {accuracy:.1f}",
            "depth_m": f"{rng.uniform(0.05, 2.4):.2f}",
        }


def instance_xml(values: dict[str, str], photo_name: str, find_number: str) -> bytes:
    """A form instance as ODK Collect writes it (no default namespace)."""
    now = datetime.now(KZ_TIME)
    answers = {
        "start": (now - timedelta(minutes=3)).isoformat(timespec="milliseconds"),
        "end": now.isoformat(timespec="milliseconds"),
        "site_code": SITE,
        "trench": "Қазба 2",
        "context": "Қабат 3",
        "find_number": find_number,
        "kind": "small_find",
        "material": values["material"],
        "object_name": values["object_name"],
        "description": values["description"],
        "quantity": "1",
        "weight_g": values["weight_g"],
        "length_mm": values["length_mm"],
        "width_mm": "",
        "height_mm": "",
        "condition": "",
        "position": values["position"],
        "depth_m": values["depth_m"],
        "found_on": now.date().isoformat(),
        "notes": "",
    }
    body = "".join(
        f"<{name}/>" if value == "" else f"<{name}>{escape(value)}</{name}>"
        for name, value in answers.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<find xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
        f'id="qazba_find" version="bench">{body}<photos><photo>{photo_name}</photo></photos>'
        f"<meta><instanceID>uuid:{uuid.uuid4()}</instanceID>"
        f"<instanceName>{escape(values['object_name'])}</instanceName></meta></find>"
    ).encode()


def _connect(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.connect()
    assert connection.sock is not None
    # headers and body go in separate sends: with Nagle the body waits for a delayed ACK
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


@dataclass
class Sent:
    """What one phase sent: requests answered, photo bytes, seconds, bodies' bytes."""

    submissions: int = 0
    photo_bytes: int = 0
    body_bytes: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the receiving process's, user and system

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per request: what other load on the machine changes least."""
        return self.cpu_seconds * 1000 / self.submissions if self.submissions else 0.0

    @property
    def per_second(self) -> float:
        return self.submissions / self.seconds if self.seconds else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.photo_bytes / 1e6 / self.seconds if self.seconds else 0.0


def path_seed(path: str) -> int:
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big")


class Phone:
    """One phone with ODK Collect: one keep-alive HTTP/1.1 connection, HEAD then POST per
    submission, as Collect does."""

    def __init__(self, port: int, server_url: str, numbers: Callable[[int], str]) -> None:
        self.port = port
        self.path = urlsplit(server_url).path
        self.numbers = numbers
        self.rng = random.Random(path_seed(self.path))
        self.connection = _connect(port)
        self.sent = Sent()

    def _exchange(
        self, method: str, path: str, headers: dict[str, str], body: list[bytes | memoryview]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        self.connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            self.connection.putheader(name, value)
        self.connection.endheaders()
        for piece in body:
            self.connection.send(piece)
        response = self.connection.getresponse()
        payload = response.read()
        if response.will_close:
            self.connection.close()
            self.connection = _connect(self.port)
        return response.status, response.msg, payload

    def form(self) -> None:
        """The form list and the form, once, as a phone does before its first find."""
        for address in ("/formList", "/forms/qazba_find.xml"):
            status, _, payload = self._exchange("GET", self.path + address, OPENROSA, [])
            if status != 200:
                raise BenchError(f"GET {address}: {status} {payload[:300]!r}")

    def submit(self, photos: Photos, finds: FindMaker, index: int) -> None:
        status, headers, _ = self._exchange("HEAD", self.path + "/submission", OPENROSA, [])
        if status != 204 or headers.get("X-OpenRosa-Version") != "1.0":
            raise BenchError(f"HEAD submission: {status}")
        limit = int(headers.get("X-OpenRosa-Accept-Content-Length", "0"))
        photo_name = f"{int(time.time() * 1000)}{index:06d}.jpg"
        xml = instance_xml(finds.answers(self.rng), photo_name, self.numbers(index))
        boundary = secrets.token_hex(16)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{XML_PART}"; '
            'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode() + xml
        head += (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="{photo_name}"; '
            f'filename="{photo_name}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        tail = photos.tail()
        end = f"\r\n--{boundary}--\r\n".encode()
        length = len(head) + photos.size + len(end)
        if length > limit:
            raise BenchError(f"a body of {length:,} bytes is over the phone's limit {limit:,}")
        headers_out = {
            **OPENROSA,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(length),
        }
        status, answer_headers, payload = self._exchange(
            "POST", self.path + "/submission", headers_out, [head, photos.body, tail + end]
        )
        if status != 201 or answer_headers.get("X-OpenRosa-Version") != "1.0":
            raise BenchError(f"POST submission: {status} {payload[:400]!r}")
        self.sent.submissions += 1
        self.sent.photo_bytes += photos.size
        self.sent.body_bytes += length

    def close(self) -> None:
        self.connection.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (its threads included)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, phase: Callable[[], Sent]) -> Sent:
    """What ``phase`` sent, with the CPU time the receiving process ``pid`` spent meanwhile."""
    before = cpu_seconds(pid)
    sent = phase()
    sent.cpu_seconds = cpu_seconds(pid) - before
    return sent


def in_threads(count: int, work: Callable[[int], None]) -> float:
    """Run ``work(i)`` for i < count on threads started together; the seconds they took.
    The first failure is raised once all have ended."""
    failures: list[BaseException] = []
    start = threading.Barrier(count + 1)

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as error:  # re-raised below, on the main thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return elapsed


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def send_finds(
    port: int,
    urls: list[str],
    photos: Photos,
    finds: FindMaker,
    total: int,
    numbers: Callable[[int, int], str],
) -> Sent:
    """``total`` submissions from len(urls) phones at once, each phone its share."""
    counts = shares(total, len(urls))
    phones = [Phone(port, url, lambda n, p=p: numbers(p, n)) for p, url in enumerate(urls)]
    for phone in phones:
        phone.form()

    def run(index: int) -> None:
        for n in range(counts[index]):
            phones[index].submit(photos, finds, n)

    return _all_sent(phones, run)


def send_until(
    port: int,
    urls: list[str],
    photos: Photos,
    finds: FindMaker,
    seconds: float,
    numbers: Callable[[int, int], str],
) -> Sent:
    """Every phone sends submissions back to back until ``seconds`` have passed."""
    phones = [Phone(port, url, lambda n, p=p: numbers(p, n)) for p, url in enumerate(urls)]
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            phones[index].submit(photos, finds, n)
            n += 1

    return _all_sent(phones, run)


def _all_sent(phones: list[Phone], run: Callable[[int], None]) -> Sent:
    """Every phone running ``run`` on a thread of its own; what they sent, all told."""
    try:
        seconds = in_threads(len(phones), run)
    finally:
        for phone in phones:
            phone.close()
    sent = Sent(seconds=seconds)
    for phone in phones:
        sent.submissions += phone.sent.submissions
        sent.photo_bytes += phone.sent.photo_bytes
        sent.body_bytes += phone.sent.body_bytes
    return sent


# -- the tus photo path, as the field client drives it -------------------------------------


def login(port: int, device: str) -> str:
    connection = _connect(port)
    try:
        body = json.dumps(
            {"username": RECORDER, "password": PASSWORD, "device_name": device}
        ).encode()
        connection.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if response.status != 201:
        raise BenchError(f"login: {response.status} {payload[:300]!r}")
    return str(json.loads(payload)["token"])


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def upload_photos(port: int, clients: int, photos: Photos, total: int) -> Sent:
    """``total`` photos by tus from ``clients`` laptops at once: create, then one PATCH with
    its SHA-256 checksum (a photo is smaller than the field client's 8 MB chunk)."""
    tokens = [login(port, f"bench laptop {i + 1}") for i in range(clients)]
    counts = shares(total, clients)
    uploaded = [0] * clients

    def run(index: int) -> None:
        connection = _connect(port)
        auth = {"Authorization": f"Bearer {tokens[index]}", "Tus-Resumable": "1.0.0"}
        try:
            for _ in range(counts[index]):
                tail = photos.tail()
                digest = photos.sha256(tail)
                metadata = f"sha256 {_b64(digest.hex().encode())},filename {_b64(b'IMG.JPG')}"
                connection.request(
                    "POST",
                    "/api/v1/uploads",
                    headers={
                        **auth,
                        "Upload-Length": str(photos.size),
                        "Upload-Metadata": metadata,
                    },
                )
                response = connection.getresponse()
                payload = response.read()
                location = response.getheader("Location")
                if response.status != 201 or not location:
                    raise BenchError(f"tus create: {response.status} {payload[:300]!r}")
                connection.putrequest("PATCH", urlsplit(location).path)
                for name, value in {
                    **auth,
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(photos.size),
                    "Upload-Offset": "0",
                    "Upload-Checksum": f"sha256 {_b64(digest)}",
                }.items():
                    connection.putheader(name, value)
                connection.endheaders()
                connection.send(photos.body)
                connection.send(tail)
                response = connection.getresponse()
                payload = response.read()
                if response.status != 204 or response.getheader("Upload-Offset") != str(
                    photos.size
                ):
                    raise BenchError(f"tus PATCH: {response.status} {payload[:300]!r}")
                uploaded[index] += 1
                if response.will_close:
                    connection.close()
                    connection = _connect(port)
        finally:
            connection.close()

    seconds = in_threads(clients, run)
    done = sum(uploaded)
    return Sent(done, done * photos.size, done * photos.size, seconds)


# -- the server and the laptop -------------------------------------------------------------


def api(port: int, token: str, method: str, path: str, body: Any = None) -> Any:
    connection = _connect(port)
    try:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, data, headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if response.status not in (200, 201):
        raise BenchError(f"{method} {path}: {response.status} {payload[:300]!r}")
    return json.loads(payload)


def server_keys(port: int, token: str, phones: int) -> list[str]:
    """One key per phone, issued by the expedition's leader as on the keys page."""
    urls = []
    for index in range(phones):
        issued = api(
            port,
            token,
            "POST",
            f"/api/v1/expeditions/{EXPEDITION}/collect-keys",
            {"username": RECORDER, "device_name": f"bench phone {index + 1}"},
        )
        urls.append(str(issued["server_url"]))
    return urls


def check_server(
    port: int, token: str, data_dir: Path, phone_finds: int, tus_photos: int
) -> Counter[str]:
    """Every submission filed as a find with its photo, every photo in the store; the
    submissions' statuses."""
    statuses: Counter[str] = Counter()
    after, more, submissions = 0, True, 0
    while more:
        page = api(
            port,
            token,
            "GET",
            f"/api/v1/expeditions/{EXPEDITION}/collect-submissions?after={after}&limit=500",
        )
        for row in page["submissions"]:
            submissions += 1
            statuses[row["status"]] += 1
            if row["find_uuid"] is None or len(row["attachments_received"]) != 1:
                raise BenchError(f"submission {row['id']} made no find with its photo: {row}")
        after, more = page["after"], page["more"]
    if submissions != phone_finds:
        raise BenchError(f"the server holds {submissions} submissions; {phone_finds} were sent")
    kinds: Counter[str] = Counter()
    cursor, more = 0, True
    while more:
        page = api(port, token, "GET", f"/api/v1/sync/pull?since={cursor}&limit=5000")
        kinds.update(change["type"] for change in page["changes"])
        cursor, more = page["cursor"], page["more"]
    if kinds["find"] != phone_finds or kinds["photo"] != phone_finds:
        raise BenchError(
            f"the server holds {kinds['find']} finds and {kinds['photo']} photo records; "
            f"{phone_finds} were sent"
        )
    blobs = _blobs(data_dir)
    if blobs != phone_finds + tus_photos:
        raise BenchError(
            f"the photo store holds {blobs} photos; {phone_finds} came with finds and "
            f"{tus_photos} by tus"
        )
    return statuses


_SHA256_NAME = re.compile(r"[0-9a-f]{64}")


def _blobs(folder: Path) -> int:
    return sum(
        1 for _, _, names in os.walk(folder) for name in names if _SHA256_NAME.fullmatch(name)
    )


@dataclass
class Laptop:
    """A field laptop's home, logged in to the server, with a key per phone."""

    home: Path
    env: dict[str, str]
    urls: list[str] = field(default_factory=list)

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(FIELD_CLIENT), *args],
            env=self.env,
            input=stdin,
            text=True,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(
                f"field-client {args[0]} failed: {(done.stderr or done.stdout)[-600:]}"
            )
        return done.stdout


def set_up_laptop(work: Path, server_port: int, laptop_port: int, phones: int) -> Laptop:
    home = Path(tempfile.mkdtemp(prefix="laptop-", dir=work))
    laptop = Laptop(home, {**os.environ, "FIELD_CLIENT_HOME": str(home)})
    base = f"http://127.0.0.1:{server_port}"
    # the login takes the reference (the form's sites and materials) and a block of numbers
    laptop.run(
        "login",
        "--server",
        base,
        "--username",
        RECORDER,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    laptop.run("survey", "start", "--expedition", EXPEDITION, "--title", "Лагерь / camp")
    for index in range(phones):
        answer = json.loads(
            laptop.run(
                "collect",
                "key",
                RECORDER,
                "--device",
                f"phone {index + 1}",
                "--url",
                f"http://127.0.0.1:{laptop_port}",
                "--json",
            )
        )
        laptop.urls.append(str(answer["server_url"]))
    return laptop


@contextmanager
def camp_server(laptop: Laptop, port: int) -> Iterator[RssSampler]:
    log = laptop.home.parent / f"collect-serve-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(FIELD_CLIENT), "collect", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=laptop.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    rss = RssSampler(process.pid)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise BenchError(f"collect serve exited ({process.returncode}) while starting")
            try:
                _connect(port).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("collect serve did not start within 30 s") from None
                time.sleep(0.1)
        yield rss
    except BaseException:
        tail = log.read_text("utf-8", "replace").splitlines()[-15:]
        print("  collect serve log (last lines):\n    " + "\n    ".join(tail), file=sys.stderr)
        raise
    finally:
        rss.stop()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_laptop(laptop: Laptop, finds: int) -> None:
    pending = json.loads(laptop.run("status", "--json"))["pending"]
    wanted = {"find": finds, "photo": finds, "submission": finds}
    if any(pending.get(kind) != count for kind, count in wanted.items()):
        raise BenchError(f"the laptop's outbox holds {pending}; {finds} finds were sent")
    blobs = _blobs(laptop.home / "photos")
    if blobs != finds:
        raise BenchError(f"the laptop's photo folder holds {blobs} photos; {finds} were sent")


# -- one run ------------------------------------------------------------------------------


@dataclass
class Run:
    figures: dict[str, Sent] = field(default_factory=dict)
    peaks_mb: dict[str, float] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)


SERVER = "phones → server"
TUS = "tus → server"
LAPTOP = "phones → laptop"
SERVER_50 = "phones → server, 50 MB bodies"
LAPTOP_50 = "phones → laptop, 50 MB bodies"
SERVER_HWM = "server during the timed phases"


def blank_number(phone: int, n: int) -> str:
    return ""  # the server gives each find the expedition's next number


def typed_number(phone: int, n: int) -> str:
    # the laptop's reserved block is 100 numbers: phones in camp type theirs
    return f"P{phone + 1}-{n + 1:06d}"


def big_number(phone: int, n: int) -> str:
    return f"B{phone + 1}-{n + 1:06d}-{secrets.token_hex(3)}"


def run_once(
    args: argparse.Namespace, work: Path, sites: list[Site], photos: Photos, big: Photos
) -> Run:
    run = Run()
    finds = FindMaker(next(s for s in sites if s.code == SITE))
    total = args.submissions
    with fresh_store(args.backend, work, sites, args.database_url) as env:
        data_dir = Path(env["FIELD_SERVER_DATA_DIR"])
        with running_server(env, work) as server:
            pid, port = server.process.pid, server.port
            token = login(port, "bench leader's laptop")
            urls = server_keys(port, token, args.phones)
            run.figures[SERVER] = measured(
                pid, lambda: send_finds(port, urls, photos, finds, total, blank_number)
            )
            run.figures[TUS] = measured(
                pid, lambda: upload_photos(port, args.phones, photos, total)
            )
            # the high-water mark of the timed phases, before the checks' pulls of every record
            server.rss.stop()
            run.peaks_mb[SERVER_HWM] = server.rss.hwm_kb / 1024
            run.statuses = check_server(port, token, data_dir, total, total)
            if not args.skip_laptop:
                laptop_port = free_port()
                laptop = set_up_laptop(work, port, laptop_port, args.phones)
                try:
                    with camp_server(laptop, laptop_port) as rss:
                        run.figures[LAPTOP] = measured(
                            rss.pid,
                            lambda: send_finds(
                                laptop_port, laptop.urls, photos, finds, total, typed_number
                            ),
                        )
                    check_laptop(laptop, total)
                finally:
                    shutil.rmtree(laptop.home, ignore_errors=True)
        if args.memory_seconds > 0:
            # a server process of its own: its high-water mark is this phase's alone
            with running_server(env, work) as server:
                pid, port = server.process.pid, server.port
                urls = server_keys(port, login(port, "bench leader"), args.phones)
                run.figures[SERVER_50] = measured(
                    pid,
                    lambda: send_until(port, urls, big, finds, args.memory_seconds, blank_number),
                )
                server.rss.stop()
                run.peaks_mb[SERVER_50] = server.rss.hwm_kb / 1024
                if not args.skip_laptop:
                    laptop_port = free_port()
                    laptop = set_up_laptop(work, port, laptop_port, args.phones)
                    try:
                        with camp_server(laptop, laptop_port) as rss:
                            run.figures[LAPTOP_50] = measured(
                                rss.pid,
                                lambda: send_until(
                                    laptop_port,
                                    laptop.urls,
                                    big,
                                    finds,
                                    args.memory_seconds,
                                    big_number,
                                ),
                            )
                            rss.stop()
                            run.peaks_mb[LAPTOP_50] = rss.hwm_kb / 1024
                        check_laptop(laptop, run.figures[LAPTOP_50].submissions)
                    finally:
                        shutil.rmtree(laptop.home, ignore_errors=True)
    return run


# -- report ---------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(
    runs: list[Run], args: argparse.Namespace, load: tuple[float, ...], started: datetime
) -> None:
    photo_mb = Photos.size_of(runs[0].figures[SERVER]) / 1e6
    print(
        f"\nQazba phones benchmark — {args.submissions:,} submissions of one {photo_mb:.2f} MB "
        f"photo from {args.phones} phones; {args.backend}; {len(runs)} run(s), medians; "
        f"{os.cpu_count()} CPUs; {started:%Y-%m-%d %H:%M}–{datetime.now(UTC):%H:%M} UTC; "
        f"load average {' '.join(f'{x:.2f}' for x in load)} before, "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after\n"
    )
    print(
        f"  {'phase':<34} {'requests/s':>10} {'MB/s':>8} {'seconds':>8} "
        f"{'CPU ms/request':>15}  requests"
    )
    names = [SERVER, TUS, LAPTOP, SERVER_50, LAPTOP_50]
    medians: dict[str, float] = {}
    for name in names:
        sent = [r.figures[name] for r in runs if name in r.figures]
        if not sent:
            continue
        rate = _median([s.per_second for s in sent])
        medians[name] = _median([s.mb_per_second for s in sent])
        seconds = _median([s.seconds for s in sent])
        cpu = _median([s.cpu_ms for s in sent])
        count = int(_median([float(s.submissions) for s in sent]))
        print(
            f"  {name:<34} {rate:>10.1f} {medians[name]:>8.1f} {seconds:>8.1f} {cpu:>15.1f}"
            f"  {count:,}"
        )
    print()
    for name in (SERVER, LAPTOP):
        if name in medians and medians.get(TUS):
            ratios = [r.figures[name].mb_per_second / r.figures[TUS].mb_per_second for r in runs]
            ratio = _median(ratios)
            verdict = "yes" if ratio >= RATIO_TARGET else "NO"
            print(
                f"  {name} against tus → server (same run): {ratio:.2f} "
                f"(target ≥ {RATIO_TARGET:.2f}: {verdict})"
            )
    for name in (SERVER_HWM, SERVER_50, LAPTOP_50):
        peaks = [r.peaks_mb[name] for r in runs if name in r.peaks_mb]
        if peaks:
            peak = max(peaks)
            verdict = "yes" if peak <= MEMORY_TARGET_MB else "NO"
            print(
                f"  peak memory (VmHWM), {name}: {peak:.0f} MB "
                f"(target ≤ {MEMORY_TARGET_MB:.0f}: {verdict})"
            )
    statuses = sum((r.statuses for r in runs), Counter())
    print(f"  submissions on the server by status, all runs: {dict(statuses)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000, help="finds with a photo each")
    parser.add_argument("--phones", type=int, default=4, help="phones (and tus clients) at once")
    parser.add_argument("--repeat", type=int, default=1, help="runs; figures are medians")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--database-url",
        default=PG_ADMIN_URL,
        help="PostgreSQL server URL where each run's database is created and dropped",
    )
    parser.add_argument(
        "--memory-seconds",
        type=float,
        default=15.0,
        help="how long the phones send 50 MB bodies while memory is sampled (0 skips it)",
    )
    parser.add_argument(
        "--body-mb", type=float, default=50.0, help="the large bodies' size, in MiB (the limit)"
    )
    parser.add_argument("--skip-laptop", action="store_true", help="the server only")
    args = parser.parse_args(argv)
    if args.submissions < args.phones or args.phones < 1 or args.repeat < 1:
        parser.error("--submissions ≥ --phones ≥ 1 and --repeat ≥ 1")
    return args


class _Stopped(Exception):
    pass


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Stopped()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    for program in (BIN / "field-server", FIELD_CLIENT):
        if not program.exists():
            print(f"collect_bench: {program} not found (make install)", file=sys.stderr)
            return 2
    sites = load_sites()
    load = os.getloadavg()
    jpeg = camera_jpeg()
    photos = Photos(jpeg)
    body_bytes = int(args.body_mb * 1024 * 1024)
    big = Photos(jpeg, padding=max(0, body_bytes - BIG_BODY_MARGIN - len(jpeg) - 32))
    if args.backend == "postgresql":
        print(postgres_note(args.database_url))
    runs: list[Run] = []
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="qazba-collect-bench-") as folder:
        try:
            for repetition in range(args.repeat):
                print(f"run {repetition + 1} of {args.repeat} …", file=sys.stderr, flush=True)
                run_started = datetime.now(UTC)
                runs.append(run_once(args, Path(folder), sites, photos, big))
                if args.repeat > 1:  # each run's own figures as it ends, the medians last
                    report(runs[-1:], args, load, run_started)
        except (BenchError, OSError, http.client.HTTPException, _Stopped) as error:
            print(f"collect_bench: {type(error).__name__}: {error}", file=sys.stderr)
            if runs:
                report(runs, args, load, started)
            return 1
    report(runs, args, load, started)
    return 0


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
