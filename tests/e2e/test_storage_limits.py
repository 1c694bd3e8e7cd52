"""Security finding 6 (unlimited storage) reproduced against a real `field-server serve`: a
hundred uploads each declaring 4 GiB, a flood of unfinished ones, random and HTML files never
named by a record; then `field-server cleanup` run beside the serving process."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import subprocess
from pathlib import Path

import pytest
import requests
from tusclient.client import TusClient

from tests.e2e.server_process import BIN, running_server
from tests.integration.conftest import PASSWORD, build_world
from tests.media_factory import noise_jpeg_bytes, photo_record, sha256, survey_record

pytestmark = pytest.mark.e2e

UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
GIB = 1024**3


def seeded(database_url: str, tmp_path: Path) -> None:
    world = build_world(database_url, tmp_path / "seed")
    world.runtime.uow.engine.dispose()


def signed_in(base: str, who: str = "recorder") -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{base}/api/v1/auth/token",
        json={"username": who, "password": PASSWORD, "device_name": "audit laptop"},
        timeout=30,
    )
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session


def create(session: requests.Session, base: str, length: int, digest: str) -> requests.Response:
    encoded = base64.b64encode(digest.encode()).decode()
    return session.post(
        f"{base}{UPLOADS}",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": f"sha256 {encoded}"},
        timeout=30,
    )


def declare(session: requests.Session, base: str, length: int, n: int) -> requests.Response:
    """A creation declaring ``length`` bytes of a file the client never means to send."""
    return create(session, base, length, sha256(b"declared %d" % n))


def send(session: requests.Session, location: str, offset: int, data: bytes) -> int:
    answer = session.patch(
        location,
        data=data,
        headers={
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
        },
        timeout=30,
    )
    return answer.status_code


def staged_bytes(data_dir: Path) -> int:
    folder = data_dir / "uploads"
    return sum(p.stat().st_size for p in folder.iterdir()) if folder.exists() else 0


def test_a_hundred_uploads_declaring_4_gib_are_refused_past_the_quota(
    database_url: str, tmp_path: Path
) -> None:
    seeded(database_url, tmp_path)
    data_dir = tmp_path / "server"
    with running_server(database_url, data_dir) as base:  # the settings as shipped
        session = signed_in(base)
        answers = [declare(session, base, 4 * GIB, n) for n in range(100)]
        # 20 GiB a person: five 4 GiB files fit, the 95 others are refused unsent
        assert [a.status_code for a in answers] == [201] * 5 + [413] * 95
        refused = answers[5]
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers["Tus-Resumable"] == "1.0.0"
        problem = refused.json()
        assert problem["code"] == "quota_exceeded"
        assert problem["status"] == 413
        assert "past the quota of 21474836480 bytes" in problem["detail"]
        assert staged_bytes(data_dir) == 0
        # the reservation is given back by terminating: one more then fits
        assert session.delete(answers[0].headers["Location"], headers=TUS, timeout=30).ok
        assert declare(session, base, 4 * GIB, 100).status_code == 201


def test_the_twenty_first_unfinished_upload_is_refused_until_one_is_finished(
    database_url: str, tmp_path: Path
) -> None:
    seeded(database_url, tmp_path)
    data_dir = tmp_path / "server"
    with running_server(database_url, data_dir) as base:
        session = signed_in(base)
        photo = noise_jpeg_bytes(seed=61)
        first = create(session, base, len(photo), sha256(photo))
        assert first.status_code == 201
        answers = [declare(session, base, 1_000, n).status_code for n in range(99)]
        assert answers == [201] * 19 + [413] * 80
        problem = declare(session, base, 1_000, 99).json()
        assert problem["code"] == "quota_exceeded"
        assert "20 unfinished uploads" in problem["detail"]
        # another member has places of their own
        assert declare(signed_in(base, "leader"), base, 1_000, 0).status_code == 201
        assert send(session, first.headers["Location"], 0, photo) == 204
        assert declare(session, base, 1_000, 100).status_code == 201


def cleanup(database_url: str, data_dir: Path, days: str, *args: str) -> dict[str, object]:
    env = {
        **os.environ,
        "FIELD_SERVER_DATABASE_URL": database_url,
        "FIELD_SERVER_DATA_DIR": str(data_dir),
        "FIELD_SERVER_UNREFERENCED_DAYS": days,
    }
    done = subprocess.run(
        [str(BIN / "field-server"), "cleanup", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cleanup_beside_the_server_removes_what_no_record_named_and_keeps_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    seeded(database_url, tmp_path)
    data_dir = tmp_path / "server"
    noise = random.Random(6).randbytes(8 << 20)  # the audit's random 8 MiB file
    page = b"<!doctype html><title>not a photo</title><script>alert(1)</script>"
    photo = noise_jpeg_bytes(640, 480, seed=62)
    quota = len(noise) + len(page) + len(photo) + 5_000
    settings = {"FIELD_SERVER_QUOTA_USER_BYTES": str(quota)}
    with running_server(database_url, data_dir, extra_env=settings) as base:
        session = signed_in(base)
        client = TusClient(f"{base}{UPLOADS}", headers=dict(session.headers))
        for data, name in ((noise, "noise.bin"), (page, "page.html"), (photo, "IMG_0062.JPG")):
            client.uploader(
                file_stream=io.BytesIO(data),
                metadata={"sha256": sha256(data), "filename": name},
            ).upload()
        survey = survey_record()
        pushed = session.post(
            f"{base}/api/v1/sync/push",
            json={
                "device_id": "audit-laptop",
                "batch_id": "audit-batch-1",
                "records": [survey, photo_record(survey["uuid"], photo, 640, 480)],
            },
            timeout=30,
        )
        assert [r["status"] for r in pushed.json()["results"]] == ["created", "created"]
        left = declare(session, base, 5_000, 1)
        assert left.status_code == 201
        assert send(session, left.headers["Location"], 0, b"z" * 3_000) == 204

        assert declare(session, base, 1, 2).json()["code"] == "quota_exceeded"  # all taken
        # as shipped, a week must pass first: nothing goes
        week = cleanup(database_url, data_dir, "7")
        assert (week["uploads"], week["photos"]) == (0, 0)
        dry = cleanup(database_url, data_dir, "0", "--dry-run")
        assert (dry["dry_run"], dry["uploads"], dry["photos"]) == (True, 1, 2)
        assert session.get(f"{base}/api/v1/photos/{sha256(noise)}", timeout=30).ok

        report = cleanup(database_url, data_dir, "0")

        assert report == {
            "older_than_days": 0.0,
            "dry_run": False,
            "uploads": 1,
            "upload_bytes": 3_000,
            "photos": 2,
            "photo_bytes": len(noise) + len(page),
            "leftovers": 0,
            "leftover_bytes": 0,
        }
        for gone in (noise, page):
            answer = session.get(f"{base}/api/v1/photos/{sha256(gone)}", timeout=30)
            assert answer.status_code == 404
        kept = session.get(f"{base}/api/v1/photos/{sha256(photo)}", timeout=30)
        assert kept.status_code == 200 and kept.content == photo
        assert session.head(left.headers["Location"], headers=TUS, timeout=30).status_code == 404
        assert staged_bytes(data_dir) == 0
        missing = session.post(
            f"{base}/api/v1/photos/missing",
            json={"sha256": [sha256(noise), sha256(photo)]},
            timeout=30,
        )
        assert missing.json() == {"missing": [sha256(noise)]}
        # the room they took is free again: the person's quota counts only the kept photo
        assert declare(session, base, quota - len(photo), 3).status_code == 201
