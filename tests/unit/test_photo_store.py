"""The filesystem photo store: content-addressed, immutable, each blob once."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from field_server.adapters import photo_store
from field_server.adapters.photo_store import FilesystemPhotoStore, PhotoStore
from tests.media_factory import sha256


def staged(tmp_path: Path, data: bytes, name: str = "upload") -> Path:
    path = tmp_path / "uploads" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_blob_is_kept_at_ab_cd_digest_read_only_and_the_staging_file_is_taken(
    tmp_path: Path,
) -> None:
    store: PhotoStore = FilesystemPhotoStore(tmp_path / "photos")
    data = b"\xff\xd8\xff photo bytes"
    digest = sha256(data)
    source = staged(tmp_path, data)
    assert store.put(digest, source) is True
    blob = tmp_path / "photos" / digest[:2] / digest[2:4] / digest
    assert blob.read_bytes() == data
    assert not source.exists()
    assert stat.S_IMODE(blob.stat().st_mode) == 0o400
    assert store.contains(digest)
    assert store.size(digest) == len(data)
    with store.open(digest) as handle:
        assert handle.read() == data


def test_the_same_blob_put_twice_is_kept_once_and_the_second_staging_file_dropped(
    tmp_path: Path,
) -> None:
    store = FilesystemPhotoStore(tmp_path / "photos")
    data = b"same bytes from two devices"
    digest = sha256(data)
    assert store.put(digest, staged(tmp_path, data, "first")) is True
    second = staged(tmp_path, data, "second")
    assert store.put(digest, second) is False
    assert not second.exists()
    assert [p for p in (tmp_path / "photos").rglob("*") if p.is_file()] == [store.path(digest)]


def test_missing_lists_what_the_store_lacks_in_the_order_asked(tmp_path: Path) -> None:
    store = FilesystemPhotoStore(tmp_path / "photos")
    held = sha256(b"held")
    store.put(held, staged(tmp_path, b"held"))
    absent = [sha256(b"a"), sha256(b"b")]
    assert store.missing([absent[1], held, absent[0]]) == [absent[1], absent[0]]
    assert not store.contains(absent[0])
    with pytest.raises(FileNotFoundError):
        store.open(absent[0])


@pytest.mark.parametrize(
    "name", ["../../secret_key", "", "A" * 64, "ab" * 31 + "zz", sha256(b"x") + "\n"]
)
def test_a_path_is_only_ever_built_from_a_digest(tmp_path: Path, name: str) -> None:
    store = FilesystemPhotoStore(tmp_path / "photos")
    with pytest.raises(ValueError):
        store.contains(name)
    with pytest.raises(ValueError):
        store.put(name, staged(tmp_path, b"x"))


def test_derivatives_sit_beside_their_blob_and_are_replaced_whole(tmp_path: Path) -> None:
    store = FilesystemPhotoStore(tmp_path / "photos")
    digest = sha256(b"photo")
    store.put(digest, staged(tmp_path, b"photo"))
    assert store.open_derivative(digest, "thumb-320.jpg") is None
    store.put_derivative(digest, "thumb-320.jpg", b"first")
    store.put_derivative(digest, "thumb-320.jpg", b"second")
    handle = store.open_derivative(digest, "thumb-320.jpg")
    assert handle is not None
    with handle:
        assert handle.read() == b"second"
    assert store.path(digest).with_name(f"{digest}.thumb-320.jpg").is_file()
    assert store.missing([digest]) == []
    with pytest.raises(ValueError):
        store.put_derivative(digest, "../escape", b"x")


def test_a_staging_file_on_another_volume_is_copied_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FilesystemPhotoStore(tmp_path / "photos")
    data = b"bytes on another volume"
    digest = sha256(data)
    source = staged(tmp_path, data)
    real_replace = os.replace

    def cross_device(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if Path(src) == source:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(photo_store.os, "replace", cross_device)
    assert store.put(digest, source) is True
    assert store.path(digest).read_bytes() == data
    assert not source.exists()
    leftovers = [p.name for p in store.path(digest).parent.iterdir()]
    assert leftovers == [digest]


def test_every_listing_that_changed_is_synced_once_the_blob_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "photos").mkdir()
    store = FilesystemPhotoStore(tmp_path / "photos")
    data = b"\xff\xd8\xff a photo in new folders"
    digest = sha256(data)
    blob = tmp_path / "photos" / digest[:2] / digest[2:4] / digest
    synced: list[tuple[Path, bool]] = []
    real_sync = photo_store.fsync_folder

    def recording_sync(path: Path) -> None:
        synced.append((path, blob.exists()))
        real_sync(path)

    monkeypatch.setattr(photo_store, "fsync_folder", recording_sync)
    store.put(digest, staged(tmp_path, data))
    assert synced == [(blob.parent, True), (blob.parent.parent, True), (tmp_path / "photos", True)]
    synced.clear()
    neighbour = digest[:4] + "0" * 60
    store.put(neighbour, staged(tmp_path, b"another photo beside it"))
    assert synced == [(blob.parent, True)]
