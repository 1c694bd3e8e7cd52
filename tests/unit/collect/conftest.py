"""The reference the phone form is built from: the sample expedition ULY-2026, whose sites
carry Kazakh names."""

from __future__ import annotations

from typing import Any

import pytest
from field_core.contract import LANGUAGES, MATERIAL_CODES, material_label

from field_core.collect.form import FormReference
from tests import samples

EXPEDITION = "ULY-2026"


def reference_document() -> dict[str, Any]:
    """The sample expeditions in the shape of GET /api/v1/reference."""
    expeditions = samples.expeditions()
    return {
        "expeditions": [
            {
                "code": e["code"],
                "title": e["title"],
                "year": e["year"],
                "find_number_format": e["find_number_format"],
                "accuracy_threshold_m": e["accuracy_threshold_m"],
                "member": True,
            }
            for e in expeditions
        ],
        "sites": [
            {"expedition_code": e["code"], **site} for e in expeditions for site in e["sites"]
        ],
        "materials": [
            {"code": code, "labels": {lang: material_label(code, lang) for lang in LANGUAGES}}
            for code in MATERIAL_CODES
        ],
    }


@pytest.fixture
def reference() -> FormReference:
    return FormReference.from_reference(reference_document(), EXPEDITION)
