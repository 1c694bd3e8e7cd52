"""What the OpenRosa submission protocol fixes for both of Qazba's phone servers, the museum's
and the camp laptop's: the parts of a submission request, the answer's XML, and which attached
file names are taken."""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET

OPENROSA_RESPONSE_NS = "http://openrosa.org/http/response"
XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"  # Collect splits a large submission over several requests
MAX_FILE_NAME = 255  # what every phone's and server's file system holds
# control, invisible format, surrogate and line-separator characters: a name holding one shows
# as another name in a listing or a log line
_UNFIT_IN_NAME = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def message_xml(text: str, nature: str = "") -> bytes:
    """An ``<OpenRosaResponse>`` with one message, which Collect shows its user."""
    root = ET.Element("OpenRosaResponse", {"xmlns": OPENROSA_RESPONSE_NS})
    message = ET.SubElement(root, "message", {"nature": nature} if nature else {})
    message.text = text
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def plain_file_name(name: str) -> bool:
    """A name the way a phone names an attachment: one name within a folder, never a path or
    a way out of it. The one rule for both the request's part names and the instance's photo
    answers, so that no submission whose instance is taken has its photos refused, or the
    other way round; a ".." inside a name ("ULY26-0012..0014.jpg") leads nowhere without a
    separator. "" passes: a plain form field has no file name."""
    return (
        len(name) <= MAX_FILE_NAME
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and not any(unicodedata.category(ch) in _UNFIT_IN_NAME for ch in name)
    )
