"""What a printed register document holds, already in its language: the writers only lay it out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # millimetres on a landscape A4 page; HTML uses the proportions
    align: str = "L"  # L | R | C


@dataclass(frozen=True)
class Signature:
    caption: str
    name: str = ""


@dataclass(frozen=True)
class Sheet:
    lang: str
    title: str
    subtitle: str
    columns: list[Column]
    rows: list[list[str]]
    facts: list[tuple[str, str]] = field(default_factory=list)  # label, value under the title
    approval: list[str] = field(default_factory=list)  # the director's block, top right
    total: str = ""
    notes_title: str = ""
    notes: list[str] = field(default_factory=list)  # amendments, after the table
    signatures: list[Signature] = field(default_factory=list)
    running_head: str = ""  # on every page, beside the page number
    file_stem: str = "document"
