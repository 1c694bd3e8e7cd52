"""The backup archive on disk: a plain tar file (PAX headers, one a member) written as a
``.part`` file beside its name and renamed once whole, and read back member by member with
every check of ``domain.backup_manifest`` before any of it is used.

Tables are stored uncompressed, as ``tar`` stores the data folder: compressing them took
longer than everything else a backup does (gzip even at level 1 runs near 100 MB/s, the disk
several times that), the photos that make most of an archive are JPEGs that do not compress,
and an archive can still be compressed afterwards by whoever wants it smaller. Uncompressed,
a table goes straight from the database into the archive: a tar header states its member's
size, which is known only once all rows are written, so the writer leaves room for the header,
streams the rows while hashing and counting them, and then goes back and writes the header
(the archive is a regular file, never a pipe). A table's header is always a PAX header with
the size in it, so it takes the same room whatever the size turns out to be.

Photos come first in the archive and go in as they are, by ``copy_file_range`` (the kernel
copies, page cache to page cache), on a thread of their own while the tables are written after
them: a photo's size is known before it is copied, so the room of every photo is set aside at
the start and the tables stream from its end; a further thread hashes each photo's bytes. The
database, the copying and the hashing then keep both cores busy instead of taking turns.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import queue
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from field_server.adapters.durable_files import fsync_folder
from field_server.domain.backup_manifest import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MAX_MEMBERS,
    MAX_ROW_BYTES,
    Manifest,
    ManifestProblem,
    MemberLedger,
    PhotoMember,
    TableMember,
    check_member_name,
)

# 4 MB pieces: large enough that per-call costs vanish beside the copying and hashing (which
# releases the GIL on pieces this size), small enough to stay out of the memory figures
COPY_BYTES = 4 * 1024 * 1024
GZIP_WBITS = 31  # zlib's gzip framing: archives written before tables went uncompressed
BLOCK = tarfile.BLOCKSIZE
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)
_PIPELINE_DEPTH = 4  # pieces waiting to be hashed and written: bounds the memory a table takes

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


# -- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenMember:
    size: int
    sha256: str


class ArchiveWriter:
    """Writes ``<out>.part`` and, on ``finish``, syncs it and renames it to ``out``; a writer
    left without ``finish`` (an error, a kill) removes the part file, so no half archive is
    ever found under the asked name."""

    def __init__(self, out: Path, mtime: float) -> None:
        self.out = out
        self.part = out.with_name(out.name + ".part")
        self._mtime = mtime
        # unbuffered: every write is a large piece already, and headers are written back
        # by position
        self._file = self.part.open("wb", buffering=0)
        self._fd = self._file.fileno()
        self._offset = 0
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="backup-hash")
        self._copier = ThreadPoolExecutor(1, thread_name_prefix="backup-photos")
        self._photos: Future[list[Future[PhotoMember]]] | None = None
        self._stop = threading.Event()

    def _header(self, name: str, size: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self._mtime
        info.mode = 0o644
        # the size in the PAX header too: its header then has the same length (three
        # blocks) for any size, and members past 8 GB need it there anyway
        info.pax_headers = {"size": str(size)}
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._offset += written

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self._write(bytes(BLOCK - size % BLOCK))

    def add_stream(self, name: str, pieces: Iterable[bytes]) -> WrittenMember:
        """A member whose bytes come piece by piece, their total unknown until the end."""
        start = self._offset
        room = len(self._header(name, 0))
        self._write(bytes(room))
        digest = hashlib.sha256()
        size = 0
        # hashing and writing on a thread of their own while the database makes the next
        # piece: sqlite3 and psycopg release the GIL while they work, so do hashlib and write
        with _Pipeline(lambda piece: (digest.update(piece), self._write(piece))) as pipe:
            for piece in pieces:
                size += len(piece)
                pipe.put(piece)
        header = self._header(name, size)
        if len(header) != room:  # pragma: no cover - the PAX header's length is fixed above
            raise RuntimeError(f"the tar header of {name} changed length")
        os.pwrite(self._fd, header, start)
        self._pad(size)
        return WrittenMember(size, digest.hexdigest())

    def start_photos(self, photos: Sequence[tuple[str, Path, int]]) -> None:
        """Set aside the room of these photos (SHA-256, file, size) at the archive's start and
        copy them in on a thread while the tables are written after them; before any table.
        A photo whose file is gone or has another size by the time it is copied fails the
        backup (``photo_members`` raises): stored photos never change, and the backup keeps
        removals out while it runs."""
        if self._offset:
            raise RuntimeError("photos go in before any table")
        layout = []
        for sha256, path, size in photos:
            header = self._header(photo_member_name_of(sha256), size)
            layout.append((sha256, path, size, self._offset, header))
            self._offset += len(header) + size + _padding(size)
        os.lseek(self._fd, self._offset, os.SEEK_SET)
        self._photos = self._copier.submit(self._copy_photos, layout)

    def _copy_photos(
        self, layout: list[tuple[str, Path, int, int, bytes]]
    ) -> list[Future[PhotoMember]]:
        hashed = []
        for sha256, path, size, offset, header in layout:
            if self._stop.is_set():
                break
            source = os.open(path, os.O_RDONLY)
            try:
                if os.fstat(source).st_size != size:
                    raise OSError(errno.EIO, f"photo {sha256} changed size during the backup")
                os.pwrite(self._fd, header, offset)
                start = offset + len(header)
                _copy_range(source, self._fd, size, start)
                if _padding(size):
                    os.pwrite(self._fd, bytes(_padding(size)), start + size)
                # hashed from the source file, whose pages the copy has just read in; if its
                # bytes did differ between the two reads the restore refuses the archive, as
                # it would any damage
                reader = os.dup(source)
            finally:
                os.close(source)
            hashed.append(self._hasher.submit(_hash_photo, reader, sha256, size))
        if layout and not self._stop.is_set():
            # the photos' pages go to the disk now, while the tables are still being read,
            # rather than all at the archive's closing fsync (which still follows: this one
            # only takes most of the writing off its hands)
            os.fdatasync(self._fd)
        return hashed

    def photo_members(self, progress: Progress = _quiet) -> list[PhotoMember]:
        """The photos ``start_photos`` copied, each with the SHA-256 of its bytes, once all
        are in."""
        if self._photos is None:
            return []
        hashed = self._photos.result()
        members = []
        for number, future in enumerate(hashed, start=1):
            members.append(future.result())
            if number % 100 == 0:
                progress(f"photos: {number} of {len(hashed)}")
        return members

    def finish(self, manifest: Manifest) -> None:
        self.photo_members()  # every photo in: an error of the copying is raised here
        self._copier.shutdown(wait=True)
        self._hasher.shutdown(wait=True)
        data = manifest.to_json()
        self._write(self._header(MANIFEST_NAME, len(data)))
        self._write(data)
        self._pad(len(data))
        self._write(bytes(2 * BLOCK))  # the end of the archive
        if self._offset % tarfile.RECORDSIZE:  # whole records, as tar itself writes
            self._write(bytes(tarfile.RECORDSIZE - self._offset % tarfile.RECORDSIZE))
        os.fsync(self._fd)
        self._file.close()
        os.replace(self.part, self.out)
        fsync_folder(self.out.parent)

    def abandon(self) -> None:
        self._stop.set()
        self._copier.shutdown(wait=True, cancel_futures=True)
        self._hasher.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._file.close()
        self.part.unlink(missing_ok=True)


def photo_member_name_of(sha256: str) -> str:
    return PhotoMember(sha256, 0, sha256).member


def _hash_photo(fd: int, sha256: str, size: int) -> PhotoMember:
    try:
        digest = hashlib.sha256()
        buffer = bytearray(COPY_BYTES)
        view = memoryview(buffer)
        offset = 0
        while offset < size:
            count = os.preadv(fd, [view[: min(COPY_BYTES, size - offset)]], offset)
            if count == 0:
                raise OSError(errno.EIO, f"photo {sha256} got shorter while it was read")
            digest.update(view[:count])
            offset += count
        return PhotoMember(sha256, size, digest.hexdigest())
    finally:
        os.close(fd)


def _padding(size: int) -> int:
    return -size % BLOCK


def _copy_range(source: int, target: int, size: int, at: int) -> None:
    """``size`` bytes from ``source`` (from its start) into ``target`` at offset ``at``."""
    offset = 0
    try:
        while offset < size:
            copied = os.copy_file_range(source, target, size - offset, offset, at + offset)
            if copied == 0:
                raise OSError(errno.EIO, "a photo got shorter while it was copied")
            offset += copied
        return
    except OSError as error:
        # file systems and kernels without it: the same bytes by read and write
        if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    buffer = bytearray(COPY_BYTES)
    view = memoryview(buffer)
    while offset < size:
        count = os.preadv(source, [view[: min(COPY_BYTES, size - offset)]], offset)
        if count == 0:
            raise OSError(errno.EIO, "a photo got shorter while it was copied")
        written = 0
        while written < count:
            written += os.pwrite(target, view[written:count], at + offset + written)
        offset += count


class _Pipeline:
    """Hands pieces to ``consume`` on a second thread, at most a few pieces ahead; an error
    there comes back at the next ``put`` or at the end."""

    def __init__(self, consume: Callable[[bytes], object]) -> None:
        self._consume = consume
        self._pieces: queue.Queue[bytes | None] = queue.Queue(_PIPELINE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="backup-write", daemon=True)

    def __enter__(self) -> _Pipeline:
        self._thread.start()
        return self

    def _run(self) -> None:
        while (piece := self._pieces.get()) is not None:
            if self._error is None:
                try:
                    self._consume(piece)
                except BaseException as error:  # handed to the main thread, raised there
                    self._error = error

    def put(self, piece: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._pieces.put(piece)

    def __exit__(self, *_: object) -> None:
        self._pieces.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    offset: int
    size: int


class ArchiveReader:
    """An archive opened for restore. Opening reads only the headers and the manifest (the
    name, type and size of each member are checked there); ``verify`` then reads every byte.
    Members are read by position (``pread``), so several threads can read at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, _Entry] = {}
        try:
            self._file = path.open("rb")
        except OSError as error:
            raise ManifestProblem(f"cannot open the archive {path}: {error.strerror}") from None
        self._fd = self._file.fileno()
        try:
            self.manifest = self._read_headers()
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _read_headers(self) -> Manifest:
        try:
            # only headers are read through it; the file is closed by this reader
            tar = tarfile.open(fileobj=self._file, mode="r:")  # noqa: SIM115
            members: list[tarfile.TarInfo] = []
            while (member := tar.next()) is not None:
                members.append(member)
                if len(members) > MAX_MEMBERS:
                    raise ManifestProblem(f"the archive has more than {MAX_MEMBERS} members")
        except tarfile.TarError as error:
            raise ManifestProblem(f"the archive cannot be read as a tar file: {error}") from None
        except EOFError:
            raise ManifestProblem("the archive is cut short") from None
        for member in members:
            check_member_name(member.name)
            if member.type not in _REGULAR or member.issparse():
                raise ManifestProblem(
                    f"archive member {member.name} is not a plain file (links, devices and "
                    "folders are never part of a backup)"
                )
            if member.name in self._entries:
                raise ManifestProblem(f"archive member {member.name} appears twice")
            self._entries[member.name] = _Entry(member.name, member.offset_data, member.size)
        if not members or members[-1].name != MANIFEST_NAME:
            raise ManifestProblem(
                "the archive does not end with its manifest: it is cut short or not a backup"
            )
        manifest_entry = self._entries.pop(MANIFEST_NAME)
        if manifest_entry.size > MAX_MANIFEST_BYTES:
            raise ManifestProblem(f"the manifest has {manifest_entry.size} bytes: too large")
        raw = b"".join(bytes(chunk) for chunk in self._chunks(manifest_entry, None))
        manifest = Manifest.from_json(raw)
        ledger = MemberLedger(manifest)
        for entry in self._entries.values():
            ledger.expect(entry.name, entry.size)
        ledger.check_all_seen()
        return manifest

    def _chunks(
        self, entry: _Entry, digest: Any | None, piece: int = COPY_BYTES
    ) -> Iterator[memoryview]:
        """The member's bytes from the archive file, checking that all of them are there. Each
        piece is valid until the next is asked for (one buffer is reused)."""
        buffer = memoryview(bytearray(min(piece, max(entry.size, 1))))
        offset, left = entry.offset, entry.size
        while left:
            count = os.preadv(self._fd, [buffer[: min(left, len(buffer))]], offset)
            if not count:
                raise ManifestProblem(f"archive member {entry.name} is cut short")
            chunk = buffer[:count]
            if digest is not None:
                digest.update(chunk)
            offset += count
            left -= count
            yield chunk

    def verify(self, progress: Progress = _quiet) -> None:
        """Read every member: each must have its listed SHA-256; each table must hold exactly
        its listed size and row count, and a compressed one expand no further than its listed
        size (a decompression bomb stops there). Two threads read at once: hashing releases
        the GIL, and the machine has more than one core."""
        ledger = MemberLedger(self.manifest)
        photos = len(self.manifest.photos)
        with ThreadPoolExecutor(2, thread_name_prefix="restore-verify") as pool:
            tables = [pool.submit(self._check_table, table) for table in self.manifest.tables]
            hashed = [
                pool.submit(self._member_sha256, self._entries[photo.member])
                for photo in self.manifest.photos
            ]
            try:
                for table, future in zip(self.manifest.tables, tables, strict=True):
                    ledger.check_content(table.member, future.result())
                for number, (photo, future) in enumerate(
                    zip(self.manifest.photos, hashed, strict=True), start=1
                ):
                    ledger.check_content(photo.member, future.result())
                    if number % 100 == 0:
                        progress(f"checked {number} of {photos} photos")
            except BaseException:
                for future in (*tables, *hashed):
                    future.cancel()
                raise

    def _member_sha256(self, entry: _Entry) -> str:
        digest = hashlib.sha256()
        for _ in self._chunks(entry, digest):
            pass
        return digest.hexdigest()

    def _check_table(self, table: TableMember) -> str:
        entry = self._entries[table.member]
        digest = hashlib.sha256()
        expanded, lines = self._expand(table, self._chunks(entry, digest))
        if expanded != table.expanded_size or lines != table.rows:
            raise ManifestProblem(
                f"table {table.table} holds {lines} rows in {expanded} bytes; the manifest "
                f"says {table.rows} rows in {table.expanded_size}"
            )
        return digest.hexdigest()

    def _expand(self, table: TableMember, chunks: Iterable[memoryview]) -> tuple[int, int]:
        """(bytes, lines) of the table's rows, read no further than its listed size."""
        expanded = lines = 0
        if table.compression == "none":
            for chunk in chunks:
                expanded += len(chunk)
                lines += _newlines(chunk)
            return expanded, lines
        decompressor = zlib.decompressobj(GZIP_WBITS)
        budget = table.expanded_size + 1  # one byte more tells a member that grows past it
        try:
            for chunk in chunks:
                pending: bytes | memoryview = chunk
                while pending:
                    data = decompressor.decompress(pending, COPY_BYTES)
                    expanded += len(data)
                    lines += data.count(b"\n")
                    if expanded >= budget:
                        raise ManifestProblem(
                            f"table {table.table} expands past the {table.expanded_size} bytes "
                            "its manifest lists: refused as a decompression bomb"
                        )
                    pending = decompressor.unconsumed_tail
                    if decompressor.eof:
                        break
            if not decompressor.eof or decompressor.unused_data or decompressor.unconsumed_tail:
                raise ManifestProblem(f"table {table.table} is not one whole gzip stream")
        except zlib.error as error:
            raise ManifestProblem(f"table {table.table} cannot be decompressed: {error}") from None
        return expanded, lines

    def table_pieces(self, table: TableMember, lines_per_piece: int) -> Iterator[tuple[bytes, int]]:
        """(bytes, lines): the table's rows as pieces of whole JSON lines, each ending with a
        newline, of about ``lines_per_piece`` lines. The member's SHA-256 is taken again on
        the way, so an archive changed since ``verify`` stops the load (before the
        transaction that holds the rows commits)."""
        entry = self._entries[table.member]
        digest = hashlib.sha256()
        chunks: Iterator[bytes | memoryview] = self._chunks(entry, digest, 1024 * 1024)
        if table.compression == "gzip":
            chunks = _gunzip(chunks)
        pending = bytearray()
        for chunk in chunks:
            pending += chunk
            cut = pending.rfind(b"\n")
            if cut < 0:
                if len(pending) > MAX_ROW_BYTES:
                    raise ManifestProblem(
                        f"a row of table {table.table} is longer than {MAX_ROW_BYTES} bytes"
                    )
                continue
            whole = bytes(pending[: cut + 1])
            del pending[: cut + 1]
            yield from _by_lines(whole, lines_per_piece)
        if pending:
            raise ManifestProblem(f"the last row of table {table.table} is cut short")
        if digest.hexdigest() != table.sha256:
            raise ManifestProblem(f"table {table.table} changed while it was being restored")

    def table_rows(self, table: TableMember) -> Iterator[Any]:
        """The table's rows, each a parsed JSON value (for reading an archive in Python)."""
        for piece, _ in self.table_pieces(table, 2000):
            for line in piece.splitlines():
                try:
                    yield json.loads(line)
                except ValueError as error:
                    raise ManifestProblem(
                        f"a row of table {table.table} is not JSON: {error}"
                    ) from None

    def copy_photo(self, photo: PhotoMember, out: int) -> str:
        """Write the photo's bytes to the file ``out``; returns their SHA-256 as read this
        time."""
        digest = hashlib.sha256()
        for chunk in self._chunks(self._entries[photo.member], digest):
            view = chunk
            while view:
                view = view[os.write(out, view) :]
        return digest.hexdigest()


def _newlines(chunk: memoryview) -> int:
    """The newlines of a piece ``_chunks`` gave, counted in its buffer without a copy (each
    piece is a slice from the buffer's start)."""
    return chunk.obj.count(b"\n", 0, len(chunk))  # type: ignore[union-attr]


def _by_lines(whole: bytes, lines_per_piece: int) -> Iterator[tuple[bytes, int]]:
    """``whole`` (whole lines) in pieces of ``lines_per_piece`` lines at most."""
    count = whole.count(b"\n")
    if count <= lines_per_piece:
        yield whole, count
        return
    start = 0
    while start < len(whole):
        end = start
        taken = 0
        while taken < lines_per_piece and end < len(whole):
            end = whole.index(b"\n", end) + 1
            taken += 1
        yield whole[start:end], taken
        start = end


def _gunzip(chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(GZIP_WBITS)
    try:
        for chunk in chunks:
            pending: bytes | memoryview = chunk
            while pending:
                yield decompressor.decompress(pending, COPY_BYTES)
                pending = decompressor.unconsumed_tail
    except zlib.error as error:
        raise ManifestProblem(f"a table cannot be decompressed: {error}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(COPY_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
