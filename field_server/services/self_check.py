"""``field-server check``: is the server's store whole? (DESIGN §10)

It reports, each as one problem in plain words:
- a stored photo that a record or the photo table names, missing from the store or whose
  bytes no longer hash to its name;
- a database not at the newest schema revision;
- a SQLite file that fails ``PRAGMA integrity_check``;
- a counter behind its data (``adapters.counters``: the change cursor, a fund's receipt
  number, an expedition's find numbers, a record's revision, a PostgreSQL key sequence).

A photo a record names whose bytes were never uploaded is no problem of the store: a record
may name its photo before the bytes follow (DESIGN §4). Those are counted, not reported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from field_server.adapters.backup_archive import file_sha256
from field_server.adapters.counters import counter_lags
from field_server.adapters.database import error_line
from field_server.adapters.photo_store import FilesystemPhotoStore
from field_server.adapters.schema_migration import head_revision, known_revisions, revision_of

Progress = Callable[[str], None]
SHOWN_INTEGRITY_LINES = 10


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    sha256: str | None = None
    counter: str | None = None  # for counter_behind: which counter, e.g. change_counter.last_seq

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": self.kind, "detail": self.detail}
        if self.sha256 is not None:
            body["sha256"] = self.sha256
        if self.counter is not None:
            body["counter"] = self.counter
        return body


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    revision: str | None = None
    photos_checked: int = 0
    photos_awaiting_upload: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [problem.to_json() for problem in self.problems],
            "schema_revision": self.revision,
            "photos_checked": self.photos_checked,
            "photos_awaiting_upload": self.photos_awaiting_upload,
        }


@dataclass(frozen=True)
class _NamedPhotos:
    stored: dict[str, int]  # photo_blobs: sha256 -> bytes
    named: set[str]  # every sha256 a record names


def _quiet(_message: str) -> None:
    return None


def check_server(
    engine: Engine, photos: FilesystemPhotoStore, *, progress: Progress = _quiet
) -> CheckReport:
    report = CheckReport()
    # The photos listed below are looked at after the listing: a cleanup removing an unnamed
    # one in between would show as a missing photo. A store with no folder yet has nothing to
    # remove, and the check then creates nothing (no folder, no lock file).
    with contextlib.ExitStack() as held:
        if photos.root.is_dir():
            # a store the check may read but not lock (read-only) is checked as it is
            with contextlib.suppress(OSError):
                held.enter_context(photos.nothing_removed())
        return _check(engine, photos, report, progress)


def _check(
    engine: Engine, photos: FilesystemPhotoStore, report: CheckReport, progress: Progress
) -> CheckReport:
    try:
        connection = engine.connect()
    except SQLAlchemyError as error:
        # SQLite is a file: opening it fails when its pages are damaged, not because a server
        # is away
        kind = "database_damaged" if engine.dialect.name == "sqlite" else "database_unreachable"
        report.problems.append(Problem(kind, f"the database cannot be opened: {error_line(error)}"))
        return report
    try:
        with connection.begin():
            if not _intact(connection, report):
                return report
            _check_revision(connection, report)
            for lag in counter_lags(connection):
                report.problems.append(Problem("counter_behind", lag.words(), counter=lag.counter))
            named = _named_photos(connection)
    except SQLAlchemyError as error:
        report.problems.append(Problem("database_damaged", error_line(error)))
        return report
    finally:
        connection.close()
    _check_photos(photos, named, report, progress)
    return report


def _intact(connection: Connection, report: CheckReport) -> bool:
    if connection.dialect.name != "sqlite":
        return True
    try:
        lines = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
    except SQLAlchemyError as error:
        report.problems.append(Problem("database_damaged", error_line(error)))
        return False
    if lines == ["ok"]:
        return True
    shown = "; ".join(lines[:SHOWN_INTEGRITY_LINES])
    more = f" (and {len(lines) - SHOWN_INTEGRITY_LINES} more)" if len(lines) > 10 else ""
    report.problems.append(
        Problem("database_damaged", f"SQLite integrity check failed: {shown}{more}")
    )
    return False


def _check_revision(connection: Connection, report: CheckReport) -> None:
    revision = revision_of(connection)
    report.revision = revision
    head = head_revision()
    if revision == head:
        return
    if revision is None:
        detail = "the database has no schema: run field-server init-db"
    elif revision in known_revisions():
        detail = (
            f"the database is at schema revision {revision}, not the newest ({head}): "
            "run field-server init-db"
        )
    else:
        detail = (
            f"the database is at schema revision {revision}, which this server does not know "
            f"(its newest is {head}): a newer server version migrated it"
        )
    report.problems.append(Problem("schema_not_at_head", detail))


def _named_photos(connection: Connection) -> _NamedPhotos:
    present = set(inspect(connection).get_table_names())
    stored: dict[str, int] = {}
    named: set[str] = set()
    if "photo_blobs" in present:
        stored = dict(connection.exec_driver_sql("SELECT sha256, bytes FROM photo_blobs").all())
    if "records" in present and "photo_sha256" in {
        c["name"] for c in inspect(connection).get_columns("records")
    }:
        named.update(
            sha
            for (sha,) in connection.exec_driver_sql(
                "SELECT DISTINCT photo_sha256 FROM records WHERE photo_sha256 IS NOT NULL"
            )
        )
    if "find_photos" in present:
        named.update(
            sha for (sha,) in connection.exec_driver_sql("SELECT DISTINCT sha256 FROM find_photos")
        )
    return _NamedPhotos(stored, named)


def _check_photos(
    photos: FilesystemPhotoStore, named: _NamedPhotos, report: CheckReport, progress: Progress
) -> None:
    everything = sorted(set(named.stored) | named.named)
    for number, sha in enumerate(everything, start=1):
        try:
            path = photos.path(sha)
        except ValueError:
            report.problems.append(
                Problem("photo_name_invalid", f"a record names {sha[:80]!r}, not a SHA-256")
            )
            continue
        if not path.is_file():
            if sha in named.stored:
                report.problems.append(
                    Problem(
                        "photo_missing",
                        f"photo {sha} is recorded as stored but is missing from {photos.root}",
                        sha,
                    )
                )
            else:
                report.photos_awaiting_upload += 1
            continue
        report.photos_checked += 1
        recorded_size = named.stored.get(sha)
        try:
            actual = file_sha256(path)
        except OSError as error:
            report.problems.append(
                Problem("photo_unreadable", f"photo {sha} cannot be read: {error.strerror}", sha)
            )
            continue
        if actual != sha:
            report.problems.append(
                Problem(
                    "photo_damaged",
                    f"photo {sha} in the store no longer hashes to its name (its bytes hash to "
                    f"{actual})",
                    sha,
                )
            )
        elif recorded_size is not None and path.stat().st_size != recorded_size:
            report.problems.append(
                Problem(
                    "photo_size_mismatch",
                    f"photo {sha} has {path.stat().st_size} bytes; the photo table says "
                    f"{recorded_size}",
                    sha,
                )
            )
        if number % 100 == 0:
            progress(f"photos: {number} of {len(everything)}")
