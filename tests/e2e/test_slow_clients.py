"""Slow and idle clients do not use up the server (security finding 3).

``field-server serve`` (waitress) keeps answering while hundreds of connections sit idle or
send their headers a byte at a time. The README's production setup, nginx (deploy/) in front
of gunicorn, is run as written, with only its certificate, ports and log path changed: a
slowloris client's connections are dropped by nginx after its header timeout, and the health
check answers at once throughout.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server_process import BIN, free_port, running_server
from tests.e2e.test_field_client import sqlite_world  # noqa: F401

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def health_seconds(url: str, context: ssl.SSLContext | None = None) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url + "/api/v1/health", timeout=10, context=context) as answer:
        assert answer.status == 200
    return time.monotonic() - started


def slow_connections(
    host: str, port: int, count: int, tls: bool = False
) -> list[socket.socket | ssl.SSLSocket]:
    """``count`` connections that each send the start of a request and then nothing more."""
    context = _unverified() if tls else None
    opened: list[socket.socket | ssl.SSLSocket] = []
    for n in range(count):
        raw = socket.create_connection((host, port), timeout=10)
        connection = context.wrap_socket(raw, server_hostname=host) if context else raw
        if n % 2:
            connection.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        opened.append(connection)  # the even ones send nothing at all
    return opened


def dropped(connection: socket.socket | ssl.SSLSocket) -> bool:
    """Whether the server has closed this connection (with a 408 or without a word)."""
    connection.settimeout(5)
    try:
        data = connection.recv(4096)
    except TimeoutError:
        return False  # still open, waiting for more of the request
    except (OSError, ssl.SSLError):
        return True
    return data == b"" or b" 408 " in data


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_serve_answers_while_hundreds_of_connections_idle_or_trickle(
    sqlite_world: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    with running_server(sqlite_world, tmp_path / "data") as base:
        host, port = base.removeprefix("http://").split(":")
        slow = slow_connections(host, int(port), 200)
        try:
            for connection in slow[1::2]:
                connection.sendall(b"a")  # a byte more now and then keeps them alive
            assert health_seconds(base) < 3
        finally:
            for connection in slow:
                connection.close()


@pytest.fixture
def production(sqlite_world: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """nginx from deploy/nginx-qazba.conf in front of gunicorn as deploy/qazba.service runs it."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: scripts/install_test_tools.sh installs it")
    folder = tmp_path / "nginx"
    (folder / "logs").mkdir(parents=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=qazba.museum.kz", "-keyout", str(folder / "key.pem"),
         "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    app_port, tls_port, plain_port = free_port(), free_port(), free_port()
    site = (DEPLOY / "nginx-qazba.conf").read_text("utf-8")
    for old, new in (
        ("/etc/letsencrypt/live/qazba.museum.kz/fullchain.pem", str(folder / "cert.pem")),
        ("/etc/letsencrypt/live/qazba.museum.kz/privkey.pem", str(folder / "key.pem")),
        ("/var/log/nginx/qazba.access.log", str(folder / "logs" / "access.log")),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{plain_port};"),
        ("listen [::]:80;", ""),
    ):
        assert old in site, old
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site, "utf-8")
    temp = {name: folder / name for name in ("body", "proxy", "fcgi", "uwsgi", "scgi")}
    (folder / "nginx.conf").write_text(
        f"worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/logs/error.log;\n"
        "events { worker_connections 1024; }\nhttp {\n"
        f"    client_body_temp_path {temp['body']};\n    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fcgi']};\n    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n    include {folder}/site.conf;\n}}\n",
        "utf-8",
    )
    env = {
        **os.environ,
        "FIELD_SERVER_DATABASE_URL": sqlite_world,
        "FIELD_SERVER_DATA_DIR": str(tmp_path / "data"),
        "FIELD_SERVER_SECRET_KEY": "e2e",
        "FIELD_SERVER_SCRYPT_COST": "1024",
        "FIELD_SERVER_PUBLIC_URL": f"https://127.0.0.1:{tls_port}",
    }
    workers = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{app_port}",
         "--timeout", "120", "--forwarded-allow-ips", "127.0.0.1", "field_server.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    nginx = [NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder)]
    subprocess.run([*nginx, "-t"], check=True, capture_output=True)
    subprocess.run(nginx, check=True, capture_output=True)
    base = f"https://127.0.0.1:{tls_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health_seconds(base, _unverified())
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn behind nginx did not answer"
                time.sleep(0.2)
        yield base
    finally:
        subprocess.run([*nginx, "-s", "stop"], capture_output=True)
        workers.terminate()
        workers.wait(timeout=30)


def test_the_production_setup_drops_a_slowloris_client_and_keeps_answering(
    production: str,
) -> None:
    port = int(production.rsplit(":", 1)[1])
    slow = slow_connections("127.0.0.1", port, 300, tls=True)
    try:
        for _ in range(3):
            for connection in slow[1::2]:
                connection.sendall(b"a")  # slowloris: a byte now and then
            assert health_seconds(production, _unverified()) < 2
            time.sleep(1)
        # nginx's header timeout (10 s) drops every one of them, trickling or silent
        time.sleep(10)
        assert sum(dropped(connection) for connection in slow) == len(slow)
        assert health_seconds(production, _unverified()) < 2
    finally:
        for connection in slow:
            connection.close()
