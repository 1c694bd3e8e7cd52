"""The wire contract: one JSON Schema file per message, the material vocabulary, a loader."""

# This folder is installed as the package field_core.contract, so the loader lives here: a module
# field_core/contract.py would be shadowed by this package in every install and never imported.

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_NAMES: tuple[str, ...] = (
    "survey",
    "find",
    "track",
    "photo",
    "submission",
    "record",
    "push_request",
    "push_response",
    "pull_response",
    "problem",
    "materials",
)
RECORD_TYPES: tuple[str, ...] = ("survey", "find", "track", "photo", "submission")
LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed contract file ``<name>.json``, e.g. ``load_schema("find")``.

    The dict is cached and shared by every caller: treat it as read-only (``copy.deepcopy`` it
    before changing anything). Raises KeyError for a name that is not in SCHEMA_NAMES.
    """
    if name not in SCHEMA_NAMES:
        raise KeyError(f"no contract schema named {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _labels() -> dict[str, dict[str, str]]:
    return {m["code"]: m["labels"] for m in load_schema("materials")["materials"]}


_LABELS: dict[str, dict[str, str]] = _labels()

MATERIAL_CODES: tuple[str, ...] = tuple(_LABELS)
"""The material codes in the vocabulary's display order."""


def material_label(code: str, lang: str) -> str:
    """The label of a material in Kazakh ("kk"), Russian ("ru") or English ("en").

    Raises KeyError for an unknown code or language: a silent fallback would print the wrong
    language on an acceptance act.
    """
    if lang not in LANGUAGES:
        raise KeyError(f"no material labels in language {lang!r}; known: {', '.join(LANGUAGES)}")
    try:
        return _LABELS[code][lang]
    except KeyError:
        raise KeyError(f"unknown material code {code!r}") from None
