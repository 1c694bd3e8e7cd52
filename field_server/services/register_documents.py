"""The acceptance act and the field inventory of an act, as the museum prints and files them.

The act shows the values as they were accessioned (the signed paper); amendments made since
are listed under the table. Dates are Kazakhstan's (UTC+5 everywhere since March 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from field_core.contract import LANGUAGES, material_label

from field_core.geo.geotag import KAZAKHSTAN_TIME
from field_server.adapters.register_documents import catalog
from field_server.adapters.register_documents.csv_writer import render_csv
from field_server.adapters.register_documents.html_writer import render_html
from field_server.adapters.register_documents.pdf_writer import render_pdf
from field_server.adapters.register_documents.sheet import Column, Sheet, Signature
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.register_numbers import Fund
from field_server.services.errors import InvalidInput
from field_server.services.register import Act, Entry, read_act

DOCUMENTS = ("act", "inventory")
FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class Rendered:
    content: bytes
    media_type: str
    filename: str


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InvalidInput(
            f"no documents in language {lang!r}",
            [{"field": "lang", "message": f"one of {', '.join(LANGUAGES)}"}],
        )
    return lang


def act_document(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    fund_text: str,
    number: int,
    *,
    document: str,
    fmt: str,
    lang: str,
    bom: bool = False,
) -> Rendered:
    """The act (``document="act"``) or its field inventory, as HTML, PDF or CSV."""
    check_language(lang)
    act = read_act(uow_factory, actor, fund_text, number)
    sheet = act_sheet(act, lang) if document == "act" else inventory_sheet(act, lang)
    return render(sheet, fmt, bom=bom)


def act_documents(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    fund_text: str,
    number: int,
    *,
    formats: tuple[str, ...],
    lang: str,
) -> list[Rendered]:
    """The act and its field inventory in each of ``formats``, from one read of the act."""
    check_language(lang)
    act = read_act(uow_factory, actor, fund_text, number)
    sheets = (act_sheet(act, lang), inventory_sheet(act, lang))
    return [render(sheet, fmt) for sheet in sheets for fmt in formats]


def render(sheet: Sheet, fmt: str, *, bom: bool = False) -> Rendered:
    if fmt == "pdf":
        content = render_pdf(sheet)
    elif fmt == "csv":
        content = render_csv(sheet, bom=bom)
    else:
        content = render_html(sheet).encode("utf-8")
    return Rendered(content, FORMATS[fmt], f"{sheet.file_stem}.{fmt}")


# -- the sheets ------------------------------------------------------------------------------


def _date(value: datetime | str | None, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # a wire date, YYYY-MM-DD
        value = datetime.fromisoformat(value)
    else:
        value = value.astimezone(KAZAKHSTAN_TIME)
    return value.strftime("%Y-%m-%d") if lang == "en" else value.strftime("%d.%m.%Y")


def _number(value: Any, lang: str) -> str:
    if value is None:
        return ""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if lang == "en" else text.replace(".", ",")


def _size(values: dict[str, Any], lang: str) -> str:
    dims = [values.get(k) for k in ("length_mm", "width_mm", "height_mm")]
    parts = []
    if any(d is not None for d in dims):
        shown = "×".join(_number(d, lang) if d is not None else "–" for d in dims)
        parts.append(f"{shown} {catalog.text('mm', lang)}")
    if values.get("weight_g") is not None:
        parts.append(f"{_number(values['weight_g'], lang)} {catalog.text('g', lang)}")
    return "; ".join(parts)


def _name(values: dict[str, Any]) -> str:
    name = values.get("object_name") or ""
    description = values.get("description")
    return f"{name}. {description}" if description else name


def _joined(*parts: Any) -> str:
    return "; ".join(str(p) for p in parts if p not in (None, ""))


def _shown(value: Any, lang: str) -> str:
    if value is None or value == "":
        return catalog.text("empty", lang)
    return f"«{value}»" if isinstance(value, str) else _number(value, lang)


def _amendment_notes(entries: list[Entry], lang: str) -> list[str]:
    return [
        catalog.text(
            "amendment_line",
            lang,
            number=entry.number.cyrillic,
            field=catalog.field_name(a.field, lang),
            old=_shown(a.old, lang),
            new=_shown(a.new, lang),
            reason=a.reason,
            by=a.by,
            at=_date(a.at, lang),
        )
        for entry in entries
        for a in entry.amendments
    ]


def _columns(keys: list[tuple[str, float, str]], lang: str) -> list[Column]:
    return [Column(catalog.column(key, lang), width, align) for key, width, align in keys]


KP_COLUMNS = [
    ("item", 8, "R"),
    ("entry", 18, "L"),
    ("date", 16, "L"),
    ("source", 30, "L"),
    ("name", 70, "L"),
    ("quantity", 10, "R"),
    ("material", 22, "L"),
    ("size", 24, "L"),
    ("condition", 20, "L"),
    ("inventory_number", 18, "L"),
    ("note", 41, "L"),
]
NVF_COLUMNS = [
    ("item", 8, "R"),
    ("entry", 20, "L"),
    ("date", 18, "L"),
    ("name", 110, "L"),
    ("quantity", 12, "R"),
    ("source", 45, "L"),
    ("note", 64, "L"),
]
INVENTORY_COLUMNS = [
    ("item", 7, "R"),
    ("entry", 16, "L"),
    ("find_number", 20, "L"),
    ("find_name", 50, "L"),
    ("quantity", 9, "R"),
    ("material", 18, "L"),
    ("year", 10, "L"),
    ("site", 24, "L"),
    ("trench", 13, "L"),
    ("context", 16, "L"),
    ("depth", 12, "R"),
    ("found_on", 16, "L"),
    ("recorder", 20, "L"),
    ("field_note", 46, "L"),
]


def _act_row(act: Act, entry: Entry, lang: str) -> list[str]:
    values = entry.accessioned
    date = _date(entry.accessioned_at, lang)
    source = catalog.text("source_cell", lang, expedition=act.expedition_code, act=act.label)
    note = _joined(
        values.get("find_number"),
        values.get("site_name") or values.get("site_code"),
        values.get("storage_location"),
    )
    material = material_label(values["material"], lang)
    if act.fund is Fund.NVF:
        name = f"{_name(values)} ({material})"
        quantity = _number(values.get("quantity"), lang)
        return [str(entry.number.item), entry.number.cyrillic, date, name, quantity, source, note]
    return [
        str(entry.number.item),
        entry.number.cyrillic,
        date,
        source,
        _name(values),
        _number(values.get("quantity"), lang),
        material,
        _size(values, lang),
        values.get("condition") or "",
        values.get("inventory_number") or "",
        note,
    ]


def _pieces(act: Act) -> int:
    return sum(int(e.accessioned.get("quantity") or 0) for e in act.entries)


def act_sheet(act: Act, lang: str) -> Sheet:
    fund_name = catalog.text(f"fund_{act.fund.value}", lang)
    facts = [
        (catalog.text("date", lang), _date(act.created_at, lang)),
        (catalog.text("expedition", lang), f"{act.expedition_code} — {act.expedition_title}"),
        (
            catalog.text("received_from", lang),
            _joined(act.expedition_code, act.handed_over_by),
        ),
        (catalog.text("items", lang), str(len(act.entries))),
    ]
    if act.storage_location:
        facts.append((catalog.text("storage_location", lang), act.storage_location))
    facts.append((catalog.text("made_by", lang), act.created_by))
    columns = KP_COLUMNS if act.fund is Fund.KP else NVF_COLUMNS
    return Sheet(
        lang=lang,
        title=catalog.text("act_title", lang, act=act.label),
        subtitle=fund_name,
        columns=_columns(columns, lang),
        rows=[_act_row(act, entry, lang) for entry in act.entries],
        facts=facts,
        approval=[
            catalog.text("approve", lang),
            catalog.text("director", lang),
            "______________________",
            catalog.text("approval_date", lang),
        ],
        total=catalog.text("total", lang, items=len(act.entries), pieces=_pieces(act)),
        notes_title=catalog.text("amendments", lang),
        notes=_amendment_notes(act.entries, lang),
        signatures=[
            Signature(catalog.text("chief_curator", lang)),
            Signature(catalog.text("handed_over_by", lang), act.handed_over_by or ""),
            Signature(catalog.text("received_by", lang), act.received_by or ""),
        ],
        running_head=catalog.text("act_title", lang, act=act.label),
        file_stem=f"act-{act.fund.ascii}-{act.act_number}-{lang}",
    )


def inventory_sheet(act: Act, lang: str) -> Sheet:
    rows = []
    for entry in act.entries:
        values = entry.accessioned
        rows.append(
            [
                str(entry.number.item),
                entry.number.cyrillic,
                values.get("find_number") or "",
                values.get("object_name") or "",
                _number(values.get("quantity"), lang),
                material_label(values["material"], lang),
                str(act.expedition_year),
                _joined(values.get("site_name"), values.get("site_code")),
                values.get("trench") or "",
                values.get("context") or "",
                _number(values.get("depth_m"), lang),
                _date(values.get("found_on"), lang),
                values.get("recorded_by") or "",
                values.get("notes") or "",
            ]
        )
    return Sheet(
        lang=lang,
        title=catalog.text("inventory_title", lang, act=act.label),
        subtitle=f"{act.expedition_code} — {act.expedition_title}",
        columns=_columns(INVENTORY_COLUMNS, lang),
        rows=rows,
        facts=[
            (catalog.text("date", lang), _date(act.created_at, lang)),
            (catalog.text("items", lang), str(len(act.entries))),
        ],
        total=catalog.text("total", lang, items=len(act.entries), pieces=_pieces(act)),
        signatures=[
            Signature(catalog.text("compiled_by", lang), act.handed_over_by or ""),
            Signature(catalog.text("received_by", lang), act.received_by or ""),
        ],
        running_head=catalog.text("inventory_title", lang, act=act.label),
        file_stem=f"inventory-{act.fund.ascii}-{act.act_number}-{lang}",
    )
