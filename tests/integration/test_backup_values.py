"""Values through the SQL that writes and reads a backup's rows (``table_sql``): what the
database writes must be what the per-value Python path writes, and read back exactly, on both
backends and across them; and the archive the writer puts together by writing each table's
header back must stay a plain tar that Python's tarfile and GNU tar both read."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)

from field_server.adapters import table_dump, table_sql
from field_server.adapters.backup_archive import ArchiveReader, ArchiveWriter
from field_server.domain.backup_manifest import Manifest, TableMember
from tests.integration.museum_world import databases_for, engine_of

MakeDatabase = Callable[[str, str], str]


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeDatabase]:
    yield from databases_for(request, tmp_path)


def _table(metadata: MetaData) -> Table:
    return Table(
        "samples",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("number", BigInteger),
        Column("measure", Float),
        Column("words", Text),
        Column("label", String(200)),
        Column("flag", Boolean),
        Column("at", DateTime(timezone=True)),
        Column("day", Date),
    )


def _floats() -> list[float]:
    rng = random.Random(5)
    values = [0.1, 0.2, 0.3, 1 / 3, 2 / 3, 67.05170652000001, 48.19943254, 396.806, 0.0, -1.5]
    values += [5e-324, 2.2250738585072014e-308, 1e-300, 1.7976931348623157e308, -1e300, 1e22]
    values += [rng.uniform(-1000, 1000) for _ in range(300)]
    values += [math.ldexp(rng.random(), rng.randrange(-1070, 1020)) for _ in range(300)]
    return values


TEXTS = [
    'Қазақ "тырнақша" мен \\ кері сызық',
    "жол\nүзілісі\r\nжәне\tқойынды",
    "эмодзи 🏺🦴 және ZWJ 👩\u200d🔬",
    "\x01\x02 control \x1f characters and \x7f",
    "",
    '["not", "a row"]\n{}',
    "кілт: 'бір', \"екі\", `үш`, \\u0041",
]


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    moment = datetime(2026, 7, 29, 10, 11, 53, 123456, tzinfo=UTC)
    for n, value in enumerate(_floats(), start=1):
        rows.append(
            {
                "id": n,
                "number": [0, -1, 2**62, -(2**63), 7][n % 5],
                "measure": value,
                "words": TEXTS[n % len(TEXTS)],
                "label": TEXTS[(n + 3) % len(TEXTS)][:200],
                "flag": n % 2 == 0,
                "at": moment.replace(microsecond=(n * 7919) % 1_000_000 if n % 3 else 0),
                "day": date(2026, 1 + n % 12, 1 + n % 28),
            }
        )
    # a NULL of every kind, and a row of nothing but NULLs
    rows.append({"id": len(rows) + 1, **dict.fromkeys(_NULLABLE)})
    for name in _NULLABLE:
        row = dict(rows[0])
        row["id"] = len(rows) + 1
        row[name] = None
        rows.append(row)
    return rows


_NULLABLE = ("number", "measure", "words", "label", "flag", "at", "day")


def _filled(url: str) -> tuple[Engine, Table]:
    engine = engine_of(url)
    metadata = MetaData()
    table = _table(metadata)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), _rows())
    return engine, table


def _stored(engine: Engine) -> table_dump.StoredTable:
    with engine.connect() as connection:
        [stored] = [t for t in table_dump.stored_tables(connection) if t.name == "samples"]
    return stored


def _values(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.id)).all()
    return [
        tuple(
            v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo else
            v.replace(tzinfo=UTC) if isinstance(v, datetime) else v
            for v in row
        )
        for row in rows
    ]  # fmt: skip


def _sql_lines(engine: Engine, stored: table_dump.StoredTable) -> bytes:
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "sqlite":
            pieces = [p for p, _ in table_sql.sqlite_lines(connection, stored, 50)]
        else:
            connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
            pieces = list(table_sql.postgres_lines(connection, stored))
    return b"".join(pieces)


def _python_lines(engine: Engine, stored: table_dump.StoredTable) -> list[Any]:
    with engine.connect() as connection:
        return [row for batch in table_dump.read_rows(connection, stored) for row in batch]


def _same_values(ours: list[Any], theirs: list[Any]) -> None:
    """Equal as values: a time may be written with or without its zero microseconds, and a
    whole double as 0 or 0.0 (PostgreSQL writes the first)."""
    for mine, other in zip(ours, theirs, strict=True):
        for a, b in zip(mine, other, strict=True):
            if isinstance(a, str) and isinstance(b, str) and a[:4].isdigit() and "T" in a:
                assert datetime.fromisoformat(a) == datetime.fromisoformat(b)
            elif isinstance(a, float) or isinstance(b, float):
                assert float(a) == float(b) and not isinstance(a, bool | str), (a, b)
            else:
                assert a == b and type(a) is type(b), (a, b)


def _load(url: str, lines: bytes, stored: table_dump.StoredTable) -> tuple[Engine, Table]:
    engine = engine_of(url)
    metadata = MetaData()
    table = _table(metadata)
    metadata.create_all(engine)
    rows = lines.count(b"\n")
    kinds = [kind for _, kind in stored.columns]
    try:
        with engine.begin() as connection:

            def slow(piece: bytes) -> int:
                return table_dump.load_lines(connection, stored, kinds, piece)

            pieces = [(lines, rows)]
            if engine.dialect.name == "sqlite":
                assert table_sql.sqlite_load(connection, stored, pieces, slow) == rows
            elif not table_sql.postgres_load(connection, stored, [lines], rows):
                slow(lines)  # as the restore does: loaded nothing, so the per-value way

    except BaseException:
        engine.dispose()  # no connection left open when a load is refused
        raise
    return engine, table


PAIRS = [
    pytest.param("sqlite", "sqlite"),
    pytest.param("sqlite", "postgresql", marks=pytest.mark.postgres),
    pytest.param("postgresql", "sqlite", marks=pytest.mark.postgres),
    pytest.param("postgresql", "postgresql", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_values_go_through_the_sql_exactly(
    databases: MakeDatabase, source: str, target: str
) -> None:
    """Exact floats (shortest, 17-digit and far-end doubles), Kazakh text with quotes,
    backslashes, newlines, control characters and emoji, and a NULL of every kind: written by
    the database as the Python path writes them, and read back into the other database the
    same."""
    engine, table = _filled(databases(source, "bare"))
    stored = _stored(engine)
    lines = _sql_lines(engine, stored)
    assert b"\r" not in lines and lines.count(b"\n") == len(_rows())
    written = [json.loads(line) for line in lines.splitlines()]
    _same_values(written, _python_lines(engine, stored))
    before = _values(engine, table)
    engine.dispose()

    target_engine, target_table = _load(databases(target, "bare"), lines, stored)
    after = _values(target_engine, target_table)
    target_engine.dispose()
    assert after == before
    for mine, theirs in zip(after, before, strict=True):
        measure = theirs[2]
        if measure is not None:
            assert math.copysign(1, mine[2]) == math.copysign(1, measure) or measure == 0


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_odd_but_valid_values_take_the_python_way_and_wrong_ones_are_refused(
    databases: MakeDatabase, kind: str
) -> None:
    """Times with another offset or without microseconds, an integer for a float: converted;
    text in an integer column: refused with the table named."""
    engine, _ = _filled(databases("sqlite", "bare"))
    stored = _stored(engine)
    engine.dispose()
    columns = [name for name, _ in stored.columns]

    def line(**values: Any) -> bytes:
        row = dict.fromkeys(columns)
        row.update(values)
        return json.dumps([row[name] for name in columns], ensure_ascii=False).encode() + b"\n"

    odd = (
        line(id=1, at="2026-07-29T15:11:53.5+05:00", measure=3)
        + line(id=2, at="2026-07-29T10:11:53+00:00", day="2026-07-29")
        + line(id=3, flag=True, words="ok")
    )
    target, table = _load(databases(kind, "bare"), odd, stored)
    values = _values(target, table)
    target.dispose()
    assert values[0][6] == datetime(2026, 7, 29, 10, 11, 53, 500000, tzinfo=UTC)
    assert values[0][2] == 3.0 and isinstance(values[0][2], float)
    assert values[1][6] == datetime(2026, 7, 29, 10, 11, 53, tzinfo=UTC)
    assert values[2][5] is True

    with pytest.raises(table_dump.RowProblem, match=r"table samples.*not an integer"):
        _load(databases(kind, "bare"), line(id=1, number="12"), stored)


# -- the archive stays a plain tar ----------------------------------------------------------


def _small_archive(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """An archive by ArchiveWriter: a table streamed in pieces (its header written back), an
    empty table, a photo."""
    photo = random.Random(3).randbytes(300_000)
    source = tmp_path / "photo"
    source.write_bytes(photo)
    sha = hashlib.sha256(photo).hexdigest()
    rows = "".join(f'[{n},"{TEXTS[n % len(TEXTS)]!r}"]\n' for n in range(5000)).encode()
    writer = ArchiveWriter(tmp_path / "a.tar", 1_765_000_000.5)
    pieces = [rows[i : i + 70_001] for i in range(0, len(rows), 70_001)]
    columns = (("id", "integer"), ("words", "text"))
    writer.start_photos([(sha, source, len(photo))])
    written = writer.add_stream("tables/samples.jsonl", pieces)
    empty = writer.add_stream("tables/nothing.jsonl", [])
    [member] = writer.photo_members()
    tables = (
        TableMember("samples", columns, 5000, "none", written.size, written.sha256, written.size),
        TableMember("nothing", columns, 0, "none", 0, empty.sha256, 0),
    )
    manifest = Manifest(
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
        schema_revision="0006",
        server_version="test",
        source_backend="sqlite",
        tables=tables,
        photos=(member,),
    )
    writer.finish(manifest)
    contents = {
        "tables/samples.jsonl": rows,
        "tables/nothing.jsonl": b"",
        member.member: photo,
    }
    return tmp_path / "a.tar", contents


def test_the_archive_is_a_plain_tar_for_python(tmp_path: Path) -> None:
    archive, contents = _small_archive(tmp_path)
    assert archive.stat().st_size % tarfile.RECORDSIZE == 0
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        assert [m.name for m in members][-1] == "manifest.json"
        for member in members[:-1]:
            assert member.isfile() and member.mode == 0o644
            assert tar.extractfile(member).read() == contents[member.name]  # type: ignore[union-attr]
    with ArchiveReader(archive) as reader:
        reader.verify()
        [samples, nothing] = reader.manifest.tables
        assert (
            b"".join(p for p, _ in reader.table_pieces(samples, 100))
            == contents["tables/samples.jsonl"]
        )
        assert list(reader.table_pieces(nothing, 100)) == []


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar here")
def test_the_archive_is_a_plain_tar_for_gnu_tar(tmp_path: Path) -> None:
    archive, contents = _small_archive(tmp_path)
    listing = subprocess.run(
        ["tar", "-tvf", str(archive)], capture_output=True, text=True, check=True
    )
    assert listing.stderr == ""
    lines = listing.stdout.splitlines()
    assert len(lines) == len(contents) + 1  # and the manifest
    for name, data in contents.items():
        [shown] = [line for line in lines if line.endswith(" " + name)]
        assert f" {len(data)} " in shown and shown.startswith("-rw-r--r--")
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(["tar", "-xf", str(archive), "-C", str(out)], capture_output=True)
    assert done.returncode == 0 and done.stderr == b""
    for name, data in contents.items():
        assert (out / name).read_bytes() == data
    assert json.loads((out / "manifest.json").read_bytes())["format"] == "qazba-backup"


# -- PostgreSQL's COPY takes only values of their column's JSON kind ------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "odd",
    [
        {"number": "12"},  # text that PostgreSQL would take as an integer
        {"number": True},
        {"number": 1.5},
        {"measure": "1.5"},
        {"flag": 1},
        {"words": 5},
        {"label": ["a"]},
        {"at": 1.5},
        {"at": "2026-07-29T10:11:53"},  # no offset: PostgreSQL would read it in its own zone
        {"day": "07/29/2026"},  # read by the session's DateStyle
        {"day": 20260729},
    ],
    ids=str,
)
def test_the_postgresql_copy_loads_nothing_for_a_value_of_another_kind(
    databases: MakeDatabase, odd: dict[str, Any]
) -> None:
    """postgres_load answers False with the table empty, for the per-value way to decide."""
    engine, table = _filled(databases("postgresql", "bare"))
    stored = _stored(engine)
    columns = [name for name, _ in stored.columns]
    with engine.begin() as connection:
        connection.execute(table.delete())
    good = {"id": 1, "number": 2**62, "measure": 3, "words": "a\\b\tc", "flag": False}
    good |= {"at": "2026-07-29T15:11:53.5+05:00", "day": "2026-07-29", "label": None}
    bad = good | {"id": 2} | odd
    lines = b"".join(
        json.dumps([row[name] for name in columns]).encode() + b"\n" for row in (good, bad)
    )
    try:
        with engine.begin() as connection:
            assert not table_sql.postgres_load(connection, stored, [lines], 2)
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 0
            assert table_sql.postgres_load(connection, stored, [lines.split(b"\n")[0] + b"\n"], 1)
        [row] = _values(engine, table)
        assert row == (
            1,
            2**62,
            3.0,
            "a\\b\tc",
            None,
            False,
            datetime(2026, 7, 29, 10, 11, 53, 500000, tzinfo=UTC),
            date(2026, 7, 29),
        )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_bytes_go_through_the_postgresql_copy_exactly(databases: MakeDatabase) -> None:
    engine = engine_of(databases("postgresql", "bare"))
    metadata = MetaData()
    table = Table(
        "blobs", metadata, Column("id", Integer, primary_key=True), Column("data", LargeBinary)
    )
    metadata.create_all(engine)
    stored = table_dump.StoredTable("blobs", (("id", "integer"), ("data", "bytes")), ("id",))
    blob = bytes(range(256)) * 3
    lines = (
        json.dumps([1, base64.b64encode(blob).decode()]).encode()
        + b"\n"
        + json.dumps([2, None]).encode()
        + b"\n"
    )
    try:
        with engine.begin() as connection:
            assert not table_sql.postgres_load(connection, stored, [b'[3,"not base64!"]\n'], 1)
            assert table_sql.postgres_load(connection, stored, [lines], 2)
        with engine.connect() as connection:
            assert connection.execute(select(table).order_by(table.c.id)).all() == [
                (1, blob),
                (2, None),
            ]
    finally:
        engine.dispose()
