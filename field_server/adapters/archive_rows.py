"""An archive's table rows made ready for SQLite by a second process while the restore's own
loads the tables before them.

Loading into SQLite took one core: reading the archive, ``json.loads`` of each piece, the
checks of each column's kinds and binding every value (about 5 of the 8 seconds of 100,000
finds) come before SQLite's own work (about 3), and threads cannot share it (the parsing holds
the GIL, and SQLite drops and takes it back for every row). So a forked process does all of
that into scratch SQLite files beside the restore (tables without keys, indexes or types, each
file written once and closed), and the restore copies each table with one ``INSERT … SELECT``
from the file once it is finished, which runs in SQLite's C alone while the process makes the
next. The target's own columns still decide how each value is stored, and its keys, checks
and the foreign-key check refuse what they would refuse from the archive directly.

The process parses and checks exactly as ``table_sql.sqlite_pieces`` and ``sqlite_load`` do.
A table with a piece they do not take as it stands (not JSON, a value of another kind, a time
with another offset) is left to the restore, which loads it from the archive the per-value
way that converts it or names what is wrong. The process takes each member's SHA-256 again as
it reads, as ``ArchiveReader.table_pieces`` does, and a table is ready only if it matched.

It is forked before the restore starts any thread, reads only the archive, writes only its
scratch files and its pipe, and ends by ``os._exit``: it never touches the database connection
it inherits. The scratch files are removed when the restore ends, whichever way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

from sqlalchemy import Connection

from field_server.adapters import table_sql
from field_server.adapters.backup_archive import ArchiveReader
from field_server.adapters.table_dump import StoredTable, quoted
from field_server.domain.backup_manifest import ManifestProblem, TableMember

# A table of at least this many rows has a scratch file of its own, so it can be copied as
# soon as it is finished; smaller ones share one. SQLite attaches at most 10 files at once.
OWN_FILE_ROWS = 10_000
MAX_FILES = 8

_READY = "ready"
_YOURS = "yours"  # a table the restore loads itself, from the archive
_ARCHIVE_PROBLEM = "archive"
_FAILED = "failed"


class RowReaderStopped(RuntimeError):
    """The process making the rows ready failed or ended before it was done."""


@dataclass(frozen=True)
class _Staged:
    table: str
    member: TableMember
    columns: StoredTable  # the table's columns in the archive's order
    file: int
    scratch: str  # the table's name in its scratch file


class StagedTables:
    """A process making ``tables`` (each a manifest entry and the table's columns in the
    archive's order) ready in scratch files in ``folder``, in this order; ``copy`` takes
    each into the target in the same order."""

    def __init__(
        self,
        archive: ArchiveReader,
        tables: Sequence[tuple[TableMember, StoredTable]],
        folder: Path,
        lines_per_piece: int,
    ) -> None:
        token = secrets.token_hex(8)
        self._staged = _grouped(tables)
        files = 1 + max((staged.file for staged in self._staged), default=0)
        self._files = [folder / f".restore-rows-{token}-{n}.sqlite3" for n in range(files)]
        self._attached: set[int] = set()
        self._next = 0
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_make_ready,
            args=(archive, self._staged, self._files, lines_per_piece, send),
            name="restore-rows",
            daemon=True,
        )
        self._process.start()
        send.close()  # the child's end: the pipe ends here when the child closes its copy

    def __enter__(self) -> StagedTables:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def handles(self, table: str) -> bool:
        return any(staged.table == table for staged in self._staged[self._next :])

    def copy(self, connection: Connection, table: StoredTable) -> int | None:
        """Copy ``table`` (the next one given at the start) from its scratch file into the
        target; its rows, or None when the restore is to load it from the archive itself."""
        staged = self._staged[self._next]
        if staged.table != table.name:
            raise RuntimeError(f"table {table.name} was asked for out of order")
        self._next += 1
        answer = self._answer()
        if answer != (_READY, staged.table) and answer != (_YOURS, staged.table):
            raise RowReaderStopped(f"the rows of {staged.table} were not the next made ready")
        if answer[0] == _YOURS:
            return None
        schema = f"qazba_rows_{staged.file}"
        if staged.file not in self._attached:
            connection.exec_driver_sql(
                f"ATTACH DATABASE ? AS {schema}", (str(self._files[staged.file]),)
            )
            self._attached.add(staged.file)
        names = ", ".join(quoted(connection, name) for name, _ in staged.columns.columns)
        result = connection.exec_driver_sql(
            f"INSERT INTO main.{quoted(connection, table.name)} ({names}) "
            f"SELECT {names} FROM {schema}.{staged.scratch}"
        )
        if result.rowcount != staged.member.rows:
            raise RowReaderStopped(
                f"{result.rowcount} rows of {staged.table} were made ready, not "
                f"{staged.member.rows}"
            )
        return result.rowcount

    def _answer(self) -> tuple[str, str]:
        try:
            kind, text = self._receive.recv()
        except (EOFError, OSError):
            raise RowReaderStopped("the process reading the archive's rows stopped") from None
        if kind == _ARCHIVE_PROBLEM:
            raise ManifestProblem(text)
        if kind == _FAILED:
            raise RowReaderStopped(text)
        return kind, text

    def close(self) -> None:
        """Stop the process if it is still at work, and remove the scratch files (a
        connection that has one attached keeps reading it until it is closed)."""
        if self._process.is_alive():
            self._process.terminate()  # stopped early: the load failed or was refused
        self._process.join()
        self._process.close()
        self._receive.close()
        for path in self._files:
            for name in (path, path.with_name(path.name + "-journal")):
                name.unlink(missing_ok=True)


def _grouped(tables: Sequence[tuple[TableMember, StoredTable]]) -> list[_Staged]:
    staged = []
    file = 0
    shared = False  # the current file holds small tables and can take more
    for number, (member, columns) in enumerate(tables):
        own = member.rows >= OWN_FILE_ROWS and file < MAX_FILES - 1
        if own and shared:
            file += 1
        staged.append(_Staged(columns.name, member, columns, file, f"rows_{number}"))
        if own:
            file += 1
            shared = False
        else:
            shared = True
    return staged


def _make_ready(
    archive: ArchiveReader,
    tables: list[_Staged],
    files: list[Path],
    lines_per_piece: int,
    send: Pipe,
) -> None:
    try:
        for number, path in enumerate(files):
            group = [staged for staged in tables if staged.file == number]
            try:
                answers = _stage_file(archive, group, path, lines_per_piece)
            except (sqlite3.Error, OSError):
                # the scratch file could not be written (the disk full, say): the restore
                # loads these tables and the rest itself, and meets the cause if it is its own
                for staged in tables[tables.index(group[0]) :]:
                    send.send((_YOURS, staged.table))
                return
            for answer in answers:
                send.send(answer)
    except ManifestProblem as problem:
        send.send((_ARCHIVE_PROBLEM, str(problem)))
    except BrokenPipeError:
        pass  # the restore stopped listening: nothing to tell
    except BaseException as error:  # told to the restore, which raises it
        with contextlib.suppress(BrokenPipeError):
            send.send((_FAILED, f"making the archive's rows ready failed: {error!r}"))
    finally:
        send.close()


def _stage_file(
    archive: ArchiveReader, group: list[_Staged], path: Path, lines_per_piece: int
) -> list[tuple[str, str]]:
    answers = []
    scratch = sqlite3.connect(path, isolation_level=None)
    try:
        # a scratch file: nothing is kept if this process or the machine stops
        scratch.execute("PRAGMA journal_mode=OFF")
        scratch.execute("PRAGMA synchronous=OFF")
        scratch.execute("BEGIN")
        for staged in group:
            pieces = archive.table_pieces(staged.member, lines_per_piece)
            ready = table_sql.sqlite_stage(scratch, staged.columns, staged.scratch, pieces)
            answers.append((_READY if ready else _YOURS, staged.table))
        scratch.execute("COMMIT")
    finally:
        scratch.close()
    return answers
