"""The backup archive on disk: a plain tar file (Python's tarfile, PAX headers) written as
a ``.part`` file beside its name and renamed once whole, and read back member by member with
every check of ``domain.backup_manifest`` before any of it is used.

Tables are spooled to a compressed scratch file first, because a tar header states its
member's size and a table's compressed size is known only once all its rows are written.
Photos go in as they are (JPEGs do not compress), hashed as they are copied.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
    table_expansion_allowed,
)

COPY_BYTES = 1024 * 1024
COMPRESS_LEVEL = 1  # JSON rows shrink about 5 times at level 1; higher levels cost far more time
GZIP_WBITS = 31  # zlib's gzip framing
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


# -- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpooledTable:
    path: Path
    rows: int
    compression: str
    size: int
    sha256: str
    expanded_size: int


def spool_table(batches: Iterable[list[list[Any]]], path: Path) -> SpooledTable:
    """Write rows as JSON lines, gzip-compressed, to ``path``; past the expansion the
    manifest allows (rows so alike that gzip shrinks them over 200 times), the same lines
    are kept uncompressed instead, so every archive this writes can be restored."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    digest = hashlib.sha256()
    rows = expanded = size = 0
    with path.open("wb") as out:
        for batch in batches:
            if not batch:
                continue
            text = ("\n".join(map(encoder.encode, batch)) + "\n").encode("utf-8")
            rows += len(batch)
            expanded += len(text)
            packed = compressor.compress(text)
            if packed:
                digest.update(packed)
                size += out.write(packed)
        packed = compressor.flush()
        digest.update(packed)
        size += out.write(packed)
    if table_expansion_allowed(size, expanded):
        return SpooledTable(path, rows, "gzip", size, digest.hexdigest(), expanded)
    return _uncompressed(path, rows, expanded)


def _uncompressed(path: Path, rows: int, expanded: int) -> SpooledTable:
    plain = path.with_name(path.name + ".plain")
    digest = hashlib.sha256()
    decompressor = zlib.decompressobj(GZIP_WBITS)
    with path.open("rb") as source, plain.open("wb") as out:
        while chunk := source.read(COPY_BYTES):
            data = decompressor.decompress(chunk)
            digest.update(data)
            out.write(data)
    path.unlink()
    return SpooledTable(plain, rows, "none", expanded, digest.hexdigest(), expanded)


class _HashingReader(io.RawIOBase):
    """A file read through once, its SHA-256 taken on the way."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.digest.update(data)
        return data


class ArchiveWriter:
    """Writes ``<out>.part`` and, on ``finish``, syncs it and renames it to ``out``; a writer
    left without ``finish`` (an error, a kill) removes the part file, so no half archive is
    ever found under the asked name."""

    def __init__(self, out: Path, mtime: float) -> None:
        self.out = out
        self.part = out.with_name(out.name + ".part")
        self._mtime = mtime
        # both stay open across add_* calls; finish or abandon closes them
        self._file = self.part.open("wb")
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT
        )
        self._tar.copybufsize = COPY_BYTES  # tarfile copies 16 KB at a time otherwise

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self._mtime
        info.mode = 0o644
        return info

    def add_table(self, member: TableMember, spooled: SpooledTable) -> None:
        with spooled.path.open("rb") as source:
            self._tar.addfile(self._info(member.member, spooled.size), source)

    def add_photo(self, sha256: str, source: BinaryIO, size: int) -> PhotoMember:
        reader = _HashingReader(source)
        self._tar.addfile(self._info(PhotoMember(sha256, size, sha256).member, size), reader)
        return PhotoMember(sha256, size, reader.digest.hexdigest())

    def finish(self, manifest: Manifest) -> None:
        data = manifest.to_json()
        self._tar.addfile(self._info(MANIFEST_NAME, len(data)), io.BytesIO(data))
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.part, self.out)
        _fsync_folder(self.out.parent)

    def abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._tar.close()
        with contextlib.suppress(OSError):
            self._file.close()
        self.part.unlink(missing_ok=True)


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    offset: int
    size: int


class ArchiveReader:
    """An archive opened for restore. Opening reads only the headers and the manifest (the
    name, type and size of each member are checked there); ``verify`` then reads every byte."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, _Entry] = {}
        try:
            self._file = path.open("rb")
        except OSError as error:
            raise ManifestProblem(f"cannot open the archive {path}: {error.strerror}") from None
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
        raw = b"".join(self._chunks(manifest_entry, None))
        manifest = Manifest.from_json(raw)
        ledger = MemberLedger(manifest)
        for entry in self._entries.values():
            ledger.expect(entry.name, entry.size)
        ledger.check_all_seen()
        return manifest

    def _chunks(self, entry: _Entry, digest: Any | None) -> Iterator[bytes]:
        """The member's bytes from the archive file, checking that all of them are there."""
        self._file.seek(entry.offset)
        left = entry.size
        while left:
            chunk = self._file.read(min(left, COPY_BYTES))
            if not chunk:
                raise ManifestProblem(f"archive member {entry.name} is cut short")
            if digest is not None:
                digest.update(chunk)
            left -= len(chunk)
            yield chunk

    def verify(self, progress: Progress = _quiet) -> None:
        """Read every member: each must have its listed SHA-256; each table must expand to
        exactly its listed size and row count, and no further (a decompression bomb stops at
        its listed size)."""
        ledger = MemberLedger(self.manifest)
        for table in self.manifest.tables:
            entry = self._entries[table.member]
            digest = hashlib.sha256()
            expanded, lines = self._expand(table, self._chunks(entry, digest))
            ledger.check_content(entry.name, digest.hexdigest())
            if expanded != table.expanded_size or lines != table.rows:
                raise ManifestProblem(
                    f"table {table.table} holds {lines} rows in {expanded} bytes; the manifest "
                    f"says {table.rows} rows in {table.expanded_size}"
                )
        for number, photo in enumerate(self.manifest.photos, start=1):
            entry = self._entries[photo.member]
            digest = hashlib.sha256()
            for _ in self._chunks(entry, digest):
                pass
            ledger.check_content(entry.name, digest.hexdigest())
            if number % 100 == 0:
                progress(f"checked {number} of {len(self.manifest.photos)} photos")

    def _expand(self, table: TableMember, chunks: Iterable[bytes]) -> tuple[int, int]:
        """(bytes, lines) of the table's rows, read no further than its listed size."""
        expanded = lines = 0
        if table.compression == "none":
            for chunk in chunks:
                expanded += len(chunk)
                lines += chunk.count(b"\n")
            return expanded, lines
        decompressor = zlib.decompressobj(GZIP_WBITS)
        budget = table.expanded_size + 1  # one byte more tells a member that grows past it
        try:
            for chunk in chunks:
                pending = chunk
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

    def table_rows(self, table: TableMember) -> Iterator[Any]:
        """The table's rows, each a parsed JSON value; the member's SHA-256 is taken again on
        the way, so an archive changed since ``verify`` stops the load."""
        entry = self._entries[table.member]
        digest = hashlib.sha256()
        source = _ChunkStream(self._chunks(entry, digest))
        stream = _GunzipStream(source) if table.compression == "gzip" else source
        lines = io.BufferedReader(stream, COPY_BYTES)  # type: ignore[arg-type]
        while line := lines.readline(MAX_ROW_BYTES + 1):
            if not line.endswith(b"\n"):
                raise ManifestProblem(
                    f"a row of table {table.table} is longer than {MAX_ROW_BYTES} bytes or cut"
                )
            try:
                yield json.loads(line)
            except ValueError as error:
                raise ManifestProblem(
                    f"a row of table {table.table} is not JSON: {error}"
                ) from None
        if digest.hexdigest() != table.sha256:
            raise ManifestProblem(f"table {table.table} changed while it was being restored")

    def copy_photo(self, photo: PhotoMember, out: BinaryIO) -> str:
        """Write the photo's bytes to ``out``; returns their SHA-256 as read this time."""
        digest = hashlib.sha256()
        for chunk in self._chunks(self._entries[photo.member], digest):
            out.write(chunk)
        return digest.hexdigest()


class _ChunkStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = next(self._chunks, b"")
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class _GunzipStream(io.RawIOBase):
    """The decompressed bytes of a gzip stream, a bounded piece at a time."""

    def __init__(self, source: io.RawIOBase) -> None:
        self._source = source
        self._decompressor = zlib.decompressobj(GZIP_WBITS)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._decompressor.eof:
                return 0
            compressed = self._decompressor.unconsumed_tail or self._source.read(COPY_BYTES)
            if not compressed:
                return 0
            self._pending = self._decompressor.decompress(compressed, COPY_BYTES)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(COPY_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
