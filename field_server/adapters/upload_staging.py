"""Staging files: the bytes of unfinished uploads, appended in place under the data folder."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from field_server.adapters.durable_files import fsync_folder

PIECE = 1 << 20  # a PATCH body is copied a mebibyte at a time, never held whole
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class BodyInterrupted(Exception):
    """The request body ended before the length it announced: the client went away."""


@dataclass(frozen=True)
class Appended:
    written: int
    interrupted: bool  # the body ended early; ``written`` bytes of it arrived
    overflowed: bool  # the body went on past the room the upload had left


class UploadStaging:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, upload_id: str) -> Path:
        if not UPLOAD_ID.fullmatch(upload_id):
            raise ValueError(f"not an upload id: {upload_id[:80]!r}")
        return self.root / upload_id

    def size(self, upload_id: str) -> int:
        try:
            return self.path(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    @contextmanager
    def claimed(self, upload_id: str) -> Iterator[None]:
        """Hold the upload for one writer: an exclusive ``flock`` on its staging file (made
        empty if absent), waited for, and let go when the block ends or the process dies.

        flock belongs to an open file, not to a process, so two threads of one server wait for
        each other as two processes do; on a shared NFS volume Linux takes it as an NFS lock.
        """
        path = self.path(upload_id)
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def append(
        self,
        upload_id: str,
        offset: int,
        read: Callable[[int], bytes],
        room: int,
        digests: Sequence[Any] = (),
    ) -> Appended:
        """Write what ``read`` gives at ``offset``, at most ``room`` bytes, feeding each piece
        to ``digests`` (hashlib objects); the bytes are on disk (fsync) when it returns, but
        a file new since the last ``keep`` may not be listed in its folder after a crash.

        Bytes past ``offset`` left by a process that died mid-append were never counted, so
        they are cut off first.
        """
        path = self.path(upload_id)
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        written = 0
        interrupted = overflowed = False
        try:
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
            while written < room:
                try:
                    piece = read(min(PIECE, room - written))
                except BodyInterrupted:
                    interrupted = True
                    break
                if not piece:
                    break
                _write_all(fd, piece)
                for digest in digests:
                    digest.update(piece)
                written += len(piece)
            if not interrupted and written == room:
                try:
                    overflowed = bool(read(1))
                except BodyInterrupted:
                    interrupted = True
            os.fsync(fd)
        finally:
            os.close(fd)
        return Appended(written, interrupted, overflowed)

    def keep(self) -> None:
        """Make the staging files' names survive a crash (fsync of their folder): needed before
        an offset is acknowledged for a file that stays here, not for one that moves on to the
        photo store in the same request."""
        fsync_folder(self.root)

    def truncate(self, upload_id: str, offset: int) -> None:
        """Take back what an append wrote past ``offset`` (a chunk that failed its checksum)."""
        path = self.path(upload_id)
        if path.exists():
            os.truncate(path, offset)

    def sha256(self, upload_id: str) -> str:
        digest = hashlib.sha256()
        with self.path(upload_id).open("rb") as handle:
            while piece := handle.read(PIECE):
                digest.update(piece)
        return digest.hexdigest()

    def discard(self, upload_id: str) -> None:
        self.path(upload_id).unlink(missing_ok=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
