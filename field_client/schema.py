"""The local store's tables and their migrations, numbered by SQLite's PRAGMA user_version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from field_client.errors import ClientError

# A step is SQL, or a function for the one change SQL cannot state (a CHECK widened in place).
Step = str | Callable[[sqlite3.Connection], None]
Migration = tuple[Step, ...]

_RECORD_TYPES_BEFORE = "CHECK (type IN ('survey', 'find', 'track', 'photo'))"
_RECORD_TYPES_AFTER = "CHECK (type IN ('survey', 'find', 'track', 'photo', 'submission'))"


def _allow_submission_records(connection: sqlite3.Connection) -> None:
    """Let the record table hold ``submission`` records (DESIGN §9, the camp relay).

    SQLite cannot alter a CHECK, and rebuilding the table would mean dropping the parent of the
    outbox, batch and conflict rows. SQLite documents this in-place edit of the stored
    CREATE TABLE for loosening a CHECK: no row changes on disk, and bumping schema_version makes
    every connection read the new definition. It runs inside the migration's transaction.
    """
    version = int(connection.execute("PRAGMA schema_version").fetchone()[0])
    connection.execute("PRAGMA writable_schema = ON")
    try:
        changed = connection.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?, ?) "
            "WHERE type = 'table' AND name = 'record' AND instr(sql, ?) > 0",
            (_RECORD_TYPES_BEFORE, _RECORD_TYPES_AFTER, _RECORD_TYPES_BEFORE),
        ).rowcount
        if changed != 1:
            raise ClientError("the store's record table is not the one this client knows")
        connection.execute(f"PRAGMA schema_version = {version + 1:d}")
    finally:
        connection.execute("PRAGMA writable_schema = OFF")


# Each migration is a list of statements run in one transaction together with the new
# user_version, so a crash leaves the store at the old version or the new one, never between.
# A migration, once released, is never edited: later changes are new entries.
MIGRATIONS: tuple[Migration, ...] = (
    (
        # settings: server_url, username, roles, device_id, cursor, open_survey, last_sync_at
        "CREATE TABLE setting (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
        """CREATE TABLE expedition (
            code TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            year INTEGER NOT NULL,
            find_number_format TEXT NOT NULL,
            accuracy_threshold_m REAL,
            member INTEGER NOT NULL
        ) STRICT""",
        """CREATE TABLE site (
            expedition_code TEXT NOT NULL REFERENCES expedition(code) ON DELETE CASCADE,
            code TEXT NOT NULL,
            name TEXT NOT NULL,
            boundary TEXT NOT NULL,
            PRIMARY KEY (expedition_code, code)
        ) STRICT""",
        """CREATE TABLE material (
            code TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            labels TEXT NOT NULL
        ) STRICT""",
        # data: the local version (canonical JSON); rev: the local edit counter (0 for a record
        # only known from the server); base_rev: the server revision the local version starts
        # from; server_data: the data at base_rev, the base of a local three-way merge (NULL
        # while unknown); awaiting_pull: the server merged an earlier revision of this record,
        # so a later local edit waits for the pull that brings the merge.
        """CREATE TABLE record (
            uuid TEXT PRIMARY KEY,
            type TEXT NOT NULL CHECK (type IN ('survey', 'find', 'track', 'photo')),
            survey_uuid TEXT,
            data TEXT NOT NULL,
            rev INTEGER NOT NULL CHECK (rev >= 0),
            base_rev INTEGER NOT NULL CHECK (base_rev >= 0),
            server_data TEXT,
            awaiting_pull INTEGER NOT NULL DEFAULT 0,
            state TEXT,
            flags TEXT,
            rejected_rev INTEGER,
            problems TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX record_by_survey ON record (type, survey_uuid)",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL REFERENCES record(uuid),
            rev INTEGER NOT NULL,
            queued_at TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX outbox_by_record ON outbox (uuid, rev)",
        """CREATE TABLE batch (
            batch_id TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) STRICT""",
        """CREATE TABLE batch_item (
            batch_id TEXT NOT NULL REFERENCES batch(batch_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            uuid TEXT NOT NULL REFERENCES record(uuid),
            rev INTEGER NOT NULL,
            PRIMARY KEY (batch_id, position)
        ) STRICT""",
        # theirs is NULL after a push answered "conflict" until the pull brings the server's side
        """CREATE TABLE conflict (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL REFERENCES record(uuid),
            origin TEXT NOT NULL CHECK (origin IN ('push', 'pull')),
            base TEXT,
            mine TEXT NOT NULL,
            theirs TEXT,
            theirs_rev INTEGER NOT NULL,
            detected_at TEXT NOT NULL,
            resolved_at TEXT,
            resolution TEXT
        ) STRICT""",
        "CREATE UNIQUE INDEX conflict_open ON conflict (uuid) WHERE resolved_at IS NULL",
        """CREATE TABLE number_block (
            id INTEGER PRIMARY KEY,
            expedition_code TEXT NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            pattern TEXT NOT NULL,
            reserved_at TEXT NOT NULL
        ) STRICT""",
        """CREATE TABLE reserved_number (
            expedition_code TEXT NOT NULL,
            number TEXT NOT NULL,
            n INTEGER NOT NULL,
            block_id INTEGER NOT NULL REFERENCES number_block(id),
            used_by TEXT,
            PRIMARY KEY (expedition_code, number)
        ) STRICT""",
        "CREATE INDEX reserved_number_free ON reserved_number (expedition_code, n) "
        "WHERE used_by IS NULL",
    ),
    (
        # One row per photo file in the laptop's photo folder. on_server: the server said it
        # holds the file; upload_url: the tus upload under way, kept so that another process
        # resumes it instead of starting over.
        """CREATE TABLE photo_file (
            sha256 TEXT PRIMARY KEY,
            bytes INTEGER NOT NULL CHECK (bytes >= 0),
            media_type TEXT NOT NULL,
            on_server INTEGER NOT NULL DEFAULT 0,
            upload_url TEXT,
            stored_at TEXT NOT NULL
        ) STRICT""",
    ),
    (
        # A find number is looked up each time a find is given one: without this index every
        # lookup read every record, so recording n finds took time growing with n². Not
        # unique: finds of other devices, pulled from the server, may share a number (the
        # museum sees them as duplicate candidates).
        "CREATE INDEX record_find_number ON record ("
        "json_extract(data, '$.expedition_code'), json_extract(data, '$.find_number')) "
        "WHERE type = 'find'",
    ),
    (
        # The camp laptop as the phones' server (DESIGN §9): submission records in the outbox,
        # the keys it issued to phones, and each instance it received.
        _allow_submission_records,
        # Only the key's SHA-256 is kept: the store may be copied off the laptop, a key may not.
        """CREATE TABLE collect_key (
            id INTEGER PRIMARY KEY,
            key_sha256 TEXT NOT NULL UNIQUE,
            expedition_code TEXT NOT NULL,
            survey_uuid TEXT NOT NULL,
            username TEXT NOT NULL,
            device_name TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        ) STRICT""",
        # One row per instanceID the phones sent here: its XML's digest tells a retry (same
        # XML) from a different form under the same id; attachments maps each received file
        # name to its SHA-256; record_uuid is the submission record pushed to the server.
        """CREATE TABLE collect_submission (
            expedition_code TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            record_uuid TEXT NOT NULL REFERENCES record(uuid),
            xml_sha256 TEXT NOT NULL,
            key_id INTEGER NOT NULL REFERENCES collect_key(id),
            find_uuid TEXT,
            attachments TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (expedition_code, instance_id)
        ) STRICT""",
    ),
)

LATEST_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(connection: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the store to the newest schema; returns the version it is at.

    The connection must be in autocommit mode (isolation_level=None). Two processes starting at
    once are safe: the version is read again under the write lock before each step.
    """
    latest = len(migrations)
    if schema_version(connection) > latest:
        raise ClientError(
            f"the store was written by a newer field-client (schema {schema_version(connection)}, "
            f"this one knows {latest}); upgrade field-client"
        )
    while schema_version(connection) < latest:
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(connection)
            if version < latest:
                for step in migrations[version]:
                    if callable(step):
                        step(connection)
                    else:
                        connection.execute(step)
                connection.execute(f"PRAGMA user_version = {version + 1:d}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    return schema_version(connection)
