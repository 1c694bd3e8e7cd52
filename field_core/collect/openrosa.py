"""What the OpenRosa submission protocol fixes for both of Qazba's phone servers, the museum's
and the camp laptop's: the parts of a submission request, the answer's XML, and which attached
file names are taken."""

from __future__ import annotations

import xml.etree.ElementTree as ET

OPENROSA_RESPONSE_NS = "http://openrosa.org/http/response"
XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"  # Collect splits a large submission over several requests


def message_xml(text: str, nature: str = "") -> bytes:
    """An ``<OpenRosaResponse>`` with one message, which Collect shows its user."""
    root = ET.Element("OpenRosaResponse", {"xmlns": OPENROSA_RESPONSE_NS})
    message = ET.SubElement(root, "message", {"nature": nature} if nature else {})
    message.text = text
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def plain_file_name(name: str) -> bool:
    """A part's name the way a phone names an attachment: no path, no way out of a folder."""
    return (
        ".." not in name
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
        and len(name) <= 255
    )
