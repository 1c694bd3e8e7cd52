"""``field-server restore``: load a backup archive into an empty database and data folder
(DESIGN §10).

Nothing is written until the whole archive has passed every check (each member's SHA-256 and
size against the manifest, names, types, sizes, the schema revision) and the target has shown
it holds no data and its data folder takes files. Then, in one database transaction: the
schema is brought to the archive's revision, the indexes no constraint needs are set aside,
every table is loaded in foreign-key order, those indexes are made again (a unique one the rows
break refuses the archive), the schema is migrated on to the head, every counter is moved up
to its data, and the photos are put into the store. A failure anywhere rolls the transaction
back and takes out the photos it had put, so a refused or failed restore leaves the target as
it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from field_server.adapters import archive_rows, table_dump, table_indexes, table_sql
from field_server.adapters.backup_archive import ArchiveReader, file_sha256
from field_server.adapters.counters import catch_up_counters
from field_server.adapters.database import WRITE_OPTION, error_line, make_engine
from field_server.adapters.durable_files import fsync_folder
from field_server.adapters.photo_store import FilesystemPhotoStore
from field_server.adapters.schema_migration import (
    head_revision,
    known_revisions,
    migrate_connection,
    revision_of,
)
from field_server.domain.backup_manifest import (
    Manifest,
    ManifestProblem,
    PhotoMember,
    check_revision,
)
from field_server.services.errors import ServiceError

Progress = Callable[[str], None]
LOAD_BATCH = 2000  # rows an INSERT statement takes at most
# SQLite: the share of the tables' bytes the restore loads itself from the archive while a
# second process makes the rest ready (``archive_rows``); the rest costs it a copy of each
LOADED_HERE = 0.4


class RestoreRefused(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, "restore_refused", 409)


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    rows: int
    photos_placed: int
    revision: str  # the schema revision the database is at now

    @property
    def migrated(self) -> bool:
        return self.revision != self.manifest.schema_revision


def _quiet(_message: str) -> None:
    return None


def restore_backup(
    archive_path: Path,
    database_url: str,
    data_dir: Path,
    *,
    progress: Progress = _quiet,
) -> RestoreReport:
    try:
        with ArchiveReader(archive_path) as archive:
            check_revision(archive.manifest.schema_revision, known_revisions())
            database = _TargetDatabase(database_url)
            try:
                database.check_empty()
                folder = _TargetFolder(data_dir)
                folder.prepare()
                try:
                    progress("checking every member of the archive")
                    archive.verify(progress)
                    return _load(archive, database, folder, progress)
                except BaseException:
                    database.undo()  # first: a SQLite file it made sits in the data folder
                    folder.undo()
                    raise
            finally:
                database.dispose()
    except ManifestProblem as problem:
        raise RestoreRefused(f"{archive_path}: {problem}") from None


def _load(
    archive: ArchiveReader, database: _TargetDatabase, folder: _TargetFolder, progress: Progress
) -> RestoreReport:
    manifest = archive.manifest
    rows = 0
    # with no migration after the load, SQLite checks the foreign keys of all rows at once
    # after it rather than one lookup per row as each goes in
    keys_after = manifest.schema_revision == head_revision()
    with database.writing(foreign_keys_after_load=keys_after) as connection:
        # again under the write lock: nothing may have arrived since the first look
        database.refuse_data(connection)
        migrate_connection(connection, manifest.schema_revision)
        tables = table_dump.stored_tables(connection)
        _check_schema(manifest, tables)
        table_dump.clear_seed_rows(connection, tables)
        # rows go in faster without the indexes no constraint needs; they are made again
        # from the database's own definitions before anything else reads the tables
        indexes = table_indexes.secondary_indexes(connection)
        table_indexes.drop_indexes(connection, indexes)
        with _staged_elsewhere(connection, archive, tables, folder.staging) as staged:
            # the photos are copied out and synced on a thread of their own while the
            # database takes the rows: one waits on the disk while the other works (started
            # after the process making rows ready is forked, which must inherit no thread)
            folder.stage_photos(archive, manifest.photos)
            for table in tables:
                rows += _load_table(connection, archive, manifest, table, staged)
                progress(f"table {table.name}: {manifest.table(table.name).rows} rows")
        if keys_after and connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)
        progress(f"making {len(indexes)} indexes again")
        try:
            table_indexes.create_indexes(connection, indexes)
        except table_indexes.IndexBroken as broken:
            raise ManifestProblem(str(broken)) from None
        head = head_revision()
        if manifest.schema_revision != head:
            progress(f"migrating from schema revision {manifest.schema_revision} to {head}")
            migrate_connection(connection, head)
        catch_up_counters(connection)
        placed = folder.place_staged(progress)
        revision = revision_of(connection) or head
    return RestoreReport(manifest, rows, placed, revision)


def _check_foreign_keys(connection: Connection) -> None:
    """Every row's foreign keys, checked at once after a load that ran without them: a row
    naming a row that is not there refuses the archive, as the check per row would have."""
    broken = connection.exec_driver_sql("PRAGMA main.foreign_key_check").first()
    if broken is not None:
        table, rowid, parent, _ = broken
        raise ManifestProblem(
            f"row {rowid} of table {table} refers to a row of table {parent} that the archive "
            "does not hold (a foreign key)"
        )


def _check_schema(manifest: Manifest, tables: list[table_dump.StoredTable]) -> None:
    listed = {table.table for table in manifest.tables}
    present = {table.name for table in tables}
    if listed != present:
        odd = sorted(listed ^ present)
        raise ManifestProblem(
            f"the archive's tables do not match schema revision {manifest.schema_revision} "
            f"(differing: {', '.join(odd)})"
        )
    for table in tables:
        archived = manifest.table(table.name).columns
        if sorted(archived) != sorted(table.columns):
            raise ManifestProblem(
                f"the archive's columns of {table.name} do not match schema revision "
                f"{manifest.schema_revision}"
            )


def _in_archive_order(manifest: Manifest, table: table_dump.StoredTable) -> table_dump.StoredTable:
    """The table with its columns in the order of the archive's rows, which need not be the
    target's."""
    member = manifest.table(table.name)
    return table_dump.StoredTable(table.name, member.columns, table.primary_key)


def _staged_elsewhere(
    connection: Connection,
    archive: ArchiveReader,
    tables: list[table_dump.StoredTable],
    folder: Path,
) -> contextlib.AbstractContextManager[archive_rows.StagedTables | None]:
    """On SQLite, a process making the rows of the tables ``table_sql`` loads ready in
    scratch files in ``folder`` while this one copies them in (``archive_rows``). PostgreSQL
    parses its COPY on a core of its own already."""
    if connection.dialect.name != "sqlite":
        return contextlib.nullcontext()
    manifest = archive.manifest
    loadable = [
        (manifest.table(table.name), _in_archive_order(manifest, table))
        for table in tables
        if table_sql.sqlite_loadable(_in_archive_order(manifest, table))
    ]
    # the first tables this process loads itself while the other makes the rest ready, up
    # to the share that keeps both at work until the end (this one also copies the rest in)
    total = sum(member.size for member, _ in loadable)
    here = 0
    while loadable and here + loadable[0][0].size <= LOADED_HERE * total:
        here += loadable.pop(0)[0].size
    if not loadable:
        return contextlib.nullcontext()
    return archive_rows.StagedTables(archive, loadable, folder, LOAD_BATCH)


def _load_table(
    connection: Connection,
    archive: ArchiveReader,
    manifest: Manifest,
    table: table_dump.StoredTable,
    staged: archive_rows.StagedTables | None,
) -> int:
    """Load one table's rows by SQL the database runs itself (``table_sql``), from a scratch
    file ``staged`` made ready where it did; values that SQL does not take as they stand go
    through ``table_dump``'s per-value decoders, which convert them or say what is wrong."""
    member = manifest.table(table.name)
    in_archive_order = _in_archive_order(manifest, table)
    kinds = [kind for _, kind in member.columns]
    if staged is not None and staged.handles(table.name):
        try:
            copied = staged.copy(connection, table)
        except archive_rows.RowReaderStopped as stopped:
            raise RestoreRefused(f"the restore failed and was rolled back: {stopped}") from None
        if copied is not None:
            return copied

    def slow(piece: bytes) -> int:
        return table_dump.load_lines(connection, in_archive_order, kinds, piece)

    pieces = archive.table_pieces(member, LOAD_BATCH)
    try:
        backend = connection.dialect.name
        if backend == "sqlite" and table_sql.sqlite_loadable(in_archive_order):
            return table_sql.sqlite_load(connection, in_archive_order, pieces, slow)
        if backend == "postgresql" and table_sql.postgres_load(
            connection, in_archive_order, (piece for piece, _ in pieces), member.rows
        ):
            return member.rows
        # PostgreSQL found a value of the wrong kind and loaded nothing: again, per value
        return sum(slow(piece) for piece, _ in archive.table_pieces(member, LOAD_BATCH))
    except table_dump.RowProblem as problem:
        raise ManifestProblem(str(problem)) from None


class _TargetDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self._shown = parsed.render_as_string(hide_password=True)
        self._sqlite_file: Path | None = None
        self._sqlite_was_there = True
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            self._sqlite_file = Path(parsed.database or "")
            self._sqlite_was_there = self._sqlite_file.exists()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def check_empty(self) -> None:
        if not self._sqlite_was_there:
            return  # a database file not yet made holds nothing; it is made at the load
        try:
            with self.engine.connect() as connection, connection.begin():
                self.refuse_data(connection)
        except SQLAlchemyError as error:
            raise RestoreRefused(
                f"the database {self._shown} does not answer: {error_line(error)}"
            ) from None

    def refuse_data(self, connection: Connection) -> None:
        holding = table_dump.table_with_data(connection)
        if holding is not None:
            raise RestoreRefused(
                f"the database {self._shown} holds data (table {holding}): a backup is restored "
                "only into an empty database"
            )
        revision = revision_of(connection)
        if revision is not None and revision not in known_revisions():
            raise RestoreRefused(
                f"the database {self._shown} is at schema revision {revision}, which this "
                "server does not know"
            )

    @contextlib.contextmanager
    def writing(self, *, foreign_keys_after_load: bool) -> Iterator[Connection]:
        """The restore's one transaction. With ``foreign_keys_after_load``, SQLite enforces
        no foreign key while it lasts: the caller checks them all before it commits."""
        driver_error = self.engine.dialect.loaded_dbapi.Error
        try:
            with (
                self.engine.connect() as connection,
                _rollback_journal(connection),
                _foreign_keys_off(connection, foreign_keys_after_load),
            ):
                # on SQLite the write option makes the transaction BEGIN IMMEDIATE: the
                # database is locked against other writers from the first statement
                writer = connection.execution_options(**{WRITE_OPTION: True})
                with writer.begin():
                    yield writer
        # the driver's own errors too: rows go to PostgreSQL by COPY, past SQLAlchemy
        except (SQLAlchemyError, driver_error) as error:
            raise RestoreRefused(
                f"the restore into {self._shown} failed and was rolled back: {error_line(error)}"
            ) from None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def undo(self) -> None:
        """Remove a SQLite file this restore made (the transaction took its contents back)."""
        self.dispose()
        if self._sqlite_file is not None and not self._sqlite_was_there:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self._sqlite_file}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def _rollback_journal(connection: Connection) -> Iterator[None]:
    """On SQLite, the load in rollback-journal mode, and WAL mode again after it.

    In WAL mode every page of the load is written twice, into the WAL and then into the
    database by the checkpoint; with a rollback journal, pages past the database's size when
    the transaction began (all of a load into an empty database) need no journal at all, so
    each is written once. The commit is as atomic either way. SQLite refuses to leave WAL mode
    while another connection has the database open (a server already running on it): the
    load then goes through the WAL as before."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    mode = driver.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal" or connection.engine.url.database in (None, "", ":memory:"):
        yield
        return
    try:
        driver.execute("PRAGMA main.journal_mode=DELETE").fetchone()
    except sqlite3.OperationalError:
        yield  # busy: another connection has it open
        return
    try:
        yield
    finally:
        # main only: the restore's scratch files may still be attached
        driver.execute("PRAGMA main.journal_mode=WAL").fetchone()


@contextlib.contextmanager
def _foreign_keys_off(connection: Connection, off: bool) -> Iterator[None]:
    """On SQLite, no foreign key enforced per row until the end (the pragma takes effect
    only outside a transaction, so it is set before the restore's begins and after it ends).
    A checked row costs a lookup of its parent's key: about 1 of the 3 seconds SQLite spends
    on the rows of 100,000 finds, against 0.3 s for ``PRAGMA foreign_key_check`` of all of
    them."""
    if not off or connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


class _TargetFolder:
    """The data folder: its photo store, and the staging folder photos pass through."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.store = FilesystemPhotoStore(data_dir / "photos")
        self.staging = data_dir / "uploads"
        self._made: list[Path] = []
        self._made_in_store: list[Path] = []
        self._placed: list[str] = []
        self._staged: list[tuple[str, Path]] = []
        self._stager: threading.Thread | None = None
        self._stop = threading.Event()
        self._stage_error: BaseException | None = None

    def prepare(self) -> None:
        """Make the folders and write a file into each: a folder that cannot take files
        refuses the restore before anything is loaded."""
        try:
            for folder in (self.data_dir, self.store.root, self.staging):
                missing = []
                current = folder
                while not current.exists():
                    missing.append(current)
                    current = current.parent
                for made in reversed(missing):
                    made.mkdir()
                    self._made.append(made)
            for folder in (self.store.root, self.staging):
                probe = folder / f".restore-probe-{secrets.token_hex(8)}"
                try:
                    with probe.open("wb") as handle:
                        handle.write(b"qazba")
                        handle.flush()
                        os.fsync(handle.fileno())
                finally:
                    probe.unlink(missing_ok=True)
        except OSError as error:
            self.undo()
            raise RestoreRefused(
                f"the data folder {self.data_dir} cannot be written: {error.strerror or error}"
            ) from None

    def stage_photos(self, archive: ArchiveReader, photos: tuple[PhotoMember, ...]) -> None:
        """Start copying each photo (but damaged ones of the archive, never put back) to a
        synced file in the staging folder, on a thread; ``place_staged`` waits for it."""
        self._stop.clear()
        self._stager = threading.Thread(
            target=self._stage, args=(archive, photos), name="restore-photos", daemon=True
        )
        self._stager.start()

    def _stage(self, archive: ArchiveReader, photos: tuple[PhotoMember, ...]) -> None:
        try:
            for photo in photos:
                if self._stop.is_set():
                    return
                if photo.damaged:
                    continue
                staged = self.staging / f".restore-{secrets.token_hex(8)}"
                self._staged.append((photo.sha256, staged))  # before it exists: undo sees it
                fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    sha = archive.copy_photo(photo, fd)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if sha != photo.sha256:
                    raise ManifestProblem(f"photo {photo.sha256} changed while being restored")
        except OSError as error:
            self._stage_error = RestoreRefused(
                f"photo {photo.sha256} could not be put into {self.store.root}: "
                f"{error.strerror or error}; nothing was restored"
            )
        except BaseException as error:  # handed to the loading thread, raised there
            self._stage_error = error

    def _join_stager(self) -> None:
        if self._stager is not None:
            self._stager.join()
            self._stager = None

    def place_staged(self, progress: Progress) -> int:
        """Rename each staged photo into the store, then sync each folder that changed once;
        a photo already there with the right bytes stays."""
        self._join_stager()
        if self._stage_error is not None:
            raise self._stage_error
        listings: set[Path] = set()
        try:
            for number, (sha, staged) in enumerate(self._staged, start=1):
                target = self.store.path(sha)
                if target.is_file():
                    if file_sha256(target) == sha:
                        staged.unlink()
                        continue
                    target.unlink()  # damaged: the archive's bytes win
                for folder in (target.parent.parent, target.parent):
                    if not folder.is_dir():
                        folder.mkdir()
                        self._made_in_store.append(folder)
                        listings.add(folder.parent)
                # read-only and the server user's only, as the store keeps every photo
                os.chmod(staged, 0o400)
                os.replace(staged, target)
                self._placed.append(sha)
                listings.add(target.parent)
                if number % 100 == 0:
                    progress(f"photos: {number} of {len(self._staged)}")
            # deepest first: a folder's own entry is synced after what it holds
            for listing in sorted(listings, key=lambda path: len(path.parts), reverse=True):
                fsync_folder(listing)
        except OSError as error:
            raise RestoreRefused(
                f"photos could not be put into {self.store.root}: {error.strerror or error}; "
                "nothing was restored"
            ) from None
        self._staged = []
        return len(self._placed)

    def undo(self) -> None:
        self._stop.set()
        self._join_stager()
        for _sha, staged in self._staged:
            staged.unlink(missing_ok=True)
        self._staged = []
        for sha in self._placed:
            self.store.path(sha).unlink(missing_ok=True)
        self._placed = []
        for folder in reversed(self._made_in_store):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: a folder the restore made for its photos
        self._made_in_store = []
        for folder in reversed(self._made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._made = []
