"""What a real ``field-server`` writes is its own user's only: the data folder 0700 (an older
install's 0755 folder is closed at start), the SQLite database and its WAL 0600, a photo 0400
in folders of 0700, a backup 0600."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from pathlib import Path

import pytest
from tusclient.client import TusClient

from tests.e2e.server_process import BIN, running_server
from tests.e2e.test_photo_upload import auth_headers, seeded, stored_blobs
from tests.media_factory import noise_jpeg_bytes, sha256

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_database_photos_and_backups_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    database = data_dir / "qazba.sqlite3"
    url = f"sqlite:///{database}"
    env = {**os.environ, "FIELD_SERVER_DATABASE_URL": url, "FIELD_SERVER_DATA_DIR": str(data_dir)}
    field_server(env, "init-db")
    seeded(url, tmp_path)
    os.chmod(data_dir, 0o755)  # as an install before this rule left them
    os.chmod(database, 0o644)
    photo = noise_jpeg_bytes(640, 480, seed=7)
    with running_server(url, data_dir) as base:
        TusClient(f"{base}/api/v1/uploads", headers=auth_headers(base)).uploader(
            file_stream=io.BytesIO(photo), metadata={"sha256": sha256(photo)}
        ).upload()
        assert mode(data_dir) == 0o700
        assert mode(database) == 0o600
        wal = Path(f"{database}-wal")
        assert wal.exists() and mode(wal) == 0o600
        (blob,) = stored_blobs(data_dir)
        assert mode(blob) == 0o400
        for folder in blob.relative_to(data_dir).parents:
            if folder != Path("."):
                assert mode(data_dir / folder) == 0o700, folder

    archive = tmp_path / "museum.tar"
    field_server(env, "backup", "--out", str(archive), "--quiet")
    assert mode(archive) == 0o600


def field_server(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [str(BIN / "field-server"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
