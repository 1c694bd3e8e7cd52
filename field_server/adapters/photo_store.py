"""The content-addressed photo store: immutable blobs named by their SHA-256, and the
derivatives (thumbnails) made from them."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from field_server.adapters.durable_files import fsync_folder

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
REMOVAL_LOCK = ".removal.lock"  # in the store's root; see ``removing`` and ``nothing_removed``


class StoreBusy(Exception):
    """Blobs may not be removed now: another removal runs, or a reader (a backup) needs every
    blob it listed to stay."""


DERIVATIVE_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")


class PhotoStore(Protocol):
    """What the server needs of a blob store; a filesystem here, an S3-compatible bucket later.

    A blob, once put, never changes: the same digest always opens the same bytes.
    """

    def contains(self, sha256: str) -> bool: ...

    def missing(self, digests: Sequence[str]) -> list[str]:
        """The digests of ``digests`` the store does not hold, in their order."""
        ...

    def size(self, sha256: str) -> int: ...

    def open(self, sha256: str) -> BinaryIO:
        """The blob for reading; raises FileNotFoundError when the store does not hold it."""
        ...

    def put(self, sha256: str, staged: Path) -> bool:
        """Take a finished, checked staging file, already on disk (fsync), as the blob
        ``sha256``; the staging file is gone afterwards. Returns False when the store held
        the blob already."""
        ...

    def open_derivative(self, sha256: str, name: str) -> BinaryIO | None:
        """A file made from the blob (``name`` like ``thumb-320.jpg``), or None if not made."""
        ...

    def put_derivative(self, sha256: str, name: str, data: bytes) -> None: ...


class FilesystemPhotoStore:
    """Blobs at ``root/ab/cd/<sha256>``, so no folder grows past 65,536 entries per level.

    Every file appears by an atomic rename of a file already synced (``put`` takes it so from
    the upload staging, which syncs what it writes), and the folder is synced after it, so a
    crash leaves either no blob or the whole blob, never a torn one.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def contains(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def missing(self, digests: Sequence[str]) -> list[str]:
        return [digest for digest in digests if not self.contains(digest)]

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def put(self, sha256: str, staged: Path) -> bool:
        target = self.path(sha256)
        if target.is_file() and _sent_again(target):
            staged.unlink(missing_ok=True)
            return False
        created = self._make_folders(target.parent)
        # read-only: nothing on the server has a reason to write a stored photo
        os.chmod(staged, 0o400)
        try:
            # two processes finishing the same photo at once may both rename: the bytes are
            # equal by construction, so whichever lands last changes nothing
            os.replace(staged, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            self._copy_across_volumes(staged, target)
        _sync_listings(target.parent, created)
        return True

    def open_derivative(self, sha256: str, name: str) -> BinaryIO | None:
        try:
            return self._derivative_path(sha256, name).open("rb")
        except FileNotFoundError:
            return None

    def put_derivative(self, sha256: str, name: str, data: bytes) -> None:
        target = self._derivative_path(sha256, name)
        _sync_listings(None, self._make_folders(target.parent))
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
        try:
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    @contextlib.contextmanager
    def removing(self) -> Iterator[None]:
        """Hold the store for removals (``remove``), one remover at a time; StoreBusy at once,
        without waiting, while another remover or a ``nothing_removed`` block holds it."""
        with self._removal_lock(fcntl.LOCK_EX | fcntl.LOCK_NB):
            yield

    @contextlib.contextmanager
    def nothing_removed(self) -> Iterator[None]:
        """No blob is removed while the block runs (for a reader that lists blobs first and
        opens them later, such as a backup); waits for a removal under way to end."""
        with self._removal_lock(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def _removal_lock(self, operation: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / REMOVAL_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, operation)
            except BlockingIOError:
                raise StoreBusy("the photo store is being backed up or cleaned up") from None
            yield
        finally:
            os.close(fd)

    def remove(self, sha256: str, confirm: Callable[[float | None], bool]) -> int | None:
        """Remove the blob and the files made from it if ``confirm`` agrees; returns the
        bytes freed, or None when ``confirm`` refused and the blob stays. Call it only
        inside ``removing``.

        ``confirm`` is asked with the time the blob was last stored or sent again (its file's
        modification time; None when the file is already gone) while the file is set aside
        under another name: a ``put`` of the same digest meanwhile either refreshed that time
        before it was read, or finds no blob and places its own copy, which stays. Never
        count on a blob that is leaving.
        """
        target = self.path(sha256)
        aside = target.with_name(f".{target.name}.removing")
        with contextlib.suppress(FileNotFoundError):
            os.rename(target, aside)
        try:
            # also one a removal set aside before its process died
            stored: os.stat_result | None = aside.stat()
        except FileNotFoundError:
            stored = None
        confirmed = False
        try:
            confirmed = confirm(None if stored is None else stored.st_mtime)
        finally:
            if not confirmed and stored is not None:
                with contextlib.suppress(FileExistsError):  # a put brought the bytes back
                    os.link(aside, target)
                aside.unlink()
        if not confirmed:
            return None
        aside.unlink(missing_ok=True)
        for derivative in target.parent.glob(f"{target.name}.*"):
            derivative.unlink(missing_ok=True)
        if target.parent.is_dir():
            fsync_folder(target.parent)
        return 0 if stored is None else stored.st_size

    def _derivative_path(self, sha256: str, name: str) -> Path:
        if not DERIVATIVE_NAME.fullmatch(name):
            raise ValueError(f"not a derivative name: {name[:80]!r}")
        blob = self.path(sha256)
        return blob.with_name(f"{blob.name}.{name}")

    def _make_folders(self, folder: Path) -> list[Path]:
        """Create ``folder`` and its missing parents; returns the folders created, the deepest
        first, for ``_sync_listings`` once the file is in place."""
        missing: list[Path] = []
        current = folder
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        created: list[Path] = []
        for folder_to_make in reversed(missing):
            try:
                folder_to_make.mkdir()
            except FileExistsError:
                continue
            created.append(folder_to_make)
        return created[::-1]

    def _copy_across_volumes(self, staged: Path, target: Path) -> None:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
        try:
            with staged.open("rb") as source, temporary.open("wb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
                copy.flush()
                os.fsync(copy.fileno())
            os.chmod(temporary, 0o400)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)


def _sent_again(blob: Path) -> bool:
    """Mark a stored blob as sent again now, so the cleanup keeps what was just sent; False
    when it is no longer there (the cleanup set it aside this instant)."""
    try:
        os.utime(blob)
    except FileNotFoundError:
        return False
    except PermissionError:
        pass  # a file the server does not own (restored by hand): it is there all the same
    return True


def _sync_listings(folder: Path | None, created: list[Path]) -> None:
    """fsync ``folder`` (whose listing gained a file) and the parent of each folder made for
    it, deepest first. All of them come after the rename, so that on a journalling file
    system such as ext4 the first sync commits every change at once and the rest find little
    left to write: about one journal commit per photo instead of one per new folder and one
    for the file."""
    to_sync = [] if folder is None else [folder]
    to_sync.extend(made.parent for made in created)
    for listing in dict.fromkeys(to_sync):
        fsync_folder(listing)
