"""The find form for ODK Collect, built from the expedition's reference data with pyxform.

The form is an XLSForm held as rows in code (no spreadsheet: the rows are the single source,
and a reference change can never leave a stale file behind) and handed to pyxform, ODK's own
converter, so the XForm is what Collect's engine, JavaRosa, expects. Its questions carry the
wire's field names (DESIGN §9), so a submission maps onto a find field by field.

Kazakh is the form's default language; Russian and English are translations a phone can switch
to. The site names are single strings in the reference (often Kazakh with a Russian gloss), so a
site reads the same in every language.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from field_core.content_hash import canonical_json
from field_core.contract import LANGUAGES, MATERIAL_CODES, load_schema, material_label

__all__ = [
    "FORM_ID",
    "KINDS",
    "FindForm",
    "FormBuildError",
    "FormListEntry",
    "FormReference",
    "FormSite",
    "build_find_form",
    "find_form_definition",
    "form_download_url",
    "form_list_entry",
    "form_list_xml",
    "form_title",
    "form_version",
]

FORM_ID = "qazba_find"
"""The formID Qazba serves; a submission of any other form is not Qazba's (404)."""

FORM_LAYOUT_EDITION = 1
"""Raise this whenever the questions below change: it is part of the version's digest, so a
changed form gets a new version even when the reference did not change. ODK's tools take a
formID and version to name one exact form; new bytes under an old version would be two forms
with one name."""

OPENROSA_FORM_LIST_NS = "http://openrosa.org/xforms/xformsList"

# pyxform's language columns look like "label::Kazakh (kk)"; Collect shows the name in brackets
# in its language menu, and the code in brackets keeps the name unambiguous for tools.
LANGUAGE_NAMES: dict[str, str] = {"kk": "Kazakh (kk)", "ru": "Russian (ru)", "en": "English (en)"}
DEFAULT_LANGUAGE = "kk"

KINDS: tuple[str, ...] = ("small_find", "bulk", "sample")
"""The find kinds of the wire contract, in the order the form offers them."""

# The same words as the review UI's translations (field_server/web/translations), which
# field_core cannot import: a phone and the museum's screen name a kind alike.
_KIND_LABELS: dict[str, dict[str, str]] = {
    "small_find": {"kk": "Жеке олжа", "ru": "Индивидуальная находка", "en": "Small find"},
    "bulk": {"kk": "Жаппай материал", "ru": "Массовый материал", "en": "Bulk lot"},
    "sample": {"kk": "Үлгі", "ru": "Образец", "en": "Sample"},
}

Words = dict[str, str]
"""One text in Kazakh, Russian and English: {"kk": …, "ru": …, "en": …}."""


@dataclass(frozen=True)
class FormSite:
    """A site the expedition set up: its code goes into the submission, its name is shown."""

    code: str
    name: str


@dataclass(frozen=True)
class FormReference:
    """What the form is built from: the part of the reference one expedition's phones need.

    ``materials`` is the vocabulary in display order as (code, {"kk", "ru", "en" labels}); the
    server passes its own, the laptop the one it pulled last. ``accuracy_threshold_m`` None
    means the expedition set no threshold, and the form then warns about no accuracy.
    """

    expedition_code: str
    expedition_title: str
    accuracy_threshold_m: float | None
    sites: tuple[FormSite, ...]
    materials: tuple[tuple[str, Mapping[str, str]], ...]

    @classmethod
    def from_reference(cls, reference: Mapping[str, Any], expedition_code: str) -> FormReference:
        """The form reference of one expedition from the reference a device pulls
        (``GET /api/v1/reference``: expeditions, sites, materials); KeyError when the
        reference has no such expedition."""
        expedition = next(
            (e for e in reference["expeditions"] if e["code"] == expedition_code), None
        )
        if expedition is None:
            raise KeyError(f"the reference has no expedition {expedition_code!r}")
        threshold = expedition.get("accuracy_threshold_m")
        return cls(
            expedition_code=expedition_code,
            expedition_title=str(expedition["title"]),
            accuracy_threshold_m=None if threshold is None else float(threshold),
            sites=tuple(
                FormSite(str(s["code"]), str(s["name"]))
                for s in reference["sites"]
                if s["expedition_code"] == expedition_code
            ),
            materials=tuple(
                (str(m["code"]), {lang: str(m["labels"][lang]) for lang in LANGUAGES})
                for m in reference["materials"]
            ),
        )

    @classmethod
    def with_built_in_materials(
        cls,
        expedition_code: str,
        expedition_title: str,
        accuracy_threshold_m: float | None,
        sites: Iterable[FormSite],
    ) -> FormReference:
        """A form reference with the vocabulary this code was built with (before any pull)."""
        return cls(
            expedition_code=expedition_code,
            expedition_title=expedition_title,
            accuracy_threshold_m=accuracy_threshold_m,
            sites=tuple(sites),
            materials=tuple(
                (code, {lang: material_label(code, lang) for lang in LANGUAGES})
                for code in MATERIAL_CODES
            ),
        )

    def digest_content(self) -> dict[str, Any]:
        """Everything the form shows that comes from the reference, as plain JSON values."""
        return {
            "layout_edition": FORM_LAYOUT_EDITION,
            "expedition_code": self.expedition_code,
            "expedition_title": self.expedition_title,
            "accuracy_threshold_m": self.accuracy_threshold_m,
            "sites": [[s.code, s.name] for s in self.sites],
            "materials": [[code, dict(labels)] for code, labels in self.materials],
            "kinds": [[kind, _KIND_LABELS[kind]] for kind in KINDS],
        }


@dataclass(frozen=True)
class FindForm:
    """The built form: what the formList announces and the bytes the phone downloads."""

    form_id: str
    version: str
    title: str
    xml: bytes

    @property
    def hash(self) -> str:
        """OpenRosa's form hash, ``md5:<hex>`` of the bytes served; Collect compares it to
        the copy it has and downloads the form again when it differs."""
        # MD5 because the OpenRosa Form List API names it; it identifies, it protects nothing.
        return "md5:" + hashlib.md5(self.xml, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class FormListEntry:
    """One ``<xform>`` of an OpenRosa formList."""

    form_id: str
    name: str
    version: str
    hash: str
    download_url: str


def form_version(reference: FormReference) -> str:
    """The form's version: a short digest of everything the form takes from the reference.

    The same reference gives the same version on the server and on every laptop, with no
    counter to keep; any change of a site, a label of the vocabulary, the title or the
    accuracy threshold gives a new one. 12 hex digits (48 bits) make an accidental repeat
    across an expedition's few dozen versions vanishingly unlikely. A digest does not sort by
    age, which Collect does not need: it compares versions for equality only.
    """
    digest = hashlib.sha256(canonical_json(reference.digest_content()).encode("utf-8"))
    return "ref-" + digest.hexdigest()[:12]


def form_title(reference: FormReference) -> str:
    return f"{reference.expedition_code} · {reference.expedition_title}"


# --------------------------------------------------------------------------- the questions


def _words(kk: str, ru: str, en: str) -> Words:
    return {"kk": kk, "ru": ru, "en": en}


def _columns(column: str, words: Words) -> dict[str, str]:
    """{"label::Kazakh (kk)": …, "label::Russian (ru)": …, "label::English (en)": …}."""
    return {f"{column}::{LANGUAGE_NAMES[lang]}": words[lang] for lang in LANGUAGE_NAMES}


def _xpath_number(value: float | int) -> str:
    """A number as XPath 1.0 reads it: no exponent (1e+08 is not an XPath number)."""
    text = format(Decimal(repr(value)).normalize(), "f")
    return text.removesuffix(".0") if "." in text else text


def _range_of(field: str) -> tuple[float, float]:
    """The contract's bounds of a number field of a find (or of its position)."""
    schema = load_schema("find")
    node = schema["properties"].get(field) or schema["$defs"]["position"]["properties"][field]
    return node["minimum"], node["maximum"]


def _max_length(field: str) -> int:
    length: int = load_schema("find")["properties"][field]["maxLength"]
    return length


def _text(name: str, label: Words, *, hint: Words | None = None, **extra: str) -> dict[str, str]:
    row = {"type": "text", "name": name, **_columns("label", label), **extra}
    if hint is not None:
        row.update(_columns("hint", hint))
    limit = _max_length(name)
    row["constraint"] = f"string-length(.) <= {limit}"
    row.update(
        _columns(
            "constraint_message",
            _words(
                f"{limit} таңбадан аспауы керек",
                f"Не более {limit} символов",
                f"At most {limit} characters",
            ),
        )
    )
    return row


def _measure(name: str, kind: str, label: Words, message: Words) -> dict[str, str]:
    low, high = _range_of(name)
    return {
        "type": kind,
        "name": name,
        **_columns("label", label),
        "constraint": f". >= {_xpath_number(low)} and . <= {_xpath_number(high)}",
        **_columns("constraint_message", message),
    }


def _size(name: str, label: Words) -> dict[str, str]:
    high = _xpath_number(_range_of(name)[1])
    return _measure(
        name,
        "decimal",
        label,
        _words(
            f"0-ден {high}-ге дейін; теріс болмайды",
            f"От 0 до {high}; не может быть отрицательным",
            f"0 to {high}; cannot be negative",
        ),
    )


def _survey_rows(reference: FormReference) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = [
        # When the recorder opened and last saved the form: the find's recorded_at.
        {"type": "start", "name": "start"},
        {"type": "end", "name": "end"},
    ]
    if reference.sites:
        # A site list with no sites is no question pyxform accepts; site_code is optional on
        # the wire, so an expedition without sites yet simply has no such question.
        rows.append(
            {
                "type": "select_one sites",
                "name": "site_code",
                **_columns("label", _words("Ескерткіш", "Памятник", "Site")),
            }
        )
    rows += [
        _text("trench", _words("Қазба орны", "Раскоп", "Trench")),
        _text(
            "context",
            _words("Контекст", "Контекст", "Context"),
            hint=_words(
                "Стратиграфиялық бірлік: қабат, объект, пласт",
                "Стратиграфическая единица: слой, объект, пласт",
                "Stratigraphic unit: layer, feature, spit",
            ),
        ),
        _text(
            "find_number",
            _words("Олжа нөмірі", "Номер находки", "Find number"),
            hint=_words(
                "Бос қалдырсаңыз, олжа экспедицияның келесі нөмірін алады",
                "Оставьте пустым: находка получит следующий номер экспедиции",
                "Leave blank: the find gets the expedition's next number",
            ),
        ),
        {
            "type": "select_one kinds",
            "name": "kind",
            "required": "yes",
            "default": "small_find",
            **_columns("label", _words("Түрі", "Вид", "Kind")),
        },
        {
            "type": "select_one materials",
            "name": "material",
            "required": "yes",
            **_columns("label", _words("Материал", "Материал", "Material")),
        },
        _text(
            "object_name",
            _words("Заттың атауы", "Наименование", "Object"),
            required="yes",
            hint=_words(
                "Мысалы: ыдыс жиегінің сынығы",
                "Например: фрагмент венчика сосуда",
                "For example: rim sherd of a vessel",
            ),
        ),
        _text(
            "description",
            _words("Сипаттамасы", "Описание", "Description"),
            appearance="multiline",
        ),
        {
            **_measure(
                "quantity",
                "integer",
                _words("Саны", "Количество", "Quantity"),
                _words("Кемінде 1", "Не меньше 1", "At least 1"),
            ),
            "required": "yes",
            "default": "1",
        },
        _size("weight_g", _words("Салмағы, г", "Вес, г", "Weight, g")),
        _size("length_mm", _words("Ұзындығы, мм", "Длина, мм", "Length, mm")),
        _size("width_mm", _words("Ені, мм", "Ширина, мм", "Width, mm")),
        _size("height_mm", _words("Биіктігі, мм", "Высота, мм", "Height, mm")),
        _text("condition", _words("Сақталуы", "Сохранность", "Condition")),
        {
            "type": "geopoint",
            "name": "position",
            "required": "yes",
            **_columns("label", _words("Орны", "Положение", "Position")),
            **_columns(
                "hint",
                _words(
                    "Олжаның үстінде тұрып, дәлдік бірнеше метрге жеткенше күтіңіз",
                    "Встаньте над находкой и дождитесь точности в несколько метров",
                    "Stand over the find and wait until the accuracy is a few metres",
                ),
            ),
        },
    ]
    threshold = reference.accuracy_threshold_m
    if threshold is not None:
        # A warning, not a constraint: in a trench a better fix may never come, and a find
        # with a rough position is better than none. ODK writes "lat lon altitude accuracy";
        # the fourth item (index 3) is the accuracy in metres.
        limit = _xpath_number(threshold)
        rows.append(
            {
                "type": "note",
                "name": "poor_accuracy",
                "relevant": f"${{position}} != '' and selected-at(${{position}}, 3) > {limit}",
                **_columns(
                    "label",
                    _words(
                        f"GPS дәлдігі {limit} м-ден нашар: жақсырақ сигналды күтіп, "
                        "нүктені қайта алыңыз",
                        f"Точность GPS хуже {limit} м: дождитесь лучшего сигнала и "
                        "возьмите точку заново",
                        f"GPS accuracy is worse than {limit} m: wait for a better fix and "
                        "take the point again",
                    ),
                ),
            }
        )
    low, high = _range_of("depth_m")
    rows += [
        _measure(
            "depth_m",
            "decimal",
            _words("Тереңдігі, м", "Глубина, м", "Depth, m"),
            _words(
                f"{_xpath_number(low)}-ден {_xpath_number(high)} м-ге дейін",
                f"От {_xpath_number(low)} до {_xpath_number(high)} м",
                f"{_xpath_number(low)} to {_xpath_number(high)} m",
            ),
        )
        | _columns(
            "hint",
            _words(
                "Беттен немесе қазба реперінен төмен; жоғары болса, теріс",
                "Ниже поверхности или репера раскопа; выше — отрицательная",
                "Below the surface or the trench datum; negative above it",
            ),
        ),
        {
            "type": "date",
            "name": "found_on",
            "required": "yes",
            "default": "today()",
            "constraint": ". <= today()",
            **_columns("label", _words("Табылған күні", "Дата находки", "Found on")),
            **_columns(
                "constraint_message",
                _words(
                    "Болашақтағы күн болмайды",
                    "Дата не может быть в будущем",
                    "Cannot be in the future",
                ),
            ),
        },
        # Several photos: one image question in a repeat, one photo per repetition.
        {
            "type": "begin repeat",
            "name": "photos",
            **_columns("label", _words("Фотолар", "Фотографии", "Photos")),
        },
        {
            "type": "image",
            "name": "photo",
            **_columns("label", _words("Фото", "Фото", "Photo")),
        },
        {"type": "end repeat", "name": "photos"},
        _text("notes", _words("Ескертпелер", "Примечания", "Notes"), appearance="multiline"),
    ]
    return rows


def _choice_rows(reference: FormReference) -> list[dict[str, str]]:
    rows = [
        {"list_name": "sites", "name": site.code, **_columns("label", _site_words(site))}
        for site in reference.sites
    ]
    rows += [
        {"list_name": "kinds", "name": kind, **_columns("label", _KIND_LABELS[kind])}
        for kind in KINDS
    ]
    rows += [
        {"list_name": "materials", "name": code, **_columns("label", dict(labels))}
        for code, labels in reference.materials
    ]
    return rows


def _site_words(site: FormSite) -> Words:
    # The code first: it is what is painted on the trench boards and the find bags.
    text = f"{site.code} — {site.name}"
    return _words(text, text, text)


def find_form_definition(reference: FormReference) -> dict[str, list[dict[str, str]]]:
    """The XLSForm of the find form as pyxform's rows: survey, choices and settings."""
    settings = {
        "form_id": FORM_ID,
        "version": form_version(reference),
        "form_title": form_title(reference),
        "default_language": LANGUAGE_NAMES[DEFAULT_LANGUAGE],
        # The name a phone lists a saved or sent find by.
        "instance_name": "normalize-space(concat(${find_number}, ' ', ${object_name}))",
        # The instance's root element; submissions are told apart by the form id, not this.
        "name": "find",
    }
    return {
        "survey": _survey_rows(reference),
        "choices": _choice_rows(reference),
        "settings": [settings],
    }


# pyxform's advice to shrink photos with max-pixels is declined on purpose: a find photo is
# part of the record, and a large one arrives over several requests instead (DESIGN §9).
_ACCEPTED_WARNINGS = ("Use the max-pixels parameter",)


class FormBuildError(ValueError):
    """pyxform refused or questioned the form built from this reference; str() says why."""


def build_find_form(reference: FormReference) -> FindForm:
    """The find form as XForm bytes with its version, title and (through FindForm.hash) hash.

    Raises FormBuildError when pyxform rejects the form or warns about anything but the
    photo size advice: a warning from pyxform means a phone would show something unintended.
    """
    # Imported here: pyxform brings openpyxl and xlrd along (about 0.3 s), which the many
    # callers that only read submissions or list forms should not pay for.
    from pyxform.xls2xform import convert

    warnings: list[str] = []
    try:
        result = convert(find_form_definition(reference), warnings=warnings)
    except Exception as error:
        # pyxform raises PyXFormError and, on odd input, plain ValueErrors and KeyErrors.
        raise FormBuildError(f"pyxform refused the find form: {error}") from error
    unexpected = [w for w in warnings if not any(a in w for a in _ACCEPTED_WARNINGS)]
    if unexpected:
        raise FormBuildError("pyxform warns about the find form: " + "; ".join(unexpected))
    return FindForm(
        form_id=FORM_ID,
        version=form_version(reference),
        title=form_title(reference),
        xml=result.xform.encode("utf-8"),
    )


# --------------------------------------------------------------------------- the form list


def form_download_url(base_url: str, form: FindForm) -> str:
    """Where a phone downloads the form: ``<base_url>/forms/<formID>.xml``.

    ``base_url`` is the address Collect was given (the key's ``server_url``, or the laptop's);
    the server and the laptop answer this path.
    """
    return f"{base_url.rstrip('/')}/forms/{quote(form.form_id, safe='')}.xml"


def form_list_entry(form: FindForm, base_url: str) -> FormListEntry:
    return FormListEntry(
        form_id=form.form_id,
        name=form.title,
        version=form.version,
        hash=form.hash,
        download_url=form_download_url(base_url, form),
    )


def form_list_xml(entries: Sequence[FormListEntry]) -> bytes:
    """The OpenRosa Form List API answer: ``<xforms xmlns="…/xformsList">`` with one
    ``<xform>`` per entry, UTF-8 with an XML declaration."""
    root = ET.Element("xforms", {"xmlns": OPENROSA_FORM_LIST_NS})
    for entry in entries:
        xform = ET.SubElement(root, "xform")
        for tag, text in (
            ("formID", entry.form_id),
            ("name", entry.name),
            ("version", entry.version),
            ("hash", entry.hash),
            ("downloadUrl", entry.download_url),
        ):
            ET.SubElement(xform, tag).text = text
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
