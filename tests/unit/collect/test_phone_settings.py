"""The configuration a phone scans: Collect's JSON settings, zlib-compressed, in base64."""

from __future__ import annotations

import base64
import json
import zlib

from field_core.collect.phone_settings import PROJECT_COLOURS, collect_settings


def decoded(payload: str) -> dict[str, object]:
    return json.loads(zlib.decompress(base64.b64decode(payload, validate=True)))


def test_the_payload_names_the_server_the_project_and_keeps_forms_in_step() -> None:
    url = "https://qazba.museum.kz/odk/key/k3y/ULY-2026"
    settings = decoded(collect_settings(url, "ULY-2026", "A52 Айгерім"))
    assert settings["general"] == {
        "server_url": url,
        "form_update_mode": "match_exactly",
        "autosend": "wifi_and_cellular",
    }
    project = settings["project"]
    assert isinstance(project, dict)
    assert project["name"] == "ULY-2026 · A52 Айгерім"
    assert project["icon"] == "Қ"
    assert project["color"] in PROJECT_COLOURS


def test_a_phone_keeps_its_colour_and_phones_differ() -> None:
    colours = {
        decoded(collect_settings("http://10.0.0.5:8765/x", "ULY-2026", name))["project"]["color"]  # type: ignore[index]
        for name in ("Samsung A14", "Redmi 12", "A52 Айгерім", "Pixel 7", "Tecno Spark")
    }
    assert len(colours) > 1
    again = collect_settings("http://10.0.0.5:8765/x", "ULY-2026", "Redmi 12")
    assert again == collect_settings("http://10.0.0.5:8765/x", "ULY-2026", "Redmi 12")
