"""Form instances as phones send them, for the submission tests."""

from __future__ import annotations

from xml.sax.saxutils import escape

INSTANCE_ID = "3f2b9c4e-8a61-4d2f-9b7e-0c5d1e6f7a81"
XFORMS_NS = "http://www.w3.org/2002/xforms"

ANSWERS: dict[str, str] = {
    "start": "2026-07-14T10:28:41.302+05:00",
    "end": "2026-07-14T10:32:05.117+05:00",
    "site_code": "DMB",
    "trench": "Қазба 2",
    "context": "Қабат 3",
    "find_number": "",
    "kind": "small_find",
    "material": "copper_alloy",
    "object_name": "Қола пышақ",
    "description": "Жүзі сынған",
    "quantity": "1",
    "weight_g": "12.5",
    "length_mm": "84",
    "width_mm": "1.65E1",
    "height_mm": "",
    "condition": "Тот басқан",
    "position": "48.19331 67.84472 427.3 3.9",
    "depth_m": "0.85",
    "found_on": "2026-07-14",
    "notes": "",
}


def instance(
    *,
    answers: dict[str, str] | None = None,
    photos: tuple[str, ...] = ("1720934921312.jpg", "1720934987411.jpg"),
    form_id: str = "qazba_find",
    version: str = "ref-61123016874e",
    instance_id: str = INSTANCE_ID,
    deprecated_id: str | None = None,
    namespace: bool = False,
) -> bytes:
    """An instance as ODK Collect writes it (no default namespace), or with the XForms
    namespace as Enketo and other clients send it."""
    values = {**ANSWERS, **(answers or {})}
    body = "".join(
        f"<{name}/>" if value == "" else f"<{name}>{escape(value)}</{name}>"
        for name, value in values.items()
    )
    body += "".join(f"<photos><photo>{escape(name)}</photo></photos>" for name in photos)
    meta = f"<instanceID>uuid:{instance_id}</instanceID>"
    if deprecated_id is not None:
        meta += f"<deprecatedID>uuid:{deprecated_id}</deprecatedID>"
    meta += "<instanceName>Қола пышақ</instanceName>"
    xmlns = f' xmlns="{XFORMS_NS}"' if namespace else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<find{xmlns} xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        f"{body}<meta>{meta}</meta></find>"
    ).encode()
