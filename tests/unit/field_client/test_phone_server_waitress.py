"""The laptop's phone server as ``collect serve`` runs it, over waitress on a loopback socket:
a body over the limit is refused from its Content-Length, before it arrives, and that refusal
is an OpenRosa answer like every other (DESIGN §9)."""

from __future__ import annotations

import http.client
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from field_client import number_blocks, reference, surveys
from field_client.phone_server import CampServer, PhoneApp, phone_server
from field_client.phones import issue_key
from field_client.store import Store
from tests.media_factory import jpeg_bytes
from tests.unit.collect.conftest import reference_document
from tests.unit.collect.instances import instance

CODE = "ULY-2026"
LIMIT = 64 * 1024
OPENROSA_NS = {"r": "http://openrosa.org/http/response"}
PHOTO = "1720934921312.jpg"


class Laptop:
    """A running phone server and the path of one issued key."""

    def __init__(self, port: int, path: str, store: Store) -> None:
        self.port = port
        self.path = path
        self.store = store

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def records(self) -> dict[str, int]:
        with self.store.reading() as connection:
            return dict(
                connection.execute("SELECT type, count(*) FROM record GROUP BY type").fetchall()
            )


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Laptop]:
    store = Store.open(tmp_path / "field-client.sqlite3")
    with store.transaction() as connection:
        reference.store_reference(connection, reference_document())
        number_blocks.add_block(connection, number_blocks.Block(CODE, 1, 10, "ULY26-{n:04d}"))
        surveys.start(connection, CODE, "Қазба 2", ["aigerim"], None, None)
        issued = issue_key(connection, "aigerim", "A52", "http://127.0.0.1:8765")
    server = phone_server(
        PhoneApp(CampServer(tmp_path, store.path, max_bytes=LIMIT)), "127.0.0.1", 0, 2
    )
    running = threading.Thread(target=server.run, daemon=True)
    running.start()
    try:
        yield Laptop(server.effective_port, issued.path, store)
    finally:
        server.close()
        store.close()


def declaring(laptop: Laptop, length: int, sent: bytes) -> tuple[int, dict[str, str], bytes]:
    """A POST whose Content-Length says ``length`` but which sends only ``sent``."""
    connection = laptop.connect()
    try:
        connection.putrequest("POST", f"{laptop.path}/submission")
        connection.putheader("X-OpenRosa-Version", "1.0")
        connection.putheader("Content-Type", "multipart/form-data; boundary=b")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        connection.send(sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def multipart(xml: bytes, files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(8)
    parts = [(b"xml_submission_file", b"submission.xml", b"text/xml", xml)]
    parts += [(n.encode(), n.encode(), b"image/jpeg", body) for n, body in files.items()]
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"" + name
        + b"\"; filename=\"" + file_name + b"\"\r\nContent-Type: " + kind + b"\r\n\r\n"
        + content + b"\r\n"
        for name, file_name, kind, content in parts
    )  # fmt: skip
    return body + b"--" + boundary.encode() + b"--\r\n", boundary


@pytest.mark.parametrize("declared", [LIMIT + 1, 10**12], ids=["just over", "a terabyte"])
def test_a_body_over_the_limit_is_refused_unread_with_an_openrosa_answer(
    laptop: Laptop, declared: int
) -> None:
    before = laptop.records()
    status, headers, body = declaring(laptop, declared, b"--b\r\n")
    assert status == 413
    assert headers["x-openrosa-version"] == "1.0"
    assert headers["content-type"].startswith("text/xml")
    assert headers["connection"] == "close"
    message = ET.fromstring(body).findtext("r:message", namespaces=OPENROSA_NS) or ""
    assert f"{LIMIT:,} bytes" in message
    assert laptop.records() == before


def test_the_limit_a_phone_is_told_is_the_one_the_server_holds_to(laptop: Laptop) -> None:
    connection = laptop.connect()
    try:
        connection.request(
            "HEAD", f"{laptop.path}/submission", headers={"X-OpenRosa-Version": "1.0"}
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 204
    told = int(response.getheader("X-OpenRosa-Accept-Content-Length") or 0)
    assert told == LIMIT

    xml = instance(photos=(PHOTO,))
    body, _ = multipart(xml, {PHOTO: jpeg_bytes()})
    # the photo padded after its end, as phones' trailers are, to fill the body to the limit
    photo = jpeg_bytes() + bytes(told - len(body))
    at_the_limit, boundary = multipart(xml, {PHOTO: photo})
    assert len(at_the_limit) == told
    connection = laptop.connect()
    try:
        connection.request(
            "POST",
            f"{laptop.path}/submission",
            body=at_the_limit,
            headers={
                "X-OpenRosa-Version": "1.0",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    assert response.status == 201, answer
    assert laptop.records().get("find") == 1
