"""A register document as PDF: landscape A4, DejaVu Sans embedded, the table's header on every
page, long cells wrapped, rows taller than a page split, pages numbered "1 / N".

The table is laid out here rather than with fpdf2's own table helper, which measured seven
seconds for an act of 1,000 items on the reference machine; words are measured once each, and
a row's cell lines go into the page as one text object (see :meth:`_Pages.place_texts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fpdf import FPDF

from field_server.adapters.fonts import dejavu_sans
from field_server.adapters.register_documents.sheet import Sheet

FONT = "DejaVu"
MARGIN = 10.0  # mm
TABLE_SIZE = 7.0  # pt
LINE = 3.1  # mm per table line at TABLE_SIZE
PAD = 0.8  # mm inside a cell, above, below and to the sides
FOOTER_SPACE = 12.0  # mm kept free at the bottom for the page number


class _Pages(FPDF):
    running_head = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # per font: a string -> its glyph codes in this document's font subset
        self._encoded: dict[str, dict[str, str]] = {}

    def place_texts(self, placed: Sequence[tuple[float, float, str]]) -> None:
        """Print each string at its (x, y) baseline origin in the current font, colour and size,
        as :meth:`FPDF.text` would, but all in one text object.

        ``text()`` costs a text object, its checks and a fresh glyph encoding of every string;
        an act of 1,000 items prints some 20,000 cell lines, which made those costs half of
        the PDF's time. A string met again reuses its encoding: within one document a
        character's code in the font subset never changes. It writes through the same
        protected members of fpdf2 that ``text()`` uses; the register's PDF tests read the
        text back, so a change in them would show there.
        """
        if not placed:
            return
        font = self.current_font
        assert font is not None, "set_font() comes first"
        if not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(font, self.font_size_pt))
        encoded = self._encoded.setdefault(font.fontkey, {})
        parts = ["BT"]
        for x, y, text in placed:
            code = encoded.get(text)
            if code is None:
                code = encoded[text] = font.encode_text(text)
            parts.append(f"1 0 0 1 {x * self.k:.2f} {(self.h - y) * self.k:.2f} Tm {code}")
        parts.append("ET")
        if self.fill_color != self.text_color:
            assert self.text_color is not None
            parts = ["q", self.text_color.serialize().lower(), *parts, "Q"]
        self._out(" ".join(parts))

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(FONT, "", 7)
        self.set_text_color(60)
        self.cell(0, 4, self.running_head, align="L")
        self.set_x(MARGIN)
        self.cell(0, 4, f"{self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0)


def render_pdf(sheet: Sheet) -> bytes:
    """The sheet as a PDF document, its table's text placed in one text object per row."""
    fonts = dejavu_sans()
    pdf = _Pages(orientation="L", unit="mm", format="A4")
    pdf.running_head = sheet.running_head
    pdf.set_title(sheet.title)
    pdf.set_lang(sheet.lang)
    pdf.set_creator("Qazba")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, FOOTER_SPACE)
    pdf.add_font(FONT, "", str(fonts.regular))
    pdf.add_font(FONT, "B", str(fonts.bold))
    pdf.add_page()
    _heading(pdf, sheet)
    _Table(pdf, sheet).draw()
    _closing(pdf, sheet)
    return bytes(pdf.output())


def _heading(pdf: FPDF, sheet: Sheet) -> None:
    if sheet.approval:
        pdf.set_font(FONT, "", 9)
        for line in sheet.approval:
            pdf.set_x(pdf.w - MARGIN - 70)
            pdf.cell(70, 4.6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 6, sheet.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9.5)
    pdf.multi_cell(0, 5, sheet.subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for label, value in sheet.facts:
        pdf.set_font(FONT, "B", 9)
        width = pdf.get_string_width(label + ": ") + 1
        pdf.cell(width, 4.8, label + ":")
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(0, 4.8, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _closing(pdf: FPDF, sheet: Sheet) -> None:
    pdf.set_y(pdf.get_y() + 3)
    if sheet.total:
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(0, 5, sheet.total, new_x="LMARGIN", new_y="NEXT")
    if sheet.notes:
        pdf.ln(2)
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(0, 5, sheet.notes_title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 8)
        for number, note in enumerate(sheet.notes, start=1):
            pdf.multi_cell(0, 4, f"{number}. {note}", new_x="LMARGIN", new_y="NEXT")
    if sheet.signatures:
        needed = 9.0 * len(sheet.signatures) + 6
        if pdf.get_y() + needed > pdf.h - FOOTER_SPACE:
            pdf.add_page()
        pdf.ln(6)
        pdf.set_font(FONT, "", 9.5)
        for signature in sheet.signatures:
            name = f"  / {signature.name} /" if signature.name else ""
            pdf.cell(0, 9, f"{signature.caption}: ______________________{name}")
            pdf.ln(9)


class _Table:
    """Draws the sheet's columns and rows from the current position down, page after page."""

    def __init__(self, pdf: _Pages, sheet: Sheet) -> None:
        self.pdf = pdf
        self.sheet = sheet
        usable = pdf.w - 2 * MARGIN
        total = sum(c.width for c in sheet.columns) or 1.0
        self.widths = [c.width * usable / total for c in sheet.columns]
        self.bottom = pdf.h - FOOTER_SPACE
        self._widths: dict[str, dict[str, float]] = {}
        self._measures = {style: self._measure(style) for style in ("", "B")}

    def _measure(self, style: str) -> Callable[[str], float]:
        """Width in mm at the table's size; the font's own advance widths, summed (fpdf2's
        get_string_width runs its bidirectional-text machinery on every call)."""
        pdf = self.pdf
        pdf.set_font(FONT, style, TABLE_SIZE)
        font = pdf.current_font
        scale = 1 / pdf.k
        cache = self._widths.setdefault(style, {})

        def width(text: str) -> float:
            found = cache.get(text)
            if found is None:
                found = cache[text] = font.get_text_width(text, TABLE_SIZE, None)[1] * scale
            return found

        return width

    def _wrap(self, text: str, limit: float, width: Callable[[str], float]) -> list[str]:
        lines: list[str] = []
        space = width(" ")
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for word in paragraph.split():
                size = width(word)
                if size > limit:  # a word wider than the column is broken where it must be
                    if line:
                        lines.append(line)
                    piece = ""
                    for char in word:
                        if piece and width(piece + char) > limit:
                            lines.append(piece)
                            piece = ""
                        piece += char
                    line, used = piece, width(piece)
                elif not line:
                    line, used = word, size
                elif used + space + size <= limit:
                    line, used = f"{line} {word}", used + space + size
                else:
                    lines.append(line)
                    line, used = word, size
            lines.append(line)
        return lines or [""]

    def _cells(self, row: list[str], style: str) -> list[list[str]]:
        width = self._measures[style]
        return [
            self._wrap(text, column - 2 * PAD, width)
            for text, column in zip(row, self.widths, strict=True)
        ]

    def _draw(self, cells: list[list[str]], y: float, count: int, style: str) -> float:
        """One row (or the part of it that fits) from ``y``; returns the y under it.

        Body rows get only the line under them: the column rules are drawn once per page by
        :meth:`_rules`, which saves ten rectangles a row.
        """
        pdf = self.pdf
        pdf.set_font(FONT, style, TABLE_SIZE)
        height = count * LINE + 2 * PAD
        if style == "B":
            pdf.set_fill_color(235)
            pdf.rect(MARGIN, y, sum(self.widths), height, style="DF")
        measure = self._measures[style]
        x = MARGIN
        baseline = y + PAD + LINE - 0.75
        placed: list[tuple[float, float, str]] = []
        for lines, column, spec in zip(cells, self.widths, self.sheet.columns, strict=True):
            for index, line in enumerate(lines[:count]):
                if not line:
                    continue
                left = x + PAD
                if spec.align == "R":
                    left = x + column - PAD - measure(line)
                elif spec.align == "C":
                    left = x + (column - measure(line)) / 2
                placed.append((left, baseline + LINE * index, line))
            x += column
        pdf.place_texts(placed)
        pdf.line(MARGIN, y + height, MARGIN + sum(self.widths), y + height)
        return y + height

    def _rules(self, top: float, bottom: float) -> None:
        """The table's vertical rules from ``top`` to ``bottom`` on the current page."""
        x = MARGIN
        self.pdf.line(x, top, x, bottom)
        for column in self.widths:
            x += column
            self.pdf.line(x, top, x, bottom)

    def draw(self) -> None:
        pdf = self.pdf
        header = self._cells([c.title for c in self.sheet.columns], "B")
        header_lines = max(len(lines) for lines in header)
        header_height = header_lines * LINE + 2 * PAD
        y = pdf.get_y()
        if y + header_height + LINE * 3 > self.bottom:
            pdf.add_page()
            y = pdf.get_y()
        page_top = y
        y = self._draw(header, y, header_lines, "B")
        top = y
        capacity = int((self.bottom - top - 2 * PAD) / LINE)

        def next_page(end: float) -> float:
            self._rules(page_top_of[0], end)
            pdf.add_page()
            page_top_of[0] = pdf.get_y()
            return self._draw(header, pdf.get_y(), header_lines, "B")

        page_top_of = [page_top]
        for row in self.sheet.rows:
            cells = self._cells(row, "")
            remaining = max(len(lines) for lines in cells)
            while remaining:
                room = int((self.bottom - y - 2 * PAD) / LINE)
                if remaining <= room:
                    y = self._draw(cells, y, remaining, "")
                    break
                # a row goes whole to the next page, unless it is taller than a page
                if room < 1 or (y > top and remaining <= capacity):
                    y = next_page(y)
                    top = y
                    continue
                y = self._draw(cells, y, room, "")
                cells = [lines[room:] for lines in cells]
                remaining -= room
                y = next_page(y)
                top = y
        self._rules(page_top_of[0], y)
        pdf.set_y(y)
