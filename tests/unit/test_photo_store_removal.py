"""Removing a blob from the filesystem photo store: asked first, set aside meanwhile, so a
put of the same bytes during the removal is never lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from field_server.adapters.photo_store import FilesystemPhotoStore, StoreBusy
from tests.media_factory import sha256

DATA = b"\xff\xd8\xff photo nobody named"
DIGEST = sha256(DATA)


def stored(tmp_path: Path, data: bytes = DATA, name: str = "upload") -> FilesystemPhotoStore:
    store = FilesystemPhotoStore(tmp_path / "photos")
    store.put(sha256(data), staged(tmp_path, data, name))
    return store


def staged(tmp_path: Path, data: bytes, name: str) -> Path:
    path = tmp_path / "uploads" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_confirmed_removal_takes_the_blob_and_what_was_made_from_it(tmp_path: Path) -> None:
    store = stored(tmp_path)
    other = b"another photo"
    store.put(sha256(other), staged(tmp_path, other, "other"))
    store.put_derivative(DIGEST, "thumb-320.jpg", b"thumb")
    store.put_derivative(DIGEST, "reading-1.json", b"{}")
    asked: list[float | None] = []
    assert store.remove(DIGEST, lambda stored_at: asked.append(stored_at) or True) == len(DATA)
    assert asked and asked[0] is not None
    assert not store.contains(DIGEST)
    assert store.open_derivative(DIGEST, "thumb-320.jpg") is None
    assert sorted(p.name for p in store.path(DIGEST).parent.iterdir()) == []
    assert store.contains(sha256(other))


def test_a_refused_removal_puts_the_blob_back_as_it_was(tmp_path: Path) -> None:
    store = stored(tmp_path)
    assert store.remove(DIGEST, lambda stored_at: False) is None
    with store.open(DIGEST) as handle:
        assert handle.read() == DATA
    assert [p.name for p in store.path(DIGEST).parent.iterdir()] == [DIGEST]


def test_the_blob_is_away_while_asked_and_a_put_then_places_its_own_copy(tmp_path: Path) -> None:
    store = stored(tmp_path)

    def put_meanwhile(stored_at: float | None) -> bool:
        assert not store.contains(DIGEST)
        assert store.put(DIGEST, staged(tmp_path, DATA, "again")) is True
        return True

    assert store.remove(DIGEST, put_meanwhile) == len(DATA)
    with store.open(DIGEST) as handle:
        assert handle.read() == DATA


def test_a_blob_sent_again_is_young_again(tmp_path: Path) -> None:
    store = stored(tmp_path)
    os.utime(store.path(DIGEST), (1_000_000, 1_000_000))
    assert store.put(DIGEST, staged(tmp_path, DATA, "again")) is False
    asked: list[float | None] = []
    store.remove(DIGEST, lambda stored_at: asked.append(stored_at) or False)
    assert asked[0] is not None and asked[0] > 1_000_000
    assert store.contains(DIGEST)


def test_removing_a_blob_whose_file_is_already_gone_still_asks(tmp_path: Path) -> None:
    store = FilesystemPhotoStore(tmp_path / "photos")
    asked: list[float | None] = []
    assert store.remove(DIGEST, lambda stored_at: asked.append(stored_at) or True) == 0
    assert asked == [None]


def test_a_question_that_fails_leaves_the_blob_in_place(tmp_path: Path) -> None:
    store = stored(tmp_path)

    def database_gone(stored_at: float | None) -> bool:
        raise OSError("connection refused")

    with pytest.raises(OSError, match="connection refused"):
        store.remove(DIGEST, database_gone)
    assert [p.name for p in store.path(DIGEST).parent.iterdir()] == [DIGEST]


def test_a_blob_a_dead_removal_left_set_aside_is_put_back_when_asked_again(
    tmp_path: Path,
) -> None:
    store = stored(tmp_path)
    blob = store.path(DIGEST)
    os.rename(blob, blob.with_name(f".{DIGEST}.removing"))
    assert not store.contains(DIGEST)
    assert store.remove(DIGEST, lambda stored_at: stored_at is None) is None
    with store.open(DIGEST) as handle:
        assert handle.read() == DATA
    assert [p.name for p in blob.parent.iterdir()] == [DIGEST]


def held(store: FilesystemPhotoStore) -> bool:
    """Whether a remover would be turned away now."""
    try:
        with store.removing():
            return False
    except StoreBusy:
        return True


def test_one_remover_at_a_time_and_none_while_a_reader_needs_every_blob(tmp_path: Path) -> None:
    store = stored(tmp_path)
    other = FilesystemPhotoStore(tmp_path / "photos")  # as another process opens it
    assert not held(other)
    with store.removing():
        assert held(other)
    with store.nothing_removed(), other.nothing_removed():  # readers share it
        assert held(other)
    with other.removing():
        assert other.remove(DIGEST, lambda stored_at: True) == len(DATA)
