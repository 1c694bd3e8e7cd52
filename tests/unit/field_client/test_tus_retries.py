"""The field client's tus uploads when things go wrong: damaged chunks, a server elsewhere than
the client thought, server errors and dropped connections, and uploads the server forgot.

The server is a small tus server on a loopback port in this process that keeps uploads in
memory, checks chunk checksums, and answers the faults a test queues for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from field_client import photo_files
from field_client.errors import ClientError, ServerUnreachable
from field_client.photo_sync import sync_photos
from field_client.store import Store
from field_client.transport import RetryPolicy, Transport
from field_client.tus import PhotoUpload, TusClient, UploadGone

UPLOADS = "/api/v1/uploads"
CHUNK = 4096
DROP = 0  # a fault that closes the connection without an answer


@dataclass
class Fault:
    status: int
    keep: int = 0  # bytes of the PATCH body the server keeps before it answers
    headers: dict[str, str] = field(default_factory=dict)


class TusServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lengths: dict[str, int] = {}
        self.received: dict[str, bytearray] = {}
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self.forgotten: dict[str, int] = {}  # upload path → the status it answers
        self.digests: dict[str, str] = {}  # upload path → the sha256 of its metadata
        self.broken: set[str] = set()  # sha256s whose every PATCH answers 500
        self.seen: list[tuple[str, int, int]] = []  # method, Upload-Offset sent (or -1), status
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def fault(self, method: str, *faults: Fault) -> None:
        self.faults[method].extend(faults)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TusServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read ``seen``."""

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/api/v1/photos/missing":
            asked = json.loads(body)["sha256"]
            self._answer("POST", 200, body=json.dumps({"missing": asked}).encode())
        elif not self._faulted("POST", b""):
            with self.server.lock:
                path = f"{UPLOADS}/{len(self.server.lengths) + 1:032x}"
                self.server.lengths[path] = int(self.headers["Upload-Length"])
                self.server.received[path] = bytearray()
                metadata = dict(
                    pair.split(" ") for pair in self.headers["Upload-Metadata"].split(",")
                )
                self.server.digests[path] = base64.b64decode(metadata["sha256"]).decode()
            self._answer("POST", 201, {"Location": self.server.url + path})

    def do_HEAD(self) -> None:
        if self._faulted("HEAD", b"") or self._forgotten("HEAD"):
            return
        self._answer(
            "HEAD",
            200,
            {
                "Upload-Offset": str(len(self.server.received[self.path])),
                "Upload-Length": str(self.server.lengths[self.path]),
            },
        )

    def do_PATCH(self) -> None:
        body = self._body()
        if self._forgotten("PATCH") or self._faulted("PATCH", body):
            return
        if self.server.digests.get(self.path) in self.server.broken:
            self._answer("PATCH", 500)
            return
        received = self.server.received[self.path]
        offset = int(self.headers["Upload-Offset"])
        algorithm, digest = self.headers["Upload-Checksum"].split(" ")
        if offset != len(received):
            self._answer("PATCH", 409)
        elif base64.b64decode(digest) != hashlib.new(algorithm, body).digest():
            self._answer("PATCH", 460)
        else:
            received += body
            self._answer("PATCH", 204, {"Upload-Offset": str(len(received))})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _faulted(self, method: str, body: bytes) -> bool:
        with self.server.lock:
            queued = self.server.faults[method]
            fault = queued.pop(0) if queued else None
        if fault is None:
            return False
        if method == "PATCH" and fault.keep:
            received = self.server.received[self.path]
            if int(self.headers["Upload-Offset"]) == len(received):
                received += body[: fault.keep]
        if fault.status == DROP:
            self._log(method, DROP)
            self.close_connection = True
            self.wfile.flush()
            self.connection.close()
        else:
            self._answer(method, fault.status, fault.headers)
        return True

    def _forgotten(self, method: str) -> bool:
        status = self.server.forgotten.get(self.path)
        if status is None and self.path in self.server.lengths:
            return False
        self._answer(method, status or 404)
        return True

    def _log(self, method: str, status: int) -> None:
        offset = self.headers.get("Upload-Offset")
        self.server.seen.append((method, int(offset) if offset else -1, status))

    def _answer(
        self, method: str, status: int, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        self._log(method, status)
        self.send_response(status)
        self.send_header("Tus-Resumable", "1.0.0")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[TusServer]:
    running = TusServer()
    thread = threading.Thread(target=running.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join()


@dataclass
class Laptop:
    tus: TusClient
    transport: Transport
    waits: list[float]


@pytest.fixture
def laptop(server: TusServer) -> Iterator[Laptop]:
    waits: list[float] = []
    retry = RetryPolicy(attempts=5, first_delay_s=0.5, max_delay_s=8.0)
    transport = Transport(server.url, "token", retry=retry, sleep=waits.append)
    tus = TusClient(transport, chunk_bytes=CHUNK, sleep=waits.append)
    yield Laptop(tus, transport, waits)
    tus.close()
    transport.close()


def photo_of(tmp_path: Path, size: int = 10_000, seed: int = 1) -> PhotoUpload:
    data = bytes((i * 7 + seed) % 251 for i in range(size))
    path = tmp_path / f"photo-{seed}"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    return PhotoUpload(sha, path, size, f"{sha}.jpg")


def patches(server: TusServer) -> list[tuple[int, int]]:
    return [(offset, status) for method, offset, status in server.seen if method == "PATCH"]


def test_a_chunk_the_server_found_damaged_is_sent_again_at_once(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path)
    path = laptop.tus.create(photo)
    server.fault("PATCH", Fault(460))
    laptop.tus.send(path, photo, fresh=True)
    assert bytes(server.received[path]) == photo.path.read_bytes()
    assert patches(server)[:2] == [(0, 460), (0, 204)]
    assert ("HEAD", -1, 200) in server.seen
    assert laptop.waits == []  # a damaged chunk is no reason to wait


def test_a_laptop_copy_damaged_since_import_is_refused_not_stored(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path, size=3000)  # one chunk: it carries the digest of the import
    damaged = bytearray(photo.path.read_bytes())
    damaged[100] ^= 0xFF
    photo.path.write_bytes(bytes(damaged))
    path = laptop.tus.create(photo)
    with pytest.raises(ClientError, match="HTTP 460"):
        laptop.tus.send(path, photo, fresh=True)
    assert patches(server) == [(0, 460)] * 5
    assert server.received[path] == b""


def test_photos_sent_whole_from_the_file_arrive_whole_one_after_another(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photos = [photo_of(tmp_path, size=3000, seed=seed) for seed in (1, 2)]
    for photo in photos:
        path = laptop.tus.create(photo)
        assert laptop.tus.send(path, photo, fresh=True).sent == 3000
        assert bytes(server.received[path]) == photo.path.read_bytes()
    assert patches(server) == [(0, 204), (0, 204)]


def test_a_laptop_copy_whose_size_changed_since_import_is_refused_before_sending(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path, size=3000)
    photo.path.write_bytes(photo.path.read_bytes()[:2000])
    path = laptop.tus.create(photo)
    with pytest.raises(ClientError, match="size changed since its import"):
        laptop.tus.send(path, photo, fresh=True)
    assert patches(server) == []


def test_an_offset_the_server_passed_is_answered_409_and_the_upload_goes_on_from_head(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path)
    path = laptop.tus.create(photo)
    # an earlier process sent the first 3,000 bytes, and this one starts as if from nothing
    server.received[path] += photo.path.read_bytes()[:3000]
    result = laptop.tus.send(path, photo, fresh=True)
    assert patches(server) == [(0, 409), (3000, 204), (3000 + CHUNK, 204)]
    assert bytes(server.received[path]) == photo.path.read_bytes()
    assert result.sent == CHUNK + 7000
    assert laptop.waits == []


def test_a_resumed_upload_asks_head_first_and_sends_only_the_rest(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path)
    path = laptop.tus.create(photo)
    server.received[path] += photo.path.read_bytes()[:5000]
    result = laptop.tus.send(path, photo)
    assert (result.resumed_from, result.sent) == (5000, 5000)
    assert patches(server) == [(5000, 204), (5000 + CHUNK, 204)]


def test_server_errors_are_waited_out_with_doubling_waits_and_the_upload_resumes(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path)
    path = laptop.tus.create(photo)
    # the first failing PATCH keeps 1,000 bytes of its chunk before the server gives out
    server.fault("PATCH", Fault(503, keep=1000), Fault(502), Fault(500))
    laptop.tus.send(path, photo, fresh=True)
    assert laptop.waits == [0.5, 1.0, 2.0]
    assert patches(server) == [
        (0, 503),
        (1000, 502),
        (1000, 500),
        (1000, 204),
        (1000 + CHUNK, 204),
        (1000 + 2 * CHUNK, 204),
    ]
    assert bytes(server.received[path]) == photo.path.read_bytes()


def test_a_busy_server_is_given_the_time_its_retry_after_asks(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path, size=3000)
    server.fault("POST", Fault(429, headers={"Retry-After": "3"}))
    path = laptop.tus.create(photo)
    server.fault("PATCH", Fault(503, headers={"Retry-After": "2"}))
    laptop.tus.send(path, photo, fresh=True)
    assert laptop.waits == [3.0, 2.0]
    assert bytes(server.received[path]) == photo.path.read_bytes()


def test_a_server_that_keeps_failing_is_given_up_after_the_attempts(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path)
    path = laptop.tus.create(photo)
    server.fault("PATCH", *[Fault(503)] * 10)
    with pytest.raises(ClientError, match="HTTP 503"):
        laptop.tus.send(path, photo, fresh=True)
    assert laptop.waits == [0.5, 1.0, 2.0, 4.0]
    assert len(patches(server)) == 5


def test_dropped_connections_are_retried_on_a_new_one_and_then_reported_unreachable(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    photo = photo_of(tmp_path)
    server.fault("POST", Fault(DROP))
    path = laptop.tus.create(photo)
    server.fault("PATCH", Fault(DROP, keep=CHUNK))
    laptop.tus.send(path, photo, fresh=True)
    assert bytes(server.received[path]) == photo.path.read_bytes()
    assert laptop.waits == [0.5, 0.5]
    other = photo_of(tmp_path, seed=2)
    path = laptop.tus.create(other)
    server.fault("PATCH", *[Fault(DROP)] * 10)
    with pytest.raises(ServerUnreachable, match="tried 5 times"):
        laptop.tus.send(path, other, fresh=True)


@pytest.mark.parametrize("status", [404, 410])
def test_an_upload_gone_from_the_server_mid_way_raises_upload_gone(
    server: TusServer, laptop: Laptop, tmp_path: Path, status: int
) -> None:
    photo = photo_of(tmp_path)
    path = laptop.tus.create(photo)
    server.received[path] += photo.path.read_bytes()[:CHUNK]
    server.forgotten[path] = status
    with pytest.raises(UploadGone):
        laptop.tus.send(path, photo)


def laptop_with(
    home: Path, store: Store, photos: list[PhotoUpload], upload_path: str | None
) -> None:
    """The photos in the laptop's photo folder and store, as an import leaves them."""
    with store.transaction() as connection:
        for photo in photos:
            stored = photo_files.stored_path(home, photo.sha256)
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_bytes(photo.path.read_bytes())
            connection.execute(
                "INSERT INTO photo_file (sha256, bytes, media_type, upload_url, stored_at) "
                "VALUES (?, ?, 'image/jpeg', ?, '2026-07-14T10:00:00Z')",
                (photo.sha256, photo.length, upload_path),
            )


def on_server_marks(store: Store) -> dict[str, int]:
    with store.reading() as connection:
        return dict(connection.execute("SELECT sha256, on_server FROM photo_file"))


@pytest.mark.parametrize("status", [404, 410])
def test_a_sync_starts_a_new_upload_when_the_saved_one_is_gone(
    server: TusServer, laptop: Laptop, tmp_path: Path, status: int
) -> None:
    home = tmp_path / "home"
    photo = photo_of(tmp_path)
    old = f"{UPLOADS}/{'ab' * 16}"
    server.forgotten[old] = status
    store = Store.open(tmp_path / "field-client.sqlite3")
    try:
        laptop_with(home, store, [photo], old)
        report = sync_photos(store, laptop.transport, home, laptop.tus)
        with store.reading() as connection:
            row = connection.execute("SELECT on_server, upload_url FROM photo_file").fetchone()
    finally:
        store.close()
    (new,) = server.lengths
    assert bytes(server.received[new]) == photo.path.read_bytes()
    assert (report.uploaded, report.bytes_sent, report.resumed_from) == (1, photo.length, {})
    assert tuple(row) == (1, None)
    assert ("HEAD", -1, status) in server.seen


def test_photos_travel_two_at_a_time_and_one_that_fails_leaves_the_others_marked_stored(
    server: TusServer, laptop: Laptop, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    photos = [photo_of(tmp_path, size=3000 + n, seed=n) for n in range(1, 6)]
    server.broken.add(photos[2].sha256)
    store = Store.open(tmp_path / "field-client.sqlite3")
    try:
        laptop_with(home, store, photos, None)
        with pytest.raises(ClientError, match="HTTP 500"):
            sync_photos(store, laptop.transport, home, laptop.tus, parallel=2)
        marks = on_server_marks(store)
        whole = {
            server.digests[path]
            for path, data in server.received.items()
            if len(data) == server.lengths[path]
        }
        # every photo the server holds whole is marked, and only those
        assert {sha for sha, mark in marks.items() if mark} == whole
        assert whole and photos[2].sha256 not in whole
        server.broken.clear()
        report = sync_photos(store, laptop.transport, home, laptop.tus, parallel=2)
        assert set(on_server_marks(store).values()) == {1}
    finally:
        store.close()
    assert report.uploaded == len(photos) - len(whole)
    assert laptop.waits.count(0.5) >= 1  # the broken photo was retried before giving up
