"""The unit of work: one database transaction, with the repositories bound to it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from field_server.adapters import duplicate_repositories as dup_repo
from field_server.adapters import find_repositories as find_repo
from field_server.adapters import find_sheets, register_repository
from field_server.adapters import photo_repositories as photo_repo
from field_server.adapters import repositories as repo
from field_server.adapters import review_repositories as review_repo
from field_server.adapters.database import WRITE_OPTION, writer_queue


class UnitOfWork:
    """``with UnitOfWork(engine, write=True) as uow: ...; uow.commit()``.

    Leaving the block without ``commit()`` rolls back. A writing unit first locks the change
    sequence, which orders writers by commit so pull cursors never skip a late commit. A unit
    that writes no record (``sequenced=False``: an upload's progress) skips that lock, so a
    long upload never holds up a push on PostgreSQL; on SQLite it still takes the write lock.
    """

    users: repo.Users
    tokens: repo.AccessTokens
    expeditions: repo.Expeditions
    records: repo.Records
    batches: repo.PushBatches
    devices: repo.Devices
    audit: repo.AuditLog
    changes: repo.ChangeSequence
    uploads: photo_repo.Uploads
    blobs: photo_repo.PhotoBlobs
    finds: find_repo.Finds
    register: register_repository.Register
    traits: dup_repo.FindTraitsIndex
    sheets: find_sheets.FindSheets
    candidates: dup_repo.DuplicateCandidates
    aliases: dup_repo.FindAliases
    history: review_repo.FindHistory
    connection: Connection

    def __init__(self, engine: Engine, *, write: bool = False, sequenced: bool = True) -> None:
        self._engine = engine
        self._write = write
        self._sequenced = sequenced

    def __enter__(self) -> UnitOfWork:
        queue = writer_queue(self._engine) if self._write else None
        # after a minute in the queue, go on to SQLite's lock, which times out as it always did
        self._queue = queue if queue is not None and queue.acquire(timeout=60) else None
        try:
            connection = self._engine.connect()
            try:
                if self._write:
                    connection = connection.execution_options(**{WRITE_OPTION: True})
                self._begin(connection)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            self._release_queue()
            raise
        return self

    def _begin(self, connection: Connection) -> None:
        self.connection = connection
        self._transaction = connection.begin()
        self.users = repo.Users(connection)
        self.tokens = repo.AccessTokens(connection)
        self.expeditions = repo.Expeditions(connection)
        self.records = repo.Records(connection)
        self.batches = repo.PushBatches(connection)
        self.devices = repo.Devices(connection)
        self.audit = repo.AuditLog(connection)
        self.changes = repo.ChangeSequence(connection)
        self.uploads = photo_repo.Uploads(connection)
        self.blobs = photo_repo.PhotoBlobs(connection)
        self.finds = find_repo.Finds(connection)
        self.register = register_repository.Register(connection)
        self.traits = dup_repo.FindTraitsIndex(connection)
        self.sheets = find_sheets.FindSheets(connection)
        self.candidates = dup_repo.DuplicateCandidates(connection)
        self.aliases = dup_repo.FindAliases(connection)
        self.history = review_repo.FindHistory(connection)
        if self._write and self._sequenced:
            self.changes.lock()

    def commit(self) -> None:
        self.changes.flush()
        self._transaction.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            try:
                self.connection.close()
            finally:
                self._release_queue()

    def _release_queue(self) -> None:
        if self._queue is not None:
            self._queue.release()
            self._queue = None


class UnitOfWorkFactory:
    """What services receive: makes units of work on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, write: bool = False, sequenced: bool = True) -> UnitOfWork:
        return UnitOfWork(self.engine, write=write, sequenced=sequenced)
