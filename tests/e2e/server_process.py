"""Real `field-server serve` processes on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(
    database_url: str,
    data_dir: Path,
    *,
    port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """A server until the block ends; ``port`` again after a stop is the same server to a
    client that kept its URLs."""
    port = port or free_port()
    env = {
        **os.environ,
        "FIELD_SERVER_DATABASE_URL": database_url,
        "FIELD_SERVER_DATA_DIR": str(data_dir),
        "FIELD_SERVER_SECRET_KEY": "e2e",
        # the museum's cost is 2**17 a hash; end-to-end tests sign in hundreds of times
        "FIELD_SERVER_SCRYPT_COST": "1024",
        **(extra_env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(BIN / "field-server"), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {log_path.read_text()}")
            try:
                with urllib.request.urlopen(base + "/api/v1/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
