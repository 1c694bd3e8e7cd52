"""Staging files of unfinished uploads: appended at an offset, cut back, never past the room."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from field_server.adapters.upload_staging import PIECE, BodyInterrupted, UploadStaging

UPLOAD = "0123456789abcdef0123456789abcdef"


def reader(data: bytes, fail_after: int | None = None) -> Callable[[int], bytes]:
    stream = io.BytesIO(data)

    def read(size: int) -> bytes:
        if fail_after is not None and stream.tell() >= fail_after:
            raise BodyInterrupted("the client went away")
        limit = size if fail_after is None else min(size, fail_after - stream.tell())
        return stream.read(limit)

    return read


def test_chunks_are_appended_at_their_offset_and_fed_to_the_digests(tmp_path: Path) -> None:
    staging = UploadStaging(tmp_path / "uploads")
    data = bytes(range(256)) * (PIECE // 100)  # a few pieces
    digest = hashlib.sha256()
    first = staging.append(UPLOAD, 0, reader(data[:1000]), 1000, [digest])
    second = staging.append(UPLOAD, 1000, reader(data[1000:]), len(data) - 1000, [digest])
    assert (first.written, second.written) == (1000, len(data) - 1000)
    assert not (second.interrupted or second.overflowed)
    assert staging.path(UPLOAD).read_bytes() == data
    assert staging.size(UPLOAD) == len(data)
    assert digest.hexdigest() == staging.sha256(UPLOAD) == hashlib.sha256(data).hexdigest()


def test_bytes_past_the_offset_are_cut_off_before_appending(tmp_path: Path) -> None:
    staging = UploadStaging(tmp_path / "uploads")
    staging.append(UPLOAD, 0, reader(b"abcdef-never-acknowledged"), 25)
    staging.append(UPLOAD, 6, reader(b"ghi"), 3)
    assert staging.path(UPLOAD).read_bytes() == b"abcdefghi"


def test_an_interrupted_body_keeps_what_arrived(tmp_path: Path) -> None:
    staging = UploadStaging(tmp_path / "uploads")
    appended = staging.append(UPLOAD, 0, reader(b"x" * 5000, fail_after=1234), 5000)
    assert (appended.written, appended.interrupted) == (1234, True)
    assert staging.size(UPLOAD) == 1234


def test_a_body_longer_than_the_room_is_noticed(tmp_path: Path) -> None:
    staging = UploadStaging(tmp_path / "uploads")
    appended = staging.append(UPLOAD, 0, reader(b"y" * 11), 10)
    assert (appended.written, appended.overflowed) == (10, True)
    staging.truncate(UPLOAD, 0)
    assert staging.size(UPLOAD) == 0


def test_discard_removes_the_file_and_an_absent_one_has_size_zero(tmp_path: Path) -> None:
    staging = UploadStaging(tmp_path / "uploads")
    assert staging.size(UPLOAD) == 0
    staging.append(UPLOAD, 0, reader(b"z"), 1)
    staging.discard(UPLOAD)
    staging.discard(UPLOAD)
    assert not staging.path(UPLOAD).exists()


def test_an_upload_is_claimed_by_one_writer_at_a_time(tmp_path: Path) -> None:
    staging = UploadStaging(tmp_path / "uploads")
    steps: list[str] = []
    holding, let_go = threading.Event(), threading.Event()

    def first() -> None:
        with staging.claimed(UPLOAD):
            steps.append("first claims")
            holding.set()
            assert let_go.wait(10)
            steps.append("first lets go")

    def second() -> None:
        with staging.claimed(UPLOAD):
            steps.append("second claims")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    time.sleep(0.2)
    assert steps == ["first claims"]
    let_go.set()
    for thread in threads:
        thread.join(10)
    assert steps == ["first claims", "first lets go", "second claims"]
    assert staging.size(UPLOAD) == 0  # the claim made an empty staging file


@pytest.mark.parametrize("upload_id", ["../secret_key", "ABCDEF0123456789ABCDEF0123456789", ""])
def test_a_staging_path_is_only_built_from_an_upload_id(tmp_path: Path, upload_id: str) -> None:
    with pytest.raises(ValueError):
        UploadStaging(tmp_path).path(upload_id)
