"""A phone's submission: the filled-in form instance (XML) that Collect posts, read safely.

The instance comes from the network, so it is parsed as hostile input: its size is bounded
before parsing, and a DOCTYPE or ENTITY declaration is refused (defusedxml) before any entity
could be expanded, so neither a billion-laughs body nor an external entity (XXE) can cost
memory or read a file. Elements are matched by local name: Collect sends the primary instance
without the XForms namespace, other clients (Enketo) with it, and meta sometimes in the
OpenRosa namespace (orx:meta).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from field_core.collect.form import FORM_ID
from field_core.collect.openrosa import plain_file_name

__all__ = [
    "MAX_SUBMISSION_BYTES",
    "Submission",
    "SubmissionError",
    "SubmissionTooLarge",
    "parse_submission",
]

MAX_SUBMISSION_BYTES = 1024 * 1024
"""Largest instance XML taken: a find's instance is a few kilobytes; the photos travel as
separate parts and are not counted here."""

PHOTO_FIELD = "photo"
"""The image question in the form's photo repeat: each of its values names an attached file."""

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class SubmissionError(ValueError):
    """An instance that cannot be taken: malformed, hostile or not a form instance at all.
    str() is a one-line reason for the phone's user; the caller answers 400 and keeps nothing."""


class SubmissionTooLarge(SubmissionError):
    """An instance over the size limit (the caller answers 413)."""


@dataclass(frozen=True)
class Submission:
    """What a submitted instance says, as received.

    ``fields`` maps each answered question's name (the wire's field names, DESIGN §9) to its
    text as written; empty questions are present with "". ``photo_files`` are the file names
    the photo repeat names, in order, each once: the parts the phone attaches.
    ``instance_id`` and ``deprecated_id`` are lowercase UUIDs without Collect's ``uuid:``.
    """

    form_id: str
    version: str | None
    instance_id: str
    deprecated_id: str | None
    fields: Mapping[str, str]
    photo_files: tuple[str, ...]
    xml: bytes = field(repr=False)

    @property
    def is_find_form(self) -> bool:
        """False for an instance of a form Qazba never served (the caller answers 404)."""
        return self.form_id == FORM_ID


def parse_submission(xml: bytes, *, max_bytes: int = MAX_SUBMISSION_BYTES) -> Submission:
    """Read a submitted instance; raise SubmissionError (or SubmissionTooLarge) with a reason.

    Refused: a body over ``max_bytes``, an empty or malformed body, a DOCTYPE or ENTITY
    declaration, a root without a form ``id``, a missing or non-UUID ``meta/instanceID``, a
    question answered twice outside a repeat, and a photo answer that is not a plain file name
    (a path could reach outside the folder the attachments are kept in).
    """
    if len(xml) > max_bytes:
        raise SubmissionTooLarge(
            f"the form instance is {len(xml):,} bytes, above the {max_bytes:,} a find takes"
        )
    if not xml.strip():
        raise SubmissionError("the form instance is empty")
    root = _parse(xml)
    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise SubmissionError("the form instance names no form (its root has no id attribute)")
    version = root.get("version")
    meta: dict[str, str] = {}
    fields: dict[str, str] = {}
    photo_files: list[str] = []
    for child in root:
        if _local(child.tag) == "meta":
            meta.update((_local(item.tag), (item.text or "").strip()) for item in child)
        else:
            _collect(child, fields, photo_files)
    instance_id = _uuid_of(meta.get("instanceID"), "meta/instanceID")
    if instance_id is None:
        raise SubmissionError("the form instance has no meta/instanceID")
    return Submission(
        form_id=form_id,
        version=version.strip() if version is not None and version.strip() else None,
        instance_id=instance_id,
        deprecated_id=_uuid_of(meta.get("deprecatedID"), "meta/deprecatedID"),
        fields=fields,
        photo_files=tuple(dict.fromkeys(photo_files)),
        xml=xml,
    )


def _parse(xml: bytes) -> ET.Element:
    try:
        root: ET.Element = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException:
        # forbid_dtd stops at the DOCTYPE itself, before any entity is declared or expanded;
        # an ENTITY can only be declared inside a DOCTYPE, so both end here.
        raise SubmissionError(
            "the form instance declares a DOCTYPE or ENTITY, which no form instance needs; refused"
        ) from None
    except ET.ParseError as error:
        raise SubmissionError(f"the form instance is not well-formed XML: {error}") from None
    return root


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _collect(element: ET.Element, fields: dict[str, str], photo_files: list[str]) -> None:
    """Gather the answers under a top-level element: groups are walked through, since a
    question's name is unique in the form whatever group holds it; the photo repeat's
    answers are file names."""
    stack = [element]
    while stack:  # a loop, not recursion: nesting depth is the sender's choice
        node = stack.pop()
        children = list(node)
        if children:
            stack.extend(reversed(children))
            continue
        name = _local(node.tag)
        text = node.text or ""
        if name == PHOTO_FIELD:
            if text.strip():
                photo_files.append(_file_name(text.strip()))
        elif name in fields:
            raise SubmissionError(f"the form instance answers {name[:60]!r} twice")
        else:
            fields[name] = text


def _file_name(text: str) -> str:
    if not plain_file_name(text):
        raise SubmissionError(f"a photo answer {text[:60]!r} is not a plain file name")
    return text


def _uuid_of(text: str | None, where: str) -> str | None:
    if not text:
        return None
    value = text.removeprefix("uuid:").strip().lower()
    if not _UUID.fullmatch(value):
        raise SubmissionError(f"{where} {text[:60]!r} is not uuid:<UUID>")
    return value
