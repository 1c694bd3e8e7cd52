"""Every text of the review UI is translated: each key the templates use is in the Kazakh,
Russian and English catalogs, and no template shows literal words outside ``_()``."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from field_core.contract import MATERIAL_CODES, load_schema

from field_server.domain import duplicates
from field_server.domain.access import Role
from field_server.domain.register_numbers import Fund, amendable_fields
from field_server.services.dashboard import FIND_STATUSES
from field_server.services.exports import FORMATS
from field_server.services.register_documents import DOCUMENTS
from field_server.web.i18n import CATALOG_DIR, LANGUAGES

TEMPLATES = Path(__file__).resolve().parents[2] / "field_server" / "web" / "templates"
KEY = re.compile(r"""_\(\s*["']([A-Za-z0-9_.]+)["']""")
# the rule names duplicate detection gives a candidate, read from its source so that a new
# rule without words in the catalogs fails here
# (a pair's rules as it adds them, a number group's as one tuple)
_RULES_FOUND = re.findall(
    r'rules\.(?:append|extend)\(\(?"(\w+)"|NUMBER_GROUP_RULES = \("(\w+)"',
    Path(duplicates.__file__).read_text(encoding="utf-8"),
)
RULES = sorted({name for found in _RULES_FOUND for name in found if name})
# key families the templates build at run time ("status." ~ value): every member must exist
FAMILIES = {
    "status": [*FIND_STATUSES, "none"],
    "role": [role.value for role in Role],
    "kind": ["small_find", "bulk", "sample"],
    "origin": ["device", "museum"],
    "method": list(load_schema("find")["$defs"]["position"]["properties"]["method"]["enum"]),
    "find": list(load_schema("find")["properties"]),
    "find.position": list(load_schema("find")["$defs"]["position"]["properties"]),
    "error": ["400", "403", "404", "409", "413", "422", "other"],
    "rule": list(RULES),
    "fund": [fund.value for fund in Fund],
    "amend": list(amendable_fields(MATERIAL_CODES)),
    "format": list(FORMATS),
    "act.document": list(DOCUMENTS),
}
# attributes a reader sees or hears
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label"}
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def catalogs() -> dict[str, dict[str, str]]:
    return {
        lang: json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGUAGES
    }


def used_keys() -> set[str]:
    keys: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        # a key ending in "." is a family's prefix ("status." ~ value): FAMILIES lists those
        keys.update(k for k in KEY.findall(template.read_text("utf-8")) if not k.endswith("."))
    for family, members in FAMILIES.items():
        keys.update(f"{family}.{member}" for member in members)
    return keys


def test_every_rule_of_duplicate_detection_is_read() -> None:
    assert {"same_find_number", "shared_photo", "near_match", "same_weight"} <= set(RULES)


def test_kazakh_is_the_default_language() -> None:
    assert LANGUAGES[0] == "kk"


def test_every_key_the_templates_use_is_in_every_catalog() -> None:
    keys = used_keys()
    for lang, catalog in catalogs().items():
        assert sorted(keys - set(catalog)) == [], lang


def test_the_catalogs_have_the_same_keys_and_no_empty_text() -> None:
    found = catalogs()
    for lang, catalog in found.items():
        assert set(catalog) == set(found["en"]), lang
        assert [k for k, v in catalog.items() if not v.strip()] == [], lang


def test_each_catalog_fills_the_same_placeholders() -> None:
    found = catalogs()
    for key, english in found["en"].items():
        wanted = set(re.findall(r"\{(\w+)\}", english))
        for lang in LANGUAGES:
            assert set(re.findall(r"\{(\w+)\}", found[lang][key])) == wanted, (lang, key)


def test_the_kazakh_catalog_is_not_english() -> None:
    found = catalogs()
    same = [k for k, v in found["kk"].items() if v == found["en"][k]]
    # names that read the same in every language: the app, EXIF, GNSS
    assert sorted(same) == ["method.gnss", "photo.exif"]


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value and _words(value):
                self.found.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and _words(data):
            self.found.append(data.strip())


def _words(text: str) -> bool:
    """Letters a reader would read; unit signs like × and punctuation are not words."""
    return bool(re.search(r"[^\W\d_]{2,}", text))


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_shows_untranslated_text(template: str) -> None:
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    parser = _VisibleText()
    parser.feed(JINJA.sub(" ", source))
    assert parser.found == []


def test_the_scan_catches_a_literal_word() -> None:
    parser = _VisibleText()
    parser.feed(JINJA.sub(" ", '<p>{{ _("a.b") }} Finds</p><img alt="photo">'))
    assert parser.found == ["Finds", "img[alt]='photo'"]
