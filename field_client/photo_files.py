"""The laptop's photo folder: camera files copied in by SHA-256 and on disk before being read."""

# A camera card may be wiped the day after an import, so the copy is the photo: it is written to
# a temporary file, fsynced, renamed to its SHA-256 and the folder fsynced, and only that copy
# is read and uploaded. Its path comes from the hash alone, never from the camera's file name,
# so no name ("../x", a symlink) can make the import write outside the folder.

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from field_core.geo.exif import MAX_PHOTO_BYTES
from field_core.geo.source_file import UnreadableFile, source_file_name

PHOTO_FOLDER = "photos"
_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class CopyFailed(UnreadableFile):
    """A camera file that could not be copied into the photo folder."""


def photo_folder(home: Path) -> Path:
    return home / PHOTO_FOLDER


def stored_path(home: Path, sha256: str) -> Path:
    """Where the photo with this SHA-256 lives on the laptop."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a SHA-256: {sha256[:80]!r}")
    return photo_folder(home) / sha256[:2] / sha256


def copy_in(home: Path, source: Path, max_bytes: int = MAX_PHOTO_BYTES) -> tuple[str, Path, bool]:
    """Copy a camera file into the photo folder; returns (sha256, stored path, newly stored).

    A symbolic link is refused rather than followed: a camera card holds none, and following
    one would let an import pick up any file the user can read.
    """
    name = source_file_name(source)
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CopyFailed(name, "is a symbolic link; skipped") from None
        raise CopyFailed(name, f"cannot be read: {error.strerror or error}") from None
    with os.fdopen(fd, "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise CopyFailed(name, "is not a regular file; skipped")
        if status.st_size > max_bytes:
            raise CopyFailed(name, f"is {status.st_size / 1e6:.0f} MB, above the photo limit")
        return _store(home, stream, name, max_bytes)


def keep_stream(
    home: Path, stream: BinaryIO, name: str, max_bytes: int = MAX_PHOTO_BYTES
) -> tuple[str, Path]:
    """Copy a received file (a phone's attachment) into the photo folder as ``copy_in`` does a
    camera file, chunk by chunk; returns (sha256, stored path)."""
    sha256, target, _ = _store(home, stream, name, max_bytes)
    return sha256, target


def _store(home: Path, stream: BinaryIO, name: str, max_bytes: int) -> tuple[str, Path, bool]:
    """The bytes copied into the incoming folder, then renamed to their SHA-256's place (or
    dropped when that photo is there already); (sha256, stored path, newly stored)."""
    incoming = photo_folder(home) / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=incoming, suffix=".partial")
    try:
        sha256 = _copy(stream, handle, name, max_bytes)
    except BaseException:
        os.unlink(partial)
        raise
    target = stored_path(home, sha256)
    if target.exists():
        os.unlink(partial)
        return sha256, target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)
    _sync_folder(target.parent)
    return sha256, target, True


def _copy(stream: BinaryIO, handle: int, name: str, max_bytes: int) -> str:
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(handle, "wb") as out:
        try:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise CopyFailed(name, "grew above the photo limit while being copied")
                digest.update(chunk)
                out.write(chunk)
        except OSError as error:
            raise CopyFailed(name, f"cannot be read: {error.strerror or error}") from None
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def discard(path: Path) -> None:
    """Remove a stored copy that turned out not to be a photo."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clear_partials(home: Path, older_than_s: float = 3600) -> int:
    """Remove the half-copied files a killed copy left in the photo folder's incoming folder,
    once they are ``older_than_s`` seconds untouched (a copy under way keeps writing its own);
    returns how many went."""
    incoming = photo_folder(home) / "incoming"
    cutoff = time.time() - older_than_s
    removed = 0
    for path in incoming.glob("*.partial"):
        try:
            status = path.lstat()
            if stat.S_ISREG(status.st_mode) and status.st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
