"""The reference a laptop takes offline: expeditions, their sites, the material vocabulary."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from field_core.contract import LANGUAGES, MATERIAL_CODES, material_label

from field_client.errors import ClientError
from field_core.content_hash import canonical_json
from field_core.geo.coordinates import Bounds, geojson_box


@dataclass(frozen=True)
class Expedition:
    code: str
    title: str
    year: int
    find_number_format: str
    accuracy_threshold_m: float | None
    member: bool


def store_reference(connection: sqlite3.Connection, reference: Any) -> None:
    """Replace the local reference with the server's (call inside a transaction)."""
    try:
        expeditions = [
            (
                str(e["code"]),
                str(e["title"]),
                int(e["year"]),
                str(e["find_number_format"]),
                None if e.get("accuracy_threshold_m") is None else float(e["accuracy_threshold_m"]),
                1 if e.get("member") else 0,
            )
            for e in reference["expeditions"]
        ]
        sites = [
            (
                str(s["expedition_code"]),
                str(s["code"]),
                str(s["name"]),
                canonical_json(s["boundary"]),
            )
            for s in reference["sites"]
        ]
        materials = [
            (str(m["code"]), position, canonical_json(dict(m["labels"])))
            for position, m in enumerate(reference["materials"])
        ]
    except (KeyError, TypeError, ValueError):
        raise ClientError("the server's reference is not in the expected shape") from None
    known = {row[0] for row in expeditions}
    sites = [row for row in sites if row[0] in known]
    connection.execute("DELETE FROM site")
    connection.execute("DELETE FROM expedition")
    connection.execute("DELETE FROM material")
    connection.executemany("INSERT INTO expedition VALUES (?, ?, ?, ?, ?, ?)", expeditions)
    connection.executemany("INSERT INTO site VALUES (?, ?, ?, ?)", sites)
    connection.executemany("INSERT INTO material VALUES (?, ?, ?)", materials)


def expeditions(connection: sqlite3.Connection) -> list[Expedition]:
    return [
        Expedition(code, title, year, pattern, threshold, bool(member))
        for code, title, year, pattern, threshold, member in connection.execute(
            "SELECT code, title, year, find_number_format, accuracy_threshold_m, member "
            "FROM expedition ORDER BY code"
        )
    ]


def expedition(connection: sqlite3.Connection, code: str) -> Expedition | None:
    return next((e for e in expeditions(connection) if e.code == code), None)


def site_codes(connection: sqlite3.Connection, expedition_code: str) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "SELECT code FROM site WHERE expedition_code = ? ORDER BY code", (expedition_code,)
        )
    ]


def has_reference(connection: sqlite3.Connection) -> bool:
    return connection.execute("SELECT 1 FROM expedition LIMIT 1").fetchone() is not None


def materials(connection: sqlite3.Connection) -> list[tuple[str, dict[str, str]]]:
    """The vocabulary as last pulled, or the one this client was built with before any pull."""
    rows = connection.execute("SELECT code, labels FROM material ORDER BY position").fetchall()
    if rows:
        return [(code, json.loads(labels)) for code, labels in rows]
    return [
        (code, {lang: material_label(code, lang) for lang in LANGUAGES}) for code in MATERIAL_CODES
    ]


def material_code(connection: sqlite3.Connection, given: str) -> str:
    """The material code for a code or a kk/ru/en label, in any letter case."""
    wanted = " ".join(given.split()).casefold()
    vocabulary = materials(connection)
    for code, labels in vocabulary:
        if wanted == code.casefold() or wanted in (label.casefold() for label in labels.values()):
            return code
    raise ClientError(
        f"unknown material {given!r}; one of: {', '.join(code for code, _ in vocabulary)}"
    )


def site_boxes(connection: sqlite3.Connection, expedition_code: str) -> list[Bounds]:
    """The boxes around the expedition's site boundaries as last pulled; a boundary the
    reference holds in no polygon form is left out rather than guessed."""
    boxes = []
    for (boundary,) in connection.execute(
        "SELECT boundary FROM site WHERE expedition_code = ? ORDER BY code", (expedition_code,)
    ):
        try:
            boxes.append(geojson_box(json.loads(boundary)))
        except (ValueError, TypeError, KeyError, IndexError):
            continue
    return boxes
