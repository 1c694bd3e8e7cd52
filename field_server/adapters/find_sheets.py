"""The find sheet: each find's exported attributes in typed columns beside its record.

Exports read a whole expedition from here and from the record's own columns (uuid, status,
register number, flags), so no find's JSON is parsed on the way out: parsing 100,000 finds
with long Cyrillic descriptions costs more than writing any export of them. The sheet is
written from the same wire data as the record, in the same transaction (``save``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, LargeBinary, Select, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from field_server.adapters import tables as t
from field_server.adapters.repositories import FindFilter, bulk_upsert
from field_server.domain.export_layers import COLUMN_NAMES, FIND_COLUMNS, STATE_COLUMNS

# the columns FIND_COLUMNS takes from the record's own columns, by export name
_RECORD_COLUMNS = {
    name: source.removeprefix("record.")
    for name, source, _ in FIND_COLUMNS
    if source.startswith("record.")
}
_CURSOR_NUMBERS = itertools.count(1)


class FindSheets:
    def __init__(self, connection: Connection) -> None:
        self._c = connection
        self._sqlite = connection.dialect.name == "sqlite"

    def save(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace the sheets (rows from ``export_layers.sheet_row``)."""
        bulk_upsert(self._c, t.find_sheets, rows)

    def bounds(self, selection: FindFilter) -> tuple[float, float, float, float] | None:
        """The WGS 84 box (min lon, min lat, max lon, max lat) of the selected finds."""
        sheet = t.find_sheets.c
        row = self._c.execute(
            self._joined(
                select(
                    func.min(sheet.lon), func.min(sheet.lat), func.max(sheet.lon),
                    func.max(sheet.lat),
                ),
                selection,
            )
        ).one()  # fmt: skip
        if row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    def stream_columns(
        self,
        selection: FindFilter,
        names: Sequence[str] = COLUMN_NAMES,
        *,
        by_site: bool = False,
        chunk: int = 2000,
    ) -> Iterator[Sequence[Any]]:
        """The selected finds in chunks of tuples: the named columns (FIND_COLUMNS names;
        ``flags`` as the flags' codes, space-separated, None when there are none), then WGS 84
        lon and lat. One statement; a server-side cursor on PostgreSQL."""
        sheet = t.find_sheets.c
        query = select(*(self._column(name) for name in names), sheet.lon, sheet.lat)
        yield from self._stream(self._ordered(query, selection, by_site), chunk)

    def stream_objects(
        self, selection: FindFilter, *, by_site: bool = False, chunk: int = 2000
    ) -> Iterator[Sequence[Any]]:
        """The selected finds in chunks of tuples: the find's OBJECT_COLUMNS as the JSON object
        the sheet keeps (UTF-8 bytes, so no value is decoded on its way to a JSON export), the
        STATE_COLUMNS values, then site code, trench, lon and lat."""
        sheet = t.find_sheets.c
        if self._sqlite:
            text = cast(sheet.object_json, LargeBinary)
        else:
            text = func.convert_to(sheet.object_json, "UTF8")
        states = [self._column(name) for name in STATE_COLUMNS]
        query = select(text, *states, sheet.site_code, sheet.trench, sheet.lon, sheet.lat)
        yield from self._stream(self._ordered(query, selection, by_site), chunk)

    def _column(self, name: str) -> ColumnElement[Any]:
        records = t.records.c
        if name == "flags":
            return self._flag_codes()
        if name in _RECORD_COLUMNS:
            return records[_RECORD_COLUMNS[name]]  # type: ignore[no-any-return]
        return t.find_sheets.c[name]  # type: ignore[no-any-return]

    def _flag_codes(self) -> ColumnElement[Any]:
        flags = t.records.c.flags
        if self._sqlite:
            each = func.json_each(flags).table_valued("value")
            code = func.json_extract(each.c.value, "$.code")
        else:
            each = func.json_array_elements(cast(flags, JSON)).table_valued("value")
            code = each.c.value.op("->>")("code")
        codes = select(func.string_agg(code, " ") if not self._sqlite
                       else func.group_concat(code, " ")).scalar_subquery()  # fmt: skip
        # nearly every find has no flag: skip the array walk for those
        return case((flags == "[]", None), else_=codes)

    def _joined(self, query: Select[Any], selection: FindFilter) -> Select[Any]:
        sheet = t.find_sheets
        joined = t.records.join(sheet, sheet.c.uuid == t.records.c.uuid)
        return query.select_from(joined).where(*_conditions(selection))

    def _ordered(self, query: Select[Any], selection: FindFilter, by_site: bool) -> Select[Any]:
        seq = t.records.c.seq
        order = [t.find_sheets.c.site_code, seq] if by_site else [seq]
        return self._joined(query, selection).order_by(*order)

    def _stream(self, query: Select[Any], chunk: int) -> Iterator[Sequence[Any]]:
        # The statement runs on the driver's own cursor and its rows are handed over as the
        # driver's tuples: making a SQLAlchemy Row of each costs a tenth of a CSV export of
        # 100,000 finds, and no column here has a type whose values SQLAlchemy would convert.
        # On PostgreSQL the cursor is a named (server-side) one, so memory stays flat.
        compiled = query.compile(dialect=self._c.dialect)
        params = compiled.construct_params()
        arguments: Any = (
            tuple(params[name] for name in compiled.positiontup or ())
            if compiled.positional
            else params
        )
        driver = self._c.connection.driver_connection
        assert driver is not None
        if self._sqlite:
            cursor = driver.cursor()
        else:  # named so that two streams on one connection never share a cursor
            cursor = driver.cursor(name=f"find_sheets_{next(_CURSOR_NUMBERS)}", binary=True)
        try:
            cursor.execute(str(compiled), arguments)
            while rows := cursor.fetchmany(chunk):
                yield rows
        finally:
            cursor.close()


def _conditions(selection: FindFilter) -> list[ColumnElement[Any]]:
    """The WHERE of a FindFilter over the records joined to their sheets."""
    records, sheet = t.records.c, t.find_sheets.c
    conditions: list[ColumnElement[Any]] = [
        records.expedition_id == selection.expedition_id,
        records.type == "find",
    ]
    if selection.status == "merged":
        conditions.append(records.status == "merged")
    else:
        # a merged find lives on as an alias of the one it was merged into
        conditions.append(records.merged_into.is_(None))
        if selection.status is not None:
            conditions.append(records.status == selection.status)
    if selection.survey_uuid is not None:
        conditions.append(records.survey_uuid == selection.survey_uuid)
    if selection.site_code is not None:
        conditions.append(sheet.site_code == selection.site_code)
    if selection.material is not None:
        conditions.append(sheet.material == selection.material)
    if selection.found_from is not None:
        conditions.append(sheet.found_on >= selection.found_from)
    if selection.found_to is not None:
        conditions.append(sheet.found_on <= selection.found_to)
    return conditions
