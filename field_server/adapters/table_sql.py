"""Rows to and from the archive's JSON lines inside the database, in C, without a Python step
per value (``table_dump`` is the per-value Python path these fall back to).

A backup of 100,000 finds moves several million values; per value in Python that takes
seconds, while SQLite's ``json_array`` and PostgreSQL's ``json_build_array`` write each row's
line themselves. Reading back, Python's ``json.loads`` (C) parses a piece of lines at once;
for SQLite, SQL checks and converts the values (SQLite 3.40's ``json_extract`` is slower than
that); for PostgreSQL, each column's values are checked for their JSON kind by a set of their
types and go to the table by COPY, which PostgreSQL parses on its own core. The SQL below
writes exactly the form ``table_dump`` documents (datetimes as ISO 8601 with ``+00:00``,
booleans as JSON booleans, floats that read back to the same double, bytes as base64), so an
archive does not depend on which path or which backend wrote it.

Reading back, every value is checked for the kind its column wants. A value the SQL does not
take as it stands (a wrong kind, a time with another offset, a row of the wrong width, a line
that is not JSON) is not guessed at: the rows concerned go through ``table_dump``'s decoders,
which either convert them (old and odd but valid forms) or refuse the archive with a reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

from field_server.adapters import table_dump
from field_server.adapters.table_dump import StoredTable, quoted

# SQLite's printf is exact to 17 digits for doubles of ordinary size but not at the far ends
# of the range (measured: none wrong in 200,000 random doubles within 1e±100, some beyond
# 1e±150, with x87 long doubles); outside this band a float is written by Python.
SQLITE_EXACT_FLOATS = (1e-60, 1e60)
PIECE_BYTES = 1024 * 1024  # a piece of JSON lines handed on at once
_ODD = "qazba_odd"  # the SQLite function a value the fast path cannot take calls
_ENCODE = "qazba_encode"  # the SQLite function that writes a stored value SQL cannot


class OddValue(Exception):
    """Raised inside SQLite by ``qazba_odd``: the chunk goes the per-value way instead."""


# -- writing: rows as JSON lines ----------------------------------------------------------------


def sqlite_line_sql(connection: Connection, table: StoredTable) -> str:
    """A SELECT giving each row's JSON line as text. Values stored in the form SQLAlchemy
    writes are turned into JSON by SQLite; any other (a time without microseconds written by a
    migration's default, text in an integer column) goes through ``qazba_encode``, which
    applies ``table_dump``'s own encoder to it. Each expression is a simple CASE on the
    value's storage class: SQLite evaluates it per value, and here that is millions of times."""
    floats_exact = _sqlite_floats_exact(connection)
    low, high = SQLITE_EXACT_FLOATS
    parts = []
    for name, kind in table.columns:
        column = quoted(connection, name)
        odd = f"json({_ENCODE}('{kind}', {column}))"
        if kind == "text":
            # TEXT affinity stores every number as text; a blob makes json_array fail, as it
            # made the JSON encoder fail before
            parts.append(column)
            continue
        if kind == "integer":
            taken = f"WHEN 'integer' THEN {column}"
        elif kind == "float" and floats_exact:
            # the 15 digits SQLite writes of itself when they read back the same, else 17
            # digits, which always do within the band SQLITE_EXACT_FLOATS
            taken = (
                f"WHEN 'real' THEN CASE WHEN abs({column}) BETWEEN {low!r} AND {high!r} "
                f"OR {column} = 0 THEN CASE WHEN CAST(CAST({column} AS TEXT) AS REAL) = "
                f"{column} THEN {column} ELSE json(printf('%!.17g', {column})) END "
                f"ELSE {odd} END"
            )
        elif kind == "boolean":
            taken = (
                f"WHEN 'integer' THEN CASE {column} WHEN 1 THEN json('true') "
                f"WHEN 0 THEN json('false') ELSE {odd} END"
            )
        elif kind == "datetime":
            # SQLAlchemy keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'
            taken = (
                f"WHEN 'text' THEN CASE WHEN {column} GLOB '{_SQLITE_STORED_TIME}' THEN "
                f"replace({column}, ' ', 'T') || '+00:00' ELSE {odd} END"
            )
        elif kind == "date":
            taken = (
                f"WHEN 'text' THEN CASE WHEN {column} GLOB '{_DATE}' THEN {column} ELSE {odd} END"
            )
        else:  # bytes (SQLite has no base64), floats on a platform whose printf is not exact
            taken = ""
        parts.append(f"CASE typeof({column}) WHEN 'null' THEN NULL {taken} ELSE {odd} END")
    return f"SELECT json_array({', '.join(parts)}) FROM {quoted(connection, table.name)}"


def sqlite_lines(
    connection: Connection, table: StoredTable, batch: int
) -> Iterator[tuple[bytes, int]]:
    """(lines, count): the table's rows as JSON lines, ``batch`` rows at a time, each piece
    ending with a newline. Rows come in storage (rowid) order: a restore does not need key
    order, and reading a table by its key is a lookup per row for tables keyed by text."""
    driver = _sqlite_driver(connection)
    _register_encoder(driver)
    sql = sqlite_line_sql(connection, table)
    if _has_rowid(connection, table):
        sql += " ORDER BY _rowid_"
    cursor = driver.cursor()
    try:
        # bytes as SQLite holds them: no text object per row, no decoding and encoding again
        driver.text_factory = bytes
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            yield b"\n".join([row[0] for row in rows]) + b"\n", len(rows)
    finally:
        driver.text_factory = str
        cursor.close()


def postgres_copy_sql(connection: Connection, table: StoredTable) -> str:
    """A COPY writing each row's JSON line. CSV with a quote and a delimiter that JSON text
    never holds raw (control characters are always escaped in it), so no line is ever quoted
    and the bytes come out as they are; the text format would double every backslash."""
    parts = []
    for name, kind in table.columns:
        column = quoted(connection, name)
        if kind == "datetime":
            # always with microseconds, as SQLite's side writes them (PostgreSQL's own JSON
            # drops trailing zeros); the session is in UTC
            parts.append(f'to_char({column}, \'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')')
        elif kind == "bytes":
            parts.append(f"translate(encode({column}, 'base64'), E'\\n', '')")
        else:
            # float8 is written shortest-exact since PostgreSQL 12
            parts.append(column)
    rows = (
        f"SELECT json_build_array({', '.join(parts)})::text FROM {quoted(connection, table.name)}"
    )
    return f"COPY ({rows}) TO STDOUT WITH ({_CSV_OPTIONS})"


def postgres_lines(connection: Connection, table: StoredTable) -> Iterator[bytes]:
    """The table's JSON lines in pieces of about ``PIECE_BYTES`` (whole lines, each ending
    with a newline). COPY hands over one row at a time; passed on one by one, each row cost a
    hand-over to the writing thread and a write of its own, several times what the server
    spends making it."""
    cursor = _pg_driver(connection).cursor()
    try:
        with cursor.copy(postgres_copy_sql(connection, table)) as copy:
            piece = bytearray()
            for data in copy:
                piece += data
                if len(piece) >= PIECE_BYTES:
                    yield bytes(piece)
                    piece.clear()
            if piece:
                yield bytes(piece)
    finally:
        cursor.close()


# -- reading: JSON lines into rows --------------------------------------------------------------


def sqlite_insert_sql(connection: Connection, table: StoredTable) -> str:
    """An INSERT into ``table`` taking one row's values as the JSON parser gives them
    (``_sqlite_insert``)."""
    return _sqlite_insert(quoted(connection, table.name), table)


def _sqlite_insert(target: str, table: StoredTable) -> str:
    """An INSERT into ``target`` taking one row's values as the JSON parser gives them.
    Times are checked and turned into SQLite's stored form in SQL, or ``qazba_odd()`` raises;
    every other value goes in as it is bound, its JSON kind checked before in Python
    (``sqlite_checks``): a CASE per value cost more than a set of each column's types does.

    The parsing is Python's (``json.loads`` is C): SQLite 3.40's ``json_extract`` takes about
    a microsecond a value even with its parse cache, several times the whole of this."""
    values = []
    for index, (_name, kind) in enumerate(table.columns):
        value = f"?{index + 1}"
        if kind == "datetime":
            # the form both writers give ('…T…+00:00', with or without microseconds) is
            # rewritten here; any other offset goes to Python, which converts it to UTC
            values.append(
                f"CASE typeof({value}) WHEN 'null' THEN NULL WHEN 'text' THEN "
                f"CASE WHEN {value} GLOB '{_ISO_UTC_MICRO}' THEN "
                f"substr({value}, 1, 10) || ' ' || substr({value}, 12, 15) "
                f"WHEN {value} GLOB '{_ISO_UTC}' THEN "
                f"substr({value}, 1, 10) || ' ' || substr({value}, 12, 8) || '.000000' "
                f"ELSE {_ODD}() END ELSE {_ODD}() END"
            )
        elif kind in _JSON_KINDS and kind != "bytes":
            # an integer for a float column is stored as a REAL by the column's affinity, as
            # the CAST that was here did; JSON true and false bind as 1 and 0
            values.append(value)
        else:
            raise ValueError(f"no SQL for a {kind} column")  # callers check sqlite_loadable
    names = ", ".join(_sqlite_quoted(name) for name, _ in table.columns)
    return f"INSERT INTO {target} ({names}) VALUES ({', '.join(values)})"


def _sqlite_quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_checks(table: StoredTable) -> list[Callable[[list[list[Any]]], None]]:
    """The checks of ``sqlite_insert_sql``'s bound values: the JSON kind of every column but
    the times (checked in SQL), and a date's ISO form."""
    checks = []
    for index, (_name, kind) in enumerate(table.columns):
        if kind == "datetime":
            continue
        checks.append(_kind_check(index, frozenset({type(None), *_JSON_KINDS[kind]})))
        if kind == "date":
            checks.append(_form_check(index, _JSON_FORMS["date"]))
    return checks


def sqlite_loadable(table: StoredTable) -> bool:
    return all(kind != "bytes" for _, kind in table.columns)


def sqlite_pieces(
    table: StoredTable, pieces: Iterable[tuple[bytes, int]]
) -> Iterator[tuple[bytes, list[list[Any]] | None]]:
    """(lines, rows): each piece of (lines, count) with its rows parsed, when they are JSON
    arrays of the table's width whose values ``sqlite_checks`` passes, else None."""
    checks = sqlite_checks(table)
    width = len(table.columns)
    for piece, lines in pieces:
        rows = _parse(piece, lines, width)
        if rows is not None:
            try:
                for check in checks:
                    check(rows)
            except OddValue:
                rows = None
        yield piece, rows


def sqlite_stage(
    scratch: sqlite3.Connection,
    table: StoredTable,
    name: str,
    pieces: Iterable[tuple[bytes, int]],
) -> bool:
    """Insert every piece, parsed and checked as ``sqlite_load`` does, into a new table
    ``name`` of the scratch database, with the table's columns but no type, key or index (the
    target's own columns decide how each value is stored when the rows are copied on); False
    as soon as a piece has a value that only the per-value way takes or refuses."""
    columns = ", ".join(_sqlite_quoted(column) for column, _ in table.columns)
    scratch.execute(f"CREATE TABLE {_sqlite_quoted(name)} ({columns})")
    scratch.create_function(_ODD, 0, _raise_odd)
    sql = _sqlite_insert(_sqlite_quoted(name), table)
    cursor = scratch.cursor()
    try:
        for _, rows in sqlite_pieces(table, pieces):
            if rows is None:
                return False
            try:
                cursor.executemany(sql, rows)
            except (sqlite3.OperationalError, sqlite3.ProgrammingError, OverflowError):
                return False  # an odd time (qazba_odd), an integer past 64 bits
    finally:
        cursor.close()
    return True


def sqlite_load(
    connection: Connection,
    table: StoredTable,
    pieces: Iterable[tuple[bytes, int]],
    slow: Callable[[bytes], int],
) -> int:
    """Insert each piece of whole lines: parsed at once, its rows inserted by one prepared
    statement. From the first row the SQL refuses on (SQLite counts the rows before it) the
    piece goes to ``slow``, which converts what is odd or says what is wrong. (Parsing on a
    second thread while SQLite inserts was tried: slower, the two contend for the GIL more
    than they overlap.)"""
    driver = _sqlite_driver(connection)
    driver.create_function(_ODD, 0, _raise_odd)
    sql = sqlite_insert_sql(connection, table)
    cursor = driver.cursor()
    count = 0
    try:
        for piece, rows in sqlite_pieces(table, pieces):
            if rows is None:  # not JSON, not of the width, a value of another kind
                count += slow(piece)
                continue
            before = driver.total_changes
            try:
                cursor.executemany(sql, rows)
                done = len(rows)
            except (sqlite3.OperationalError, sqlite3.ProgrammingError, OverflowError):
                # an odd value (qazba_odd), or one the driver cannot bind (a nested list,
                # an integer past 64 bits): the rows before it are in
                done = driver.total_changes - before
                count += done
                rest = piece.split(b"\n", done)[-1] if done else piece
                done = slow(rest)
            count += done
    finally:
        cursor.close()
    return count


def _parse(piece: bytes, lines: int, width: int) -> list[list[Any]] | None:
    try:
        rows = json.loads(_as_json_array(piece))
    except ValueError:
        return None
    if len(rows) != lines or not all(type(row) is list and len(row) == width for row in rows):
        return None
    return rows


def postgres_load(
    connection: Connection,
    table: StoredTable,
    pieces: Iterable[bytes],
    rows: int,
) -> bool:
    """Load the table by one COPY straight into it; False (and nothing loaded) when a value is
    not of its column's kind, so the caller can load the table the per-value way and say
    which value.

    Each piece of lines is parsed here (``json.loads``, C) and each column's values checked
    for their JSON kind in Python, while PostgreSQL, on the other core, parses the COPY's
    text into the column types and writes the rows. Loading the lines into a ``jsonb``
    scratch table and casting ``line->>i`` in one INSERT … SELECT, as before, put all of it on
    the server's one process: parsing JSON, extracting each value, writing a scratch table."""
    import psycopg  # only where PostgreSQL is used

    checks = _pg_checks(table)
    width = len(table.columns)
    names = ", ".join(quoted(connection, name) for name, _ in table.columns)
    cursor = _pg_driver(connection).cursor()
    try:
        cursor.execute("SAVEPOINT qazba_table")
        try:
            found = 0
            with cursor.copy(f"COPY {quoted(connection, table.name)} ({names}) FROM STDIN") as copy:
                for piece in pieces:
                    parsed = _parse(piece, piece.count(b"\n"), width)
                    if parsed is None:
                        raise OddValue(table.name)
                    for check in checks:
                        check(parsed)
                    for row in parsed:
                        copy.write_row(row)
                    found += len(parsed)
            if found != rows:
                raise OddValue(table.name)
        # a value of the right JSON kind that PostgreSQL still refuses (an integer past 64
        # bits, a date that is no date) is a DataError: the per-value way names it
        except (OddValue, psycopg.errors.DataError):
            cursor.execute("ROLLBACK TO SAVEPOINT qazba_table")
            return False
        cursor.execute("RELEASE SAVEPOINT qazba_table")
        return True
    finally:
        cursor.close()


def _pg_checks(table: StoredTable) -> list[Callable[[list[list[Any]]], None]]:
    """For each column, a check of its values in parsed rows (raising ``OddValue``), which
    also turns base64 text into bytes. Values go to COPY as text and PostgreSQL parses each
    by its column's type, so the JSON kind is what must be checked here: the text "12" must
    not become an integer, nor 1.5 a time."""
    checks = []
    for index, (_name, kind) in enumerate(table.columns):
        allowed = frozenset({type(None), *_JSON_KINDS[kind]})
        checks.append(_kind_check(index, allowed))
        if kind in _JSON_FORMS:
            checks.append(_form_check(index, _JSON_FORMS[kind]))
        if kind == "bytes":
            checks.append(_bytes_decode(index))
    return checks


def _kind_check(index: int, allowed: frozenset[type]) -> Callable[[list[list[Any]]], None]:
    def check(rows: list[list[Any]]) -> None:
        # bool is not int here: type(), not isinstance()
        if not {type(row[index]) for row in rows} <= allowed:
            raise OddValue()

    return check


def _form_check(index: int, form: re.Pattern[str]) -> Callable[[list[list[Any]]], None]:
    def check(rows: list[list[Any]]) -> None:
        for row in rows:
            value = row[index]
            if value is not None and form.fullmatch(value) is None:
                raise OddValue()

    return check


def _bytes_decode(index: int) -> Callable[[list[list[Any]]], None]:
    def decode(rows: list[list[Any]]) -> None:
        for row in rows:
            if row[index] is not None:
                try:
                    row[index] = base64.b64decode(row[index], validate=True)
                except binascii.Error:
                    raise OddValue() from None

    return decode


# kind: the Python types json.loads gives for a value a column of that kind takes
_JSON_KINDS: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "float": (int, float),
    "text": (str,),
    "boolean": (bool,),
    "datetime": (str,),
    "date": (str,),
    "bytes": (str,),
}
# A time must carry its offset (without one PostgreSQL would read it in the session's zone);
# a date must be ISO (else it would be read by the session's DateStyle). Other forms go the
# per-value way, which converts or refuses them.
_JSON_FORMS = {
    "datetime": re.compile(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(Z|[+-][0-9][0-9](:?[0-9][0-9])?)", re.ASCII
    ),
    "date": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII),
}


# -- helpers ------------------------------------------------------------------------------------

_CSV_OPTIONS = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"
_D2 = "[0-9][0-9]"
_DATE = f"{_D2}{_D2}-{_D2}-{_D2}"
_SQLITE_STORED_TIME = f"{_DATE} {_D2}:{_D2}:{_D2}.{_D2}{_D2}{_D2}"
_ISO_UTC = f"{_DATE}T{_D2}:{_D2}:{_D2}+00:00"
_ISO_UTC_MICRO = f"{_DATE}T{_D2}:{_D2}:{_D2}.{_D2}{_D2}{_D2}+00:00"


def _as_json_array(piece: bytes) -> str:
    """``line\\nline\\n`` as ``[line,line]``: a newline never appears inside a JSON line, so
    the lines are joined without being parsed."""
    return "[" + piece[:-1].replace(b"\n", b",").decode("utf-8") + "]"


def _raise_odd() -> None:
    raise OddValue()


def _encode_stored(kind: str, value: Any) -> str:
    if value is None:
        return "null"
    encoded = table_dump.encoder("sqlite", kind)(value)
    if isinstance(encoded, float) and not math.isfinite(encoded):
        # JSON has no infinity; a number too large for a double reads back as one in
        # Python, SQLite and PostgreSQL alike (SQLite cannot hold a NaN)
        return "9e999" if encoded > 0 else "-9e999"
    return json.dumps(encoded, ensure_ascii=False, separators=(",", ":"))


def _register_encoder(driver: sqlite3.Connection) -> None:
    driver.create_function(_ENCODE, 2, _encode_stored)


def _sqlite_driver(connection: Connection) -> sqlite3.Connection:
    return connection.connection.driver_connection  # type: ignore[return-value]


def _pg_driver(connection: Connection) -> Any:
    return connection.connection.driver_connection


def _has_rowid(connection: Connection, table: StoredTable) -> bool:
    row = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table.name,)
    ).scalar()
    return "WITHOUT ROWID" not in (row or "").upper()


_floats_exact: bool | None = None  # one SQLite library per process: checked once


def _sqlite_floats_exact(connection: Connection) -> bool:
    """Whether this SQLite writes doubles within ``SQLITE_EXACT_FLOATS`` to 17 digits that
    read back the same, and whether its 15-digit text, when SQLite reads it back as the same
    double, is that double for Python too: both use the platform's long double, which is not
    80 bits everywhere. If not, every float is written by Python."""
    global _floats_exact
    if _floats_exact is None:
        rng = random.Random(20261207)
        low, high = (math.log10(bound) for bound in SQLITE_EXACT_FLOATS)
        samples = [
            math.copysign(10 ** rng.uniform(low, high), rng.random() - 0.5) for _ in range(2000)
        ]
        samples += [round(value, rng.randrange(1, 12)) for value in samples[:1000]]
        cursor = _sqlite_driver(connection).cursor()
        try:
            cursor.execute(
                "SELECT printf('%!.17g', value), CAST(CAST(value AS TEXT) AS REAL) = value, "
                "json_array(value) FROM json_each(?)",
                (json.dumps(samples),),
            )
            rows = cursor.fetchall()
        finally:
            cursor.close()
        _floats_exact = all(
            float(long) == value and (not same or json.loads(short) == [value])
            for (long, same, short), value in zip(rows, samples, strict=True)
        )
    return _floats_exact
