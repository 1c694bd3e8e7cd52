"""Photos through the API: the tus upload (every status it answers), the SHA-256 check, the
blob store, who reads a photo, and thumbnails of hostile files; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select
from werkzeug.test import TestResponse

from field_server.adapters import tables
from field_server.adapters.schema_migration import _alembic_config, head_revision
from field_server.services import auth
from tests import media_factory as media
from tests.integration import tus_client as tus
from tests.integration.conftest import PASSWORD, TEST_SCRYPT_COST, World, sample_batch

PROBLEM = "application/problem+json"


def store_root(world: World) -> Path:
    return world.runtime.config.photos_dir


def stored_files(world: World) -> list[Path]:
    return sorted(p for p in store_root(world).rglob("*") if p.is_file() and "." not in p.name)


def staging_file(world: World, path: str) -> Path:
    return world.runtime.config.uploads_dir / path.rsplit("/", 1)[-1]


def fetch(world: World, who: str, url: str, headers: dict[str, str] | None = None) -> TestResponse:
    """A GET read to its end and closed, as a WSGI server does with a streamed file."""
    return world.client.get(url, headers={**world.headers(who), **(headers or {})}, buffered=True)


def problem_code(response: TestResponse) -> str:
    assert response.mimetype == PROBLEM, response.get_data(as_text=True)
    return response.get_json()["code"]


# -- OPTIONS and the version check ---------------------------------------------------------


def test_options_tells_the_version_extensions_size_limit_and_checksums_without_a_token(
    world: World,
) -> None:
    response = world.client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation",
        "checksum",
        "termination",
    }
    assert int(response.headers["Tus-Max-Size"]) == world.runtime.config.max_upload_bytes
    assert set(response.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256", "md5"}


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0", "2.0.0"])
def test_a_request_not_speaking_tus_1_0_0_gets_412_with_tus_version_and_changes_nothing(
    world: World, version: str | None
) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    headers = {**world.headers("recorder"), "Upload-Length": str(len(data))}
    if version is not None:
        headers["Tus-Resumable"] = version
    octets = {"Content-Type": tus.OCTETS, "Upload-Offset": "0"}
    answers = [
        world.client.post(
            "/api/v1/uploads",
            headers={**headers, "Upload-Metadata": tus.metadata(media.sha256(data))},
        ),
        world.client.head(path, headers=headers),
        world.client.patch(path, data=data, headers={**headers, **octets}),
        world.client.delete(path, headers=headers),
    ]
    for response in answers:
        assert response.status_code == 412
        assert response.headers["Tus-Version"] == "1.0.0"
        assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.offset_of(world, "recorder", path) == 0


# -- creation ------------------------------------------------------------------------------


def test_a_new_upload_is_at_offset_zero_and_head_tells_its_length_and_metadata(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes()
    response = tus.create(world, "recorder", data)
    assert response.status_code == 201
    assert response.headers["Tus-Resumable"] == "1.0.0"
    location = response.headers["Location"]
    assert location.startswith("http://localhost/api/v1/uploads/")

    head = tus.head(world, "recorder", location.removeprefix("http://localhost"))
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Upload-Metadata"] == tus.metadata(media.sha256(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Tus-Resumable"] == "1.0.0"


GOOD_DIGEST = "ab" * 32
CONTROL = "a\nb.jpg"


@pytest.mark.parametrize(
    ("headers", "header"),
    [
        ({"Upload-Length": None}, "Upload-Length"),
        ({"Upload-Length": "-1"}, "Upload-Length"),
        ({"Upload-Length": "12.5"}, "Upload-Length"),
        ({"Upload-Length": "٣"}, "Upload-Length"),
        ({"Upload-Length": "0"}, "Upload-Length"),
        ({"Upload-Length": "99999999999999999999"}, "Upload-Length"),
        ({"Upload-Defer-Length": "1"}, "Upload-Defer-Length"),
        ({"Upload-Concat": "partial"}, "Upload-Concat"),
        ({"Upload-Metadata": None}, "Upload-Metadata"),
        ({"Upload-Metadata": f"filename {tus.b64('a.jpg')}"}, "Upload-Metadata"),
        ({"Upload-Metadata": f"sha256 {tus.b64(GOOD_DIGEST.upper())}"}, "Upload-Metadata"),
        ({"Upload-Metadata": f"sha256 {tus.b64('abc')}"}, "Upload-Metadata"),
        ({"Upload-Metadata": "sha256 not*base64"}, "Upload-Metadata"),
        ({"Upload-Metadata": f"sha256 {GOOD_DIGEST}"}, "Upload-Metadata"),
        (
            {"Upload-Metadata": f"sha256 {tus.b64(GOOD_DIGEST)},sha256 {tus.b64(GOOD_DIGEST)}"},
            "Upload-Metadata",
        ),
        (
            {"Upload-Metadata": f"sha256 {tus.b64(GOOD_DIGEST)},filename {tus.b64(CONTROL)}"},
            "Upload-Metadata",
        ),
    ],
)
def test_creation_headers_the_server_cannot_take_get_400_naming_the_header(
    world: World, headers: dict[str, str | None], header: str
) -> None:
    sent = {
        **world.headers("recorder"),
        **tus.TUS,
        "Upload-Length": "100",
        "Upload-Metadata": f"sha256 {tus.b64(GOOD_DIGEST)}",
    }
    for name, value in headers.items():
        if value is None:
            sent.pop(name)
        else:
            sent[name] = value
    response = world.client.post("/api/v1/uploads", headers=sent)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert problem_code(response) == "invalid_header"
    assert [e["field"] for e in response.get_json()["errors"]] == [header]
    assert "Location" not in response.headers


def test_an_upload_longer_than_tus_max_size_gets_413(world: World) -> None:
    limit = world.runtime.config.max_upload_bytes
    response = tus.create(world, "recorder", b"x", length=limit + 1)
    assert response.status_code == 413
    assert problem_code(response) == "upload_too_large"
    assert tus.create(world, "recorder", b"x", length=limit).status_code == 201


def test_a_recorder_of_no_expedition_may_not_upload(world: World) -> None:
    auth.create_user(world.runtime.uow, "loner", PASSWORD, ["recorder"], cost=TEST_SCRYPT_COST)
    response = tus.create(world, "loner", media.noise_jpeg_bytes())
    assert response.status_code == 403
    assert problem_code(response) == "forbidden"


# -- PATCH ---------------------------------------------------------------------------------


def test_a_photo_sent_in_chunks_is_stored_once_under_its_digest_and_served_as_sent(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes(400, 300, seed=3)
    path = tus.created(world, "recorder", data)
    offsets = []
    for start in range(0, len(data), 10_000):
        response = tus.patch(world, "recorder", path, start, data[start : start + 10_000])
        assert response.status_code == 204
        assert response.headers["Tus-Resumable"] == "1.0.0"
        offsets.append(int(response.headers["Upload-Offset"]))
    assert offsets == [min(s + 10_000, len(data)) for s in range(0, len(data), 10_000)]
    assert tus.offset_of(world, "recorder", path) == len(data)

    digest = media.sha256(data)
    assert stored_files(world) == [store_root(world) / digest[:2] / digest[2:4] / digest]
    assert not staging_file(world, path).exists()
    photo = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert photo.status_code == 200
    assert photo.get_data() == data
    assert photo.mimetype == "image/jpeg"


def test_a_patch_at_another_offset_gets_409_and_changes_nothing(world: World) -> None:
    data = media.noise_jpeg_bytes(200, 100)
    path = tus.created(world, "recorder", data)
    assert tus.patch(world, "recorder", path, 0, data[:1000]).status_code == 204
    for wrong in (0, 999, 1001, len(data)):
        response = tus.patch(world, "recorder", path, wrong, data[wrong : wrong + 10])
        assert response.status_code == 409
        assert problem_code(response) == "offset_mismatch"
        assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.offset_of(world, "recorder", path) == 1000
    assert staging_file(world, path).read_bytes() == data[:1000]


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "image/jpeg"])
def test_a_patch_that_is_not_application_offset_octet_stream_gets_415(
    world: World, content_type: str | None
) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    headers = {**world.headers("recorder"), **tus.TUS, "Upload-Offset": "0"}
    if content_type:
        headers["Content-Type"] = content_type
    response = world.client.patch(path, data=data, headers=headers)
    assert response.status_code == 415
    assert tus.offset_of(world, "recorder", path) == 0


@pytest.mark.parametrize("offset", [None, "", "-5", "1e3", " 7x"])
def test_a_patch_without_a_readable_upload_offset_gets_400(
    world: World, offset: str | None
) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    headers = {**world.headers("recorder"), **tus.TUS, "Content-Type": tus.OCTETS}
    if offset is not None:
        headers["Upload-Offset"] = offset
    response = world.client.patch(path, data=data, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "Upload-Offset"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
def test_a_chunk_failing_its_checksum_gets_460_is_discarded_and_can_be_sent_again(
    world: World, algorithm: str
) -> None:
    data = media.noise_jpeg_bytes(200, 100, seed=5)
    path = tus.created(world, "recorder", data)
    first, second = data[:3000], data[3000:]
    good = tus.checksum_header(algorithm, first)
    assert tus.patch(world, "recorder", path, 0, first, checksum=good).status_code == 204

    wrong = tus.checksum_header(algorithm, second + b"!")
    response = tus.patch(world, "recorder", path, 3000, second, checksum=wrong)
    assert response.status_code == 460
    assert response.status == "460 Checksum Mismatch"
    assert problem_code(response) == "checksum_mismatch"
    assert tus.offset_of(world, "recorder", path) == 3000
    assert staging_file(world, path).read_bytes() == first

    right = tus.checksum_header(algorithm, second)
    response = tus.patch(world, "recorder", path, 3000, second, checksum=right)
    assert response.status_code == 204
    assert response.headers["Upload-Offset"] == str(len(data))


@pytest.mark.parametrize(
    "checksum", ["crc32 AAAAAA==", "sha1", "sha1 !!!", "sha1 AAAA", "SHA1 " + "A" * 28]
)
def test_an_unsupported_or_malformed_checksum_gets_400_and_the_chunk_is_not_taken(
    world: World, checksum: str
) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    response = tus.patch(world, "recorder", path, 0, data, checksum=checksum)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "Upload-Checksum"
    assert tus.offset_of(world, "recorder", path) == 0


def test_a_chunk_past_upload_length_gets_413_and_is_discarded(world: World) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    assert tus.patch(world, "recorder", path, 0, data[:100]).status_code == 204
    response = tus.patch(world, "recorder", path, 100, data[100:] + b"extra")
    assert response.status_code == 413
    assert problem_code(response) == "upload_too_large"
    assert tus.offset_of(world, "recorder", path) == 100


def test_an_unknown_or_malformed_upload_id_gets_404(world: World) -> None:
    for path in ("/api/v1/uploads/" + "0" * 32, "/api/v1/uploads/..%2Fsecret_key"):
        head = tus.head(world, "recorder", path)
        assert head.status_code == 404
        assert "Upload-Offset" not in head.headers
        assert tus.patch(world, "recorder", path, 0, b"x").status_code == 404
        response = world.client.delete(path, headers={**world.headers("recorder"), **tus.TUS})
        assert response.status_code == 404


def test_another_users_upload_is_404_to_head_patch_and_delete(world: World) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    for other in ("leader", "admin"):
        assert tus.head(world, other, path).status_code == 404
        assert tus.patch(world, other, path, 0, data).status_code == 404
        response = world.client.delete(path, headers={**world.headers(other), **tus.TUS})
        assert response.status_code == 404
    assert tus.offset_of(world, "recorder", path) == 0


def interrupted_patch(
    world: World, path: str, offset: int, arrived: bytes, announced: int, **headers: str
) -> TestResponse:
    """A PATCH whose client announced ``announced`` bytes and went away after ``arrived``."""
    return world.client.open(
        path,
        method="PATCH",
        input_stream=io.BytesIO(arrived),
        content_length=announced,
        headers={
            **world.headers("recorder"),
            **tus.TUS,
            "Content-Type": tus.OCTETS,
            "Upload-Offset": str(offset),
            **headers,
        },
    )


def test_an_interrupted_patch_keeps_what_arrived_so_a_resume_sends_only_the_rest(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes(300, 200, seed=9)
    path = tus.created(world, "recorder", data)
    interrupted_patch(world, path, 0, data[:7000], announced=len(data))

    offset = tus.offset_of(world, "recorder", path)
    assert offset == 7000
    response = tus.patch(world, "recorder", path, offset, data[offset:])
    assert response.status_code == 204
    assert response.headers["Upload-Offset"] == str(len(data))
    digest = media.sha256(data)
    body = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert body.get_data() == data


def test_an_interrupted_patch_with_a_checksum_counts_none_of_its_bytes(world: World) -> None:
    data = media.noise_jpeg_bytes(300, 200, seed=9)
    path = tus.created(world, "recorder", data)
    checksum = tus.checksum_header("sha1", data)
    interrupted_patch(
        world, path, 0, data[:7000], announced=len(data), **{"Upload-Checksum": checksum}
    )
    assert tus.offset_of(world, "recorder", path) == 0
    assert staging_file(world, path).read_bytes() == b""


def test_a_file_whose_sha256_is_not_the_declared_one_is_discarded_with_a_clear_error(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes()
    declared = media.sha256(data + b"something else")
    path = tus.created(world, "recorder", data, digest=declared)
    response = tus.patch(world, "recorder", path, 0, data)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "sha256_mismatch"
    assert declared in body["detail"] and media.sha256(data) in body["detail"]
    assert "discarded" in body["detail"]

    assert tus.head(world, "recorder", path).status_code == 404
    assert not staging_file(world, path).exists()
    assert stored_files(world) == []
    missing = world.client.post(
        "/api/v1/photos/missing",
        json={"sha256": [declared, media.sha256(data)]},
        headers=world.headers("recorder"),
    )
    assert missing.get_json() == {"missing": [declared, media.sha256(data)]}


def test_the_same_photo_from_two_people_is_stored_once(world: World) -> None:
    data = media.noise_jpeg_bytes(120, 80, seed=11)
    tus.upload(world, "recorder", data)
    second = tus.upload(world, "outsider", data, chunk_size=500)
    assert tus.offset_of(world, "outsider", second) == len(data)
    assert len(stored_files(world)) == 1
    with world.runtime.uow() as uow:
        assert uow.blobs.known([media.sha256(data)]) == {media.sha256(data)}
    for who in ("recorder", "outsider"):
        missing = world.client.post(
            "/api/v1/photos/missing",
            json={"sha256": [media.sha256(data)]},
            headers=world.headers(who),
        )
        assert missing.get_json() == {"missing": []}


class _HeldBody(io.BytesIO):
    """A request body that stops half way until the test lets it go on."""

    def __init__(self, data: bytes, half_sent: threading.Event, go_on: threading.Event) -> None:
        super().__init__(data)
        self._half = len(data) // 2
        self._half_sent = half_sent
        self._go_on = go_on

    def _room(self, size: int) -> int:
        if not self._go_on.is_set():
            if self.tell() >= self._half:
                self._half_sent.set()
                assert self._go_on.wait(30)
            else:
                return min(size, self._half - self.tell())
        return size

    def read(self, size: int | None = -1) -> bytes:
        return super().read(self._room(size if size is not None and size >= 0 else 1 << 30))

    def readinto(self, buffer: Any) -> int:
        return super().readinto(memoryview(buffer)[: self._room(len(buffer))])


def test_two_patches_of_one_upload_at_once_do_not_interleave(world: World) -> None:
    data = media.noise_jpeg_bytes(300, 200, seed=13)
    path = tus.created(world, "recorder", data)
    headers = {
        **world.headers("recorder"),
        **tus.TUS,
        "Content-Type": tus.OCTETS,
        "Upload-Offset": "0",
    }
    half_sent, go_on = threading.Event(), threading.Event()
    answers: dict[str, int] = {}

    def slow() -> None:
        answers["slow"] = (
            world.app.test_client()
            .open(
                path,
                method="PATCH",
                input_stream=_HeldBody(data, half_sent, go_on),
                content_length=len(data),
                headers=headers,
            )
            .status_code
        )

    def quick() -> None:
        answer = world.app.test_client().patch(path, data=data, headers=headers)
        answers["quick"] = answer.status_code

    first = threading.Thread(target=slow)
    first.start()
    assert half_sent.wait(30)
    second = threading.Thread(target=quick)
    second.start()
    time.sleep(0.5)
    assert second.is_alive(), "the second PATCH ran while the first held the upload"
    go_on.set()
    first.join(30)
    second.join(30)
    assert answers == {"slow": 204, "quick": 409}
    digest = media.sha256(data)
    served = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert served.get_data() == data


def test_a_chunk_on_its_way_in_holds_up_neither_another_upload_nor_a_push(world: World) -> None:
    held = media.noise_jpeg_bytes(300, 200, seed=19)
    other = media.noise_jpeg_bytes(300, 200, seed=23)
    held_path = tus.created(world, "recorder", held)
    other_path = tus.created(world, "recorder", other)
    headers = {
        **world.headers("recorder"),
        **tus.TUS,
        "Content-Type": tus.OCTETS,
        "Upload-Offset": "0",
    }
    half_sent, go_on = threading.Event(), threading.Event()
    answers: dict[str, int] = {}

    def slow() -> None:
        answers["held"] = (
            world.app.test_client()
            .open(
                held_path,
                method="PATCH",
                input_stream=_HeldBody(held, half_sent, go_on),
                content_length=len(held),
                headers=headers,
            )
            .status_code
        )

    def others() -> None:
        client = world.app.test_client()
        answers["other"] = client.patch(other_path, data=other, headers=headers).status_code
        body = {"device_id": world.device_id, "batch_id": "b-held", "records": sample_batch()}
        pushed = client.post("/api/v1/sync/push", json=body, headers=world.headers("recorder"))
        answers["push"] = pushed.status_code

    first = threading.Thread(target=slow)
    first.start()
    try:
        assert half_sent.wait(30)
        second = threading.Thread(target=others)
        second.start()
        second.join(20)
        assert not second.is_alive(), "a half-received chunk held up the database"
        assert first.is_alive()
    finally:
        go_on.set()
        first.join(30)
    assert answers == {"other": 204, "push": 200, "held": 204}
    for data in (held, other):
        served = fetch(world, "recorder", f"/api/v1/photos/{media.sha256(data)}")
        assert served.get_data() == data


def test_an_offset_moves_on_only_from_where_its_append_began(world: World) -> None:
    data = media.noise_jpeg_bytes(200, 100, seed=29)
    upload_id = tus.created(world, "recorder", data).rsplit("/", 1)[-1]
    now = auth.now_utc()
    with world.runtime.uow(write=True, sequenced=False) as uow:
        assert uow.uploads.advance(upload_id, 0, 1000, now)
        assert not uow.uploads.advance(upload_id, 0, 2000, now)
        assert not uow.uploads.mark_stored(upload_id, 0, now)
        assert uow.uploads.mark_stored(upload_id, 1000, now)
        assert not uow.uploads.advance(upload_id, len(data), len(data), now)
        uow.commit()
    with world.runtime.uow() as uow:
        row = uow.uploads.get(upload_id)
    assert row is not None and row.stored and row.upload_offset == len(data)


# -- crash leftovers -------------------------------------------------------------------------


def test_bytes_a_dead_process_wrote_past_the_committed_offset_are_cut_off(world: World) -> None:
    data = media.noise_jpeg_bytes(200, 100, seed=17)
    path = tus.created(world, "recorder", data)
    assert tus.patch(world, "recorder", path, 0, data[:2000]).status_code == 204
    with staging_file(world, path).open("ab") as staged:
        staged.write(b"half a chunk that was never acknowledged")
    assert tus.offset_of(world, "recorder", path) == 2000
    response = tus.patch(world, "recorder", path, 2000, data[2000:])
    assert response.status_code == 204
    digest = media.sha256(data)
    served = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert served.get_data() == data


def test_a_lost_staging_file_sends_the_client_back_to_the_bytes_really_there(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes(200, 100, seed=19)
    path = tus.created(world, "recorder", data)
    assert tus.patch(world, "recorder", path, 0, data[:2000]).status_code == 204
    staging_file(world, path).unlink()
    assert tus.offset_of(world, "recorder", path) == 0
    assert tus.patch(world, "recorder", path, 2000, data[2000:]).status_code == 409
    assert tus.patch(world, "recorder", path, 0, data).status_code == 204


# -- termination and method override -------------------------------------------------------


def test_delete_terminates_an_upload_and_frees_its_bytes(world: World) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    assert tus.patch(world, "recorder", path, 0, data[:500]).status_code == 204
    headers = {**world.headers("recorder"), **tus.TUS}
    response = world.client.delete(path, headers=headers)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert not staging_file(world, path).exists()
    assert tus.head(world, "recorder", path).status_code == 404
    assert tus.patch(world, "recorder", path, 500, data[500:]).status_code == 404
    assert world.client.delete(path, headers=headers).status_code == 404


def test_terminating_a_finished_upload_keeps_its_photo(world: World) -> None:
    data = media.noise_jpeg_bytes()
    digest = tus.stored_photo(world, "recorder", data)
    path = tus.created(world, "leader", data)
    assert tus.patch(world, "leader", path, 0, data).status_code == 204
    headers = {**world.headers("leader"), **tus.TUS}
    assert world.client.delete(path, headers=headers).status_code == 204
    served = fetch(world, "leader", f"/api/v1/photos/{digest}")
    assert served.get_data() == data


def test_x_http_method_override_carries_patch_and_delete_for_clients_without_them(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes()
    path = tus.created(world, "recorder", data)
    headers = {**world.headers("recorder"), **tus.TUS}
    response = world.client.post(
        path,
        data=data[:100],
        headers={
            **headers,
            "X-HTTP-Method-Override": "PATCH",
            "Content-Type": tus.OCTETS,
            "Upload-Offset": "0",
        },
    )
    assert response.status_code == 204
    assert response.headers["Upload-Offset"] == "100"
    response = world.client.post(path, headers={**headers, "X-HTTP-Method-Override": "DELETE"})
    assert response.status_code == 204
    assert tus.head(world, "recorder", path).status_code == 404


# -- which photos are missing ----------------------------------------------------------------


def test_missing_lists_the_digests_without_a_file_once_each_in_the_order_asked(
    world: World,
) -> None:
    stored = tus.stored_photo(world, "recorder", media.noise_jpeg_bytes(seed=1))
    absent = [media.sha256(bytes([n])) for n in range(3)]
    response = world.client.post(
        "/api/v1/photos/missing",
        json={"sha256": [absent[2], stored, absent[0], absent[2], absent[1]]},
        headers=world.headers("recorder"),
    )
    assert response.status_code == 200
    assert response.get_json() == {"missing": [absent[2], absent[0], absent[1]]}
    empty = world.client.post(
        "/api/v1/photos/missing", json={"sha256": []}, headers=world.headers("recorder")
    )
    assert empty.get_json() == {"missing": []}


def test_missing_refuses_digests_that_are_not_sha256_with_a_problem_per_item(
    world: World,
) -> None:
    good = media.sha256(b"x")
    response = world.client.post(
        "/api/v1/photos/missing",
        json={"sha256": [good, good.upper(), "abc", 42, good + "\n"]},
        headers=world.headers("recorder"),
    )
    assert response.status_code == 422
    assert problem_code(response) == "invalid_input"
    fields = sorted(e["field"] for e in response.get_json()["errors"])
    assert fields == ["sha256.1", "sha256.2", "sha256.3", "sha256.4"]
    for body in ({}, {"sha256": "abc"}, {"sha256": [], "extra": 1}):
        answer = world.client.post(
            "/api/v1/photos/missing", json=body, headers=world.headers("recorder")
        )
        assert answer.status_code == 422


def test_missing_takes_ten_thousand_digests_and_refuses_more(world: World) -> None:
    digests = [f"{n:064x}" for n in range(10_001)]
    many = world.client.post(
        "/api/v1/photos/missing", json={"sha256": digests[:10_000]}, headers=world.headers("admin")
    )
    assert many.status_code == 200
    assert many.get_json()["missing"] == digests[:10_000]
    too_many = world.client.post(
        "/api/v1/photos/missing", json={"sha256": digests}, headers=world.headers("admin")
    )
    assert too_many.status_code == 422
    assert too_many.get_json()["errors"][0]["field"] == "sha256"


def test_a_recorded_photo_whose_file_was_lost_is_asked_for_again_and_heals(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes(seed=21)
    digest = tus.stored_photo(world, "recorder", data)
    [blob] = stored_files(world)
    blob.unlink()

    def missing() -> Any:
        return world.client.post(
            "/api/v1/photos/missing", json={"sha256": [digest]}, headers=world.headers("recorder")
        ).get_json()

    assert missing() == {"missing": [digest]}
    lost = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert lost.status_code == 404
    tus.upload(world, "recorder", data)
    assert missing() == {"missing": []}
    served = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert served.get_data() == data


# -- reading ---------------------------------------------------------------------------------


def test_a_photo_is_served_with_its_etag_and_type_and_answers_304_and_ranges(
    world: World,
) -> None:
    data = media.noise_jpeg_bytes(200, 100, seed=23)
    digest = tus.stored_photo(world, "recorder", data)
    url = f"/api/v1/photos/{digest}"
    response = fetch(world, "recorder", url)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response.headers["Cache-Control"]

    again = fetch(world, "recorder", url, {"If-None-Match": f'"{digest}"'})
    assert again.status_code == 304
    assert again.get_data() == b""
    part = fetch(world, "recorder", url, {"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.get_data() == data[10:20]


def test_the_media_type_and_size_come_from_the_file_not_its_name(world: World) -> None:
    data = media.png_bytes(30, 20)
    path = tus.created(world, "recorder", data)  # metadata names it IMG_0042.JPG
    assert tus.patch(world, "recorder", path, 0, data).status_code == 204
    digest = media.sha256(data)
    response = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert response.headers["Content-Type"] == "image/png"
    with world.runtime.uow() as uow:
        blob = uow.blobs.get(digest)
    assert blob is not None
    assert (blob.bytes, blob.media_type) == (len(data), "image/png")
    assert (blob.width, blob.height) == (30, 20)


def test_bytes_that_are_no_image_are_kept_as_octets(world: World) -> None:
    data = b"not a photo, but the device sent it under its digest"
    tus.upload(world, "recorder", data)
    digest = media.sha256(data)
    response = fetch(world, "recorder", f"/api/v1/photos/{digest}")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.get_data() == data


def test_who_reads_a_photo_the_museum_its_expedition_and_its_uploader_only(
    world: World,
) -> None:
    recorded = tus.stored_photo(world, "recorder", media.noise_jpeg_bytes(seed=31))
    uploaded_only = media.noise_jpeg_bytes(seed=32)
    tus.upload(world, "outsider", uploaded_only)
    unreadable = media.sha256(uploaded_only)

    def status(who: str, digest: str) -> int:
        return fetch(world, who, f"/api/v1/photos/{digest}").status_code

    assert {who: status(who, recorded) for who in ("recorder", "leader", "outsider")} == {
        "recorder": 200,  # uploader, and its expedition holds the record
        "leader": 200,  # its expedition holds the record
        "outsider": 404,
    }
    assert {who: status(who, unreadable) for who in ("recorder", "leader", "outsider")} == {
        "recorder": 404,
        "leader": 404,
        "outsider": 200,  # the uploader, although no record names it yet
    }
    for museum in ("reviewer", "registrar", "admin"):
        assert (status(museum, recorded), status(museum, unreadable)) == (200, 200)
    never = media.sha256(b"never uploaded")
    assert status("admin", never) == 404
    assert status("admin", "not-a-digest") == 404


# -- thumbnails ------------------------------------------------------------------------------


def thumbnail(world: World, data: bytes) -> TestResponse:
    digest = media.sha256(data)
    path = tus.created(world, "recorder", data)
    assert tus.patch(world, "recorder", path, 0, data).status_code == 204
    return fetch(world, "recorder", f"/api/v1/photos/{digest}/thumb")


def test_a_thumbnail_is_a_jpeg_of_at_most_320_px_kept_beside_the_photo(world: World) -> None:
    from PIL import Image

    data = media.noise_jpeg_bytes(1000, 500, seed=41)
    response = thumbnail(world, data)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.get_data())) as image:
        assert (image.format, image.size) == ("JPEG", (320, 160))
    digest = media.sha256(data)
    kept = store_root(world) / digest[:2] / digest[2:4] / f"{digest}.thumb-320.jpg"
    assert kept.read_bytes() == response.get_data()
    again = fetch(world, "recorder", f"/api/v1/photos/{digest}/thumb")
    assert again.get_data() == response.get_data()


@pytest.mark.parametrize(("orientation", "size"), [(1, (320, 160)), (6, (160, 320))])
def test_a_thumbnail_is_turned_upright_by_the_exif_orientation(
    world: World, orientation: int, size: tuple[int, int]
) -> None:
    from PIL import Image, ImageStat

    response = thumbnail(world, media.noise_jpeg_bytes(640, 320, seed=43, orientation=orientation))
    with Image.open(io.BytesIO(response.get_data())) as image:
        assert image.size == size
        # orientation 6 turns the dark left half to the top
        top = image.crop((0, 0, image.width, image.height // 4)).convert("L")
        bottom = image.crop((0, image.height * 3 // 4, image.width, image.height)).convert("L")
        if orientation == 6:
            assert ImageStat.Stat(top).mean[0] < 100
            assert ImageStat.Stat(bottom).mean[0] > 150


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (media.png_bomb_bytes, "image_too_large"),
        (media.jpeg_bomb_bytes, "image_too_large"),
        (lambda: media.png_bomb_bytes(10_000, 10_000), "image_too_large"),
        (media.truncated_jpeg_bytes, "unreadable_image"),
        (lambda: b"GIF89a but not really", "unreadable_image"),
        (lambda: b"plain text, no image", "unreadable_image"),
    ],
    ids=["png-bomb", "jpeg-bomb", "png-100-megapixels", "truncated-jpeg", "fake-gif", "text"],
)
def test_a_hostile_or_broken_file_gets_422_from_thumb_never_a_server_error(
    world: World, make: Any, code: str
) -> None:
    response = thumbnail(world, make())
    assert response.status_code == 422, response.get_data(as_text=True)
    assert problem_code(response) == code
    # the reason, but never where the server keeps its files
    data_dir = str(world.runtime.config.data_dir)
    assert data_dir not in response.get_data(as_text=True)
    assert "/photos/" not in response.get_json()["detail"]


def test_a_thumbnail_of_a_transparent_png_is_a_jpeg(world: World) -> None:
    response = thumbnail(world, media.png_bytes(400, 200, "RGBA"))
    assert response.status_code == 200
    assert response.get_data()[:3] == b"\xff\xd8\xff"


# -- the schema --------------------------------------------------------------------------------


def test_revision_0002_fills_the_photo_digest_of_records_pushed_before_it(world: World) -> None:
    survey = media.survey_record()
    photo = media.photo_record(survey["uuid"], media.noise_jpeg_bytes(seed=51))
    world.pushed("recorder", [survey, photo])
    engine = world.runtime.uow.engine
    config = _alembic_config()
    for target in ("0001", "head"):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            if target == "head":
                command.upgrade(config, target)
            else:
                command.downgrade(config, target)
    with engine.connect() as connection:
        filled = connection.execute(
            select(tables.records.c.uuid, tables.records.c.photo_sha256).where(
                tables.records.c.photo_sha256.is_not(None)
            )
        ).all()
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert filled == [(photo["uuid"], photo["data"]["sha256"])]
    assert revision == head_revision()


def test_the_openapi_document_tells_a_tus_client_the_headers_and_the_chunk_media_type(
    world: World,
) -> None:
    paths = world.client.get("/api/openapi.json").get_json()["paths"]
    upload = paths["/api/v1/uploads/{upload_id}"]
    assert set(upload) == {"head", "patch", "delete"}
    assert "options" in paths["/api/v1/uploads"]
    patch = upload["patch"]
    assert list(patch["requestBody"]["content"]) == [tus.OCTETS]
    headers = {p["name"]: p["required"] for p in patch["parameters"] if p["in"] == "header"}
    assert headers == {"Tus-Resumable": True, "Upload-Offset": True, "Upload-Checksum": False}
    photo = paths["/api/v1/photos/{sha256}"]["get"]
    assert [p["name"] for p in photo["parameters"]] == ["sha256"]
