"""Find numbers: blocks reserved from the server while online, handed out one by one offline."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from field_client import records
from field_client.errors import ClientError
from field_client.store import now_utc

BLOCK_SIZE = 100
LOW_WATER = 25
"""Below this many unused numbers, the next online command reserves another block: a day of
bulk finds in a rich context can take dozens."""

# The server's rule for find number formats: one {n} or {n:0Wd} in literal text.
_FIELD = re.compile(r"\{n(?::(0?)([1-9][0-9]?)d)?\}")


@dataclass(frozen=True)
class Block:
    expedition_code: str
    first: int
    last: int
    pattern: str


def format_number(pattern: str, n: int) -> str:
    """The find number ``n`` in the expedition's format, e.g. ``ULY26-{n:04d}`` → ULY26-0042.

    Only the one field the server allows is expanded, so a format can never reach Python's
    general formatting machinery.
    """
    fields = list(_FIELD.finditer(pattern))
    literal = _FIELD.sub("", pattern)
    if len(fields) != 1 or "{" in literal or "}" in literal:
        raise ClientError(f"the server sent an unusable find number format {pattern!r}")
    field = fields[0]
    width = int(field.group(2) or 0)
    # as str.format does it: {n:04d} pads with zeros, {n:4d} with spaces
    digits = str(n).zfill(width) if field.group(1) else str(n).rjust(width)
    return pattern[: field.start()] + digits + pattern[field.end() :]


def parse_block(answer: Any, expedition_code: str) -> Block:
    try:
        block = Block(
            str(answer["expedition_code"]),
            int(answer["first"]),
            int(answer["last"]),
            str(answer["find_number_format"]),
        )
    except (KeyError, TypeError, ValueError):
        raise ClientError("the server's number block is not in the expected shape") from None
    if block.expedition_code != expedition_code or not 1 <= block.first <= block.last:
        raise ClientError("the server sent a number block for something else")
    if block.last - block.first >= 100_000:
        raise ClientError("the server sent an implausibly large number block")
    if (answer.get("first_number"), answer.get("last_number")) != (
        format_number(block.pattern, block.first),
        format_number(block.pattern, block.last),
    ):
        raise ClientError("the server numbers finds differently from this client; upgrade it")
    return block


def add_block(connection: sqlite3.Connection, block: Block) -> int:
    """Keep a reserved block (call inside a transaction); returns how many numbers it adds."""
    cursor = connection.execute(
        "INSERT INTO number_block (expedition_code, first, last, pattern, reserved_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (block.expedition_code, block.first, block.last, block.pattern, now_utc()),
    )
    block_id = cursor.lastrowid
    rows = [
        (block.expedition_code, format_number(block.pattern, n), n, block_id)
        for n in range(block.first, block.last + 1)
    ]
    added = connection.executemany(
        "INSERT OR IGNORE INTO reserved_number (expedition_code, number, n, block_id) "
        "VALUES (?, ?, ?, ?)",
        rows,
    ).rowcount
    return added


def remaining(connection: sqlite3.Connection, expedition_code: str) -> int:
    count: int = connection.execute(
        "SELECT count(*) FROM reserved_number WHERE expedition_code = ? AND used_by IS NULL",
        (expedition_code,),
    ).fetchone()[0]
    return count


def remaining_by_expedition(connection: sqlite3.Connection) -> dict[str, int]:
    return {
        code: count
        for code, count in connection.execute(
            "SELECT expedition_code, sum(used_by IS NULL) FROM reserved_number "
            "GROUP BY expedition_code ORDER BY expedition_code"
        )
    }


def _used_locally(connection: sqlite3.Connection, expedition_code: str, number: str) -> str | None:
    return records.holder_of_number(connection, expedition_code, number)


def take_next(connection: sqlite3.Connection, expedition_code: str, uuid: str) -> str:
    """The next unused reserved number, now belonging to the find ``uuid``.

    Call in the transaction that saves the find: a number is used exactly when its find exists.
    A number already typed by hand on a local find is skipped (and marked used).
    """
    while True:
        row = connection.execute(
            "SELECT number FROM reserved_number WHERE expedition_code = ? AND used_by IS NULL "
            "ORDER BY n LIMIT 1",
            (expedition_code,),
        ).fetchone()
        if row is None:
            raise ClientError(
                f"no reserved find numbers left for {expedition_code}: connect and run "
                "field-client pull, or give --find-number"
            )
        number = str(row[0])
        holder = _used_locally(connection, expedition_code, number)
        mark_used(connection, expedition_code, number, holder or uuid)
        if holder is None:
            return number


def mark_used(connection: sqlite3.Connection, expedition_code: str, number: str, uuid: str) -> None:
    """A number typed by hand that is also a reserved one is never handed out again."""
    connection.execute(
        "UPDATE reserved_number SET used_by = ? "
        "WHERE expedition_code = ? AND number = ? AND used_by IS NULL",
        (uuid, expedition_code, number),
    )
