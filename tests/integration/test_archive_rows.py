"""The process that makes an archive's rows ready for a SQLite restore (``archive_rows``):
what it made ready is copied in as it was; a table with a value only the per-value way takes
is left to the restore; an archive changed under it is refused; no scratch file stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from field_server.adapters import archive_rows
from field_server.adapters.archive_rows import OWN_FILE_ROWS, StagedTables
from field_server.adapters.backup_archive import ArchiveReader, ArchiveWriter
from field_server.adapters.database import make_engine
from field_server.adapters.table_dump import StoredTable
from field_server.domain.backup_manifest import Manifest, ManifestProblem, TableMember

COLUMNS = (("id", "integer"), ("at", "datetime"), ("words", "text"), ("weight", "float"))
WORDS = 'Жезқазған "кесе" \\ қола'


def _lines(rows: list[list[object]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def _archive(folder: Path, tables: dict[str, bytes]) -> Path:
    writer = ArchiveWriter(folder / "a.tar", 1_765_000_000.0)
    members = []
    for name, data in tables.items():
        written = writer.add_stream(f"tables/{name}.jsonl", [data])
        rows = data.count(b"\n")
        members.append(
            TableMember(name, COLUMNS, rows, "none", written.size, written.sha256, written.size)
        )
    writer.finish(
        Manifest(
            created_at=datetime(2026, 12, 8, tzinfo=UTC),
            schema_revision="0007",
            server_version="test",
            source_backend="sqlite",
            tables=tuple(members),
            photos=(),
        )
    )
    return folder / "a.tar"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    with engine.begin() as connection:
        for name in ("good", "odd"):
            connection.exec_driver_sql(
                f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, at DATETIME, words TEXT, "
                "weight FLOAT)"
            )
    yield engine
    engine.dispose()


def _tables(reader: ArchiveReader) -> list[tuple[TableMember, StoredTable]]:
    return [
        (member, StoredTable(member.table, COLUMNS, ("id",))) for member in reader.manifest.tables
    ]


def _rows(connection: Connection, table: str) -> list[tuple[object, ...]]:
    return list(connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id"))


def test_rows_made_ready_are_copied_in_and_odd_tables_left_to_the_restore(
    tmp_path: Path, target: Engine
) -> None:
    good = [[n, "2026-07-29T10:11:53.007919+00:00", WORDS, n] for n in range(5000)]
    odd = [[1, "2026-07-29T15:11:53+05:00", WORDS, 1.5]]  # another offset: converted per value
    archive = _archive(tmp_path, {"good": _lines(good), "odd": _lines(odd)})
    scratch = tmp_path / "staging"
    scratch.mkdir()
    with ArchiveReader(archive) as reader, target.begin() as connection:
        [good_table, odd_table] = [table for _, table in _tables(reader)]
        with StagedTables(reader, _tables(reader), scratch, 700) as staged:
            assert staged.handles("good") and staged.handles("odd")
            assert staged.copy(connection, good_table) == 5000
            assert staged.copy(connection, odd_table) is None
            assert not staged.handles("good")
        rows = _rows(connection, "good")
    assert list(scratch.iterdir()) == []
    assert len(rows) == 5000
    # stored as SQLAlchemy stores them: the time without its offset, an integer weight a REAL
    assert rows[7] == (7, "2026-07-29 10:11:53.007919", WORDS, 7.0)
    assert isinstance(rows[7][3], float)


def test_an_archive_changed_under_the_process_is_refused(tmp_path: Path, target: Engine) -> None:
    good = [[n, None, WORDS, None] for n in range(100)]
    archive = _archive(tmp_path, {"good": _lines(good)})
    with ArchiveReader(archive) as reader, target.begin() as connection:
        data = archive.read_bytes()
        at = data.index(b"[99,") + 1  # still JSON, still a key of its own: the digest tells
        archive.write_bytes(data[:at] + b"7" + data[at + 1 :])
        with StagedTables(reader, _tables(reader), tmp_path, 700) as staged:
            [(_, table)] = _tables(reader)
            with pytest.raises(ManifestProblem, match="changed while it was being restored"):
                staged.copy(connection, table)
        assert _rows(connection, "good") == []


def test_big_tables_get_a_scratch_file_of_their_own() -> None:
    def member(name: str, rows: int) -> tuple[TableMember, StoredTable]:
        return (
            TableMember(name, COLUMNS, rows, "none", 0, "0" * 64, 0),
            StoredTable(name, COLUMNS, ("id",)),
        )

    sizes = [1, 2, OWN_FILE_ROWS, 3, OWN_FILE_ROWS * 5, OWN_FILE_ROWS, 4, 5]
    sizes += [OWN_FILE_ROWS] * 10
    grouped = archive_rows._grouped([member(f"t{n}", rows) for n, rows in enumerate(sizes)])
    files = [staged.file for staged in grouped]
    assert files[:8] == [0, 0, 1, 2, 3, 4, 5, 5]
    assert files == sorted(files) and max(files) == archive_rows.MAX_FILES - 1
