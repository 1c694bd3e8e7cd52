"""Photo uploads against a real `field-server serve` (waitress) with a third-party tus client
(tuspy): chunks larger than the JSON limit, checksums, duplicates, a SHA-256 mismatch, and a
server stopped in the middle of a chunk."""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.e2e.server_process import free_port, running_server
from tests.integration.conftest import PASSWORD, build_world
from tests.media_factory import noise_jpeg_bytes, sha256

pytestmark = pytest.mark.e2e

JSON_LIMIT = 1 << 20  # made small, so that one photo chunk is larger than any JSON body
UPLOAD_LIMIT = 8 << 20
CHUNK = 256 * 1024


def seeded(database_url: str, tmp_path: Path) -> None:
    world = build_world(database_url, tmp_path / "seed")
    world.runtime.uow.engine.dispose()


def auth_headers(base: str, who: str = "recorder") -> dict[str, str]:
    answer = requests.post(
        f"{base}/api/v1/auth/token",
        json={"username": who, "password": PASSWORD, "device_name": "e2e camera laptop"},
        timeout=30,
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def served_digest(base: str, headers: dict[str, str], digest: str) -> str:
    answer = requests.get(f"{base}/api/v1/photos/{digest}", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return sha256(answer.content)


def stored_blobs(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "photos").rglob("*") if p.is_file() and "." not in p.name]


def test_a_third_party_tus_client_sends_photos_the_server_stores_byte_for_byte(
    database_url: str, tmp_path: Path
) -> None:
    seeded(database_url, tmp_path)
    whole = noise_jpeg_bytes(2400, 1800, seed=1)  # over twice the JSON limit, sent in one PATCH
    chunked = noise_jpeg_bytes(900, 700, seed=2)
    assert len(whole) > 2 * JSON_LIMIT
    data_dir = tmp_path / "server"
    limits = {
        "FIELD_SERVER_MAX_JSON_BYTES": str(JSON_LIMIT),
        "FIELD_SERVER_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
    }
    with running_server(database_url, data_dir, extra_env=limits) as base:
        headers = auth_headers(base)
        options = requests.options(f"{base}/api/v1/uploads", timeout=30)
        assert options.headers["Tus-Max-Size"] == str(UPLOAD_LIMIT)
        client = TusClient(f"{base}/api/v1/uploads", headers=headers)

        # tuspy's default: the whole file in a single PATCH
        client.uploader(
            file_stream=io.BytesIO(whole),
            metadata={"sha256": sha256(whole), "filename": "IMG_0001.JPG"},
        ).upload()
        # small chunks, each with a sha1 Upload-Checksum
        client.uploader(
            file_stream=io.BytesIO(chunked),
            chunk_size=CHUNK,
            upload_checksum=True,
            metadata={"sha256": sha256(chunked), "filename": "Қазба_002.jpg"},
        ).upload()
        # the same photo again, from a second device of another recorder
        TusClient(f"{base}/api/v1/uploads", headers=auth_headers(base, "outsider")).uploader(
            file_stream=io.BytesIO(whole), metadata={"sha256": sha256(whole)}
        ).upload()

        for data in (whole, chunked):
            assert served_digest(base, headers, sha256(data)) == sha256(data)
        assert len(stored_blobs(data_dir)) == 2

        with pytest.raises(TusCommunicationError) as refused:
            client.uploader(
                file_stream=io.BytesIO(chunked), metadata={"sha256": sha256(whole + b"!")}
            ).upload()
        assert refused.value.status_code == 422
        assert json.loads(refused.value.response_content)["code"] == "sha256_mismatch"

        too_large = requests.post(
            f"{base}/api/v1/uploads",
            headers={
                **headers,
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(UPLOAD_LIMIT + 1),
                "Upload-Metadata": f"sha256 {_b64(sha256(b'x'))}",
            },
            timeout=30,
        )
        assert too_large.status_code == 413


class _CountingFile(io.BytesIO):
    """The photo file as tuspy reads it, counting the bytes it sends."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        piece = super().read(size)
        self.bytes_read += len(piece)
        return piece


def _half_sent_patch(
    port: int, path: str, headers: dict[str, str], offset: int, chunk: bytes
) -> socket.socket:
    """Open a PATCH announcing the whole chunk and send only its first half."""
    connection = socket.create_connection(("127.0.0.1", port))
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in {
            **headers,
            "Host": f"127.0.0.1:{port}",
            "Tus-Resumable": "1.0.0",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Content-Length": str(len(chunk)),
        }.items()
    )
    connection.sendall(f"PATCH {path} HTTP/1.1\r\n{head}\r\n".encode("ascii"))
    connection.sendall(chunk[: len(chunk) // 2])
    return connection


def test_an_upload_resumes_from_the_servers_offset_after_the_server_stops_mid_chunk(
    database_url: str, tmp_path: Path
) -> None:
    seeded(database_url, tmp_path)
    data = noise_jpeg_bytes(1600, 1200, seed=5)
    digest = sha256(data)
    data_dir, port = tmp_path / "server", free_port()

    with running_server(database_url, data_dir, port=port) as base:
        headers = auth_headers(base)
        created = requests.post(
            f"{base}/api/v1/uploads",
            headers={
                **headers,
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(len(data)),
                "Upload-Metadata": f"sha256 {_b64(digest)},filename {_b64('IMG_0005.JPG')}",
            },
            timeout=30,
        )
        assert created.status_code == 201
        location = created.headers["Location"]
        for start in range(0, 3 * CHUNK, CHUNK):
            answer = requests.patch(
                location,
                data=data[start : start + CHUNK],
                headers={
                    **headers,
                    "Tus-Resumable": "1.0.0",
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(start),
                },
                timeout=30,
            )
            assert answer.status_code == 204
        fourth = data[3 * CHUNK : 4 * CHUNK]
        cut = _half_sent_patch(port, urlsplit(location).path, headers, 3 * CHUNK, fourth)
        sent = 3 * CHUNK + len(fourth) // 2
        time.sleep(0.3)  # the server is taking in the body when it stops
    cut.close()

    with running_server(database_url, data_dir, port=port) as again:
        assert again == base
        counting = _CountingFile(data)
        uploader = TusClient(f"{again}/api/v1/uploads", headers=headers).uploader(
            file_stream=counting, url=location, chunk_size=CHUNK
        )
        assert uploader.offset == 3 * CHUNK  # tuspy asked the server with HEAD
        uploader.upload()
        sent += counting.bytes_read
        assert served_digest(again, headers, digest) == digest
    assert sent - len(data) < CHUNK


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def test_two_server_processes_take_turns_with_the_chunks_of_one_upload(
    postgres_url: str, tmp_path: Path
) -> None:
    """Processes share nothing but the database and the data folder (a shared volume)."""
    seeded(postgres_url, tmp_path)
    data = noise_jpeg_bytes(900, 700, seed=8)
    digest = sha256(data)
    data_dir = tmp_path / "shared"
    with (
        running_server(postgres_url, data_dir) as first,
        running_server(postgres_url, data_dir) as second,
    ):
        headers = auth_headers(first)
        created = requests.post(
            f"{first}/api/v1/uploads",
            headers={
                **headers,
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(len(data)),
                "Upload-Metadata": f"sha256 {_b64(digest)}",
            },
            timeout=30,
        )
        path = urlsplit(created.headers["Location"]).path
        for turn, start in enumerate(range(0, len(data), CHUNK)):
            base = (first, second)[turn % 2]
            offset = requests.head(
                f"{base}{path}", headers={**headers, "Tus-Resumable": "1.0.0"}, timeout=30
            ).headers["Upload-Offset"]
            assert int(offset) == start
            answer = requests.patch(
                f"{base}{path}",
                data=data[start : start + CHUNK],
                headers={
                    **headers,
                    "Tus-Resumable": "1.0.0",
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": offset,
                },
                timeout=30,
            )
            assert answer.status_code == 204, answer.text
        assert served_digest(second, headers, digest) == digest
        assert served_digest(first, headers, digest) == digest
