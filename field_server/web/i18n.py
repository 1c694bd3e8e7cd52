"""The review UI's languages: Kazakh by default, Russian and English; one catalog each."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from field_core.contract import LANGUAGES, material_label
from flask import g, session

DEFAULT_LANGUAGE = "kk"
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
CATALOG_DIR = Path(__file__).resolve().parent / "translations"


@cache
def catalog(lang: str) -> dict[str, str]:
    return json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def current_language() -> str:
    if "lang" not in g:
        chosen = session.get("lang")
        g.lang = chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE
    return str(g.lang)


def translate(key: str, **values: Any) -> str:
    """The text of ``key`` in the current language; a missing key shows as itself, which the
    catalog test forbids for every key the templates use."""
    text = catalog(current_language()).get(key, key)
    return text.format_map(values) if values else text


def material(code: str | None) -> str:
    if not code:
        return ""
    try:
        return material_label(code, current_language())
    except KeyError:
        return code
