"""``field-server backup``: one archive of every table and every stored photo, written while
the server keeps serving (DESIGN §10).

All tables are read in one read transaction, so the archive is one moment of the museum's
data: on SQLite a WAL read snapshot (writers go on, into the WAL, unseen by it); on PostgreSQL a
``REPEATABLE READ, READ ONLY`` transaction. The photos are the ones that snapshot lists in
``photo_blobs`` (a photo stored later belongs to a later backup along with the rows that name
it). They are listed first and copied into the archive on a thread of their own while the
tables are read: blobs never change once stored, and none is removed while the backup holds
the store (``nothing_removed``), so when they are read does not matter.

Each table goes from the database straight into the archive as JSON lines the database
writes itself (``table_sql``), with no file in between; see ``backup_archive`` for the
layout and why tables are no longer compressed.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from field_server import __version__
from field_server.adapters import table_dump, table_sql
from field_server.adapters.backup_archive import ArchiveWriter
from field_server.adapters.photo_store import FilesystemPhotoStore
from field_server.adapters.schema_migration import revision_of
from field_server.domain.backup_manifest import Manifest, TableMember
from field_server.services.errors import ServiceError

Progress = Callable[[str], None]
READ_BATCH = 2000  # rows a fetch: about 2 MB of JSON lines from the largest tables


class BackupFailed(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, "backup_failed", 500)


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: Manifest
    archive_bytes: int

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.manifest.tables)

    @property
    def photos_damaged(self) -> list[str]:
        return [photo.sha256 for photo in self.manifest.photos if photo.damaged]


def _quiet(_message: str) -> None:
    return None


def write_backup(
    engine: Engine,
    photos: FilesystemPhotoStore,
    out: Path,
    *,
    progress: Progress = _quiet,
    now: datetime | None = None,
) -> BackupReport:
    """Write the archive to ``out`` (by way of ``out.part``); nothing is left under either
    name when it fails."""
    now = now or datetime.now(UTC)
    out = out.absolute()
    if out.is_dir():
        raise BackupFailed(f"{out} is a folder; name the archive file to write")
    if not out.parent.is_dir():
        raise BackupFailed(f"folder {out.parent} does not exist")
    try:
        # no stored photo is removed (field-server cleanup) from before the snapshot lists
        # them until each is copied; a removal under way is waited for
        with photos.nothing_removed():
            return _write(engine, photos, out, progress, now)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise BackupFailed(f"no space left for the archive in {out.parent}") from None
        raise BackupFailed(f"the archive could not be written: {error}") from None


def _write(
    engine: Engine,
    photos: FilesystemPhotoStore,
    out: Path,
    progress: Progress,
    now: datetime,
) -> BackupReport:
    writer = ArchiveWriter(out, now.timestamp())
    try:
        revision, tables, missing = _snapshot(engine, photos, writer, progress)
        manifest = Manifest(
            created_at=now,
            schema_revision=revision,
            server_version=__version__,
            source_backend=engine.dialect.name,
            tables=tuple(tables),
            photos=tuple(writer.photo_members(progress)),
            photos_missing=tuple(missing),
        )
        writer.finish(manifest)
    except BaseException:
        writer.abandon()
        raise
    return BackupReport(out, manifest, out.stat().st_size)


def _snapshot(
    engine: Engine, photos: FilesystemPhotoStore, writer: ArchiveWriter, progress: Progress
) -> tuple[str, list[TableMember], list[str]]:
    """The schema revision and every table written into the archive, all read in one
    transaction, with the stored photos it lists set going into the archive; and the photos
    it lists that are not in the store."""
    with engine.connect() as connection, _read_snapshot(connection).begin():
        revision = revision_of(connection)
        if revision is None:
            raise BackupFailed("the database has no schema yet: run field-server init-db")
        if connection.dialect.name == "postgresql":
            # timestamps are written as UTC text by to_char, which uses the session's zone
            connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        tables = table_dump.stored_tables(connection)
        stored: list[str] = []
        if "photo_blobs" in {table.name for table in tables}:  # none before revision 0002
            stored = list(
                connection.exec_driver_sql(
                    "SELECT sha256 FROM photo_blobs ORDER BY sha256"
                ).scalars()
            )
        found, missing = _photo_files(photos, stored)
        writer.start_photos(found)
        members = []
        for table in tables:
            rows = _Counted(_table_lines(connection, table))
            name = TableMember(table.name, table.columns, 0, "none", 0, "", 0).member
            written = writer.add_stream(name, rows)
            members.append(
                TableMember(
                    table.name,
                    table.columns,
                    rows.lines,
                    "none",
                    written.size,
                    written.sha256,
                    written.size,
                )
            )
            progress(f"table {table.name}: {rows.lines} rows")
    return revision, members, missing


def _photo_files(
    photos: FilesystemPhotoStore, stored: list[str]
) -> tuple[list[tuple[str, Path, int]], list[str]]:
    """(SHA-256, file, size) of each stored photo in the store, and those missing from it."""
    found = []
    missing = []
    for sha in stored:
        path = photos.path(sha)
        try:
            found.append((sha, path, path.stat().st_size))
        except FileNotFoundError:
            missing.append(sha)
    return found, missing


def _table_lines(connection: Connection, table: table_dump.StoredTable) -> Iterator[bytes]:
    """The table's JSON lines, made by the database itself where it can (``table_sql``)."""
    if connection.dialect.name == "postgresql":
        return table_sql.postgres_lines(connection, table)
    if connection.dialect.name == "sqlite":
        return (piece for piece, _ in table_sql.sqlite_lines(connection, table, READ_BATCH))
    return _python_lines(connection, table)


def _python_lines(connection: Connection, table: table_dump.StoredTable) -> Iterator[bytes]:
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
    for batch in table_dump.read_rows(connection, table):
        if batch:
            yield ("\n".join(map(encoder.encode, batch)) + "\n").encode("utf-8")


class _Counted:
    """Pieces of JSON lines passed on, their lines counted on the way."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self.lines = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces:
            self.lines += piece.count(b"\n")
            yield piece


def _read_snapshot(connection: Connection) -> Connection:
    if connection.dialect.name == "postgresql":
        return connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    # SQLite: the engine begins with a plain BEGIN, and the first read fixes the WAL snapshot
    # every later read of the transaction sees
    return connection
