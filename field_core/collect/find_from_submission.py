"""A phone's submission made into a find and its photo records, once, for server and laptop.

A submission never fails here: what cannot make a valid find comes back as problems beside a
draft of every value that could be read, and the caller keeps the submission as received and
lists it for a reviewer (DESIGN §9: the phone cannot fix it, and a submission is never lost).
Only a broken call (a received time without a zone) raises.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from field_core.collect.form import KINDS
from field_core.collect.submission import Submission
from field_core.contract import MATERIAL_CODES, load_schema
from field_core.geo.coordinates import KAZAKHSTAN_BOUNDS, Bounds, check_position
from field_core.geo.exif import PhotoError, PhotoReading, read_photo
from field_core.geo.geotag import KAZAKHSTAN_TIME, CameraClock, photo_data, place_photo, rfc3339
from field_core.validation import FieldProblem, validate_record_data

__all__ = [
    "CollectedPhoto",
    "FindFromSubmission",
    "SubmissionContext",
    "find_from_submission",
    "read_collected_photo",
]

# Numbers as JavaRosa writes them: plain decimals, or Java's exponent form (1.0E-4). Python's
# float() would also take "nan", "1_000" and Arabic-Indic digits, none of which a phone means.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]{1,15}", re.ASCII)
_MAX_NUMBER_TEXT = 40

_SIZE_FIELDS = ("weight_g", "length_mm", "width_mm", "height_mm")

_REQUIRED = frozenset(load_schema("find")["required"])

# A phone whose clock is set a zone east of the server's may date a find a day ahead.
_FUTURE_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class SubmissionContext:
    """What the receiver knows that the submission does not say.

    ``recorded_by`` is the user name of the key's member. ``next_find_number`` is called once,
    and only when the find number was left blank and the find is otherwise valid, so a
    submission kept for review uses up no number; on the laptop it takes the next number of
    its reserved block, on the server the expedition's next. For an edit (deprecatedID) pass
    one that returns the find's existing number. ``site_codes``, when given, are the sites a
    ``site_code`` must be one of. ``region`` is where the expedition works, to recognise
    swapped coordinates.
    """

    expedition_code: str
    survey_uuid: str
    recorded_by: str
    received_at: datetime
    next_find_number: Callable[[], str]
    site_codes: Collection[str] | None = None
    region: Bounds = KAZAKHSTAN_BOUNDS


@dataclass(frozen=True)
class CollectedPhoto:
    """An attachment as stored: named by the SHA-256 of its bytes, read when it is a photo.

    ``reading`` is None when the file is not a photo the EXIF reader accepts (a decompression
    bomb, a text file named .jpg, a truncated upload); ``problem`` then says why, for the
    reviewer. The bytes are kept either way.
    """

    file_name: str
    sha256: str
    byte_count: int
    reading: PhotoReading | None
    problem: str | None = None


@dataclass(frozen=True)
class FindFromSubmission:
    """The find a submission makes, or why it makes none.

    ``data`` is valid, normalised wire find data (its uuid is ``find_uuid``, the instanceID),
    or None when ``problems`` is not empty. ``draft`` always holds what could be read, for the
    reviewer to correct into a find. ``photos`` are valid wire photo data, one per readable
    attachment, each showing this find; ``photo_problems`` name attachments that are kept but
    are not usable photos; ``missing_photos`` are file names the instance names that have not
    arrived (Collect sends large attachments in later requests).
    """

    find_uuid: str
    data: dict[str, Any] | None
    draft: dict[str, Any]
    problems: tuple[FieldProblem, ...]
    photos: tuple[dict[str, Any], ...]
    photo_problems: tuple[FieldProblem, ...]
    missing_photos: tuple[str, ...]

    @property
    def needs_review(self) -> bool:
        """True when a reviewer must look at the submission: no find, or unusable photos."""
        return bool(self.problems or self.photo_problems)


def read_collected_photo(path: str | os.PathLike[str], file_name: str) -> CollectedPhoto:
    """Read a stored attachment; ``file_name`` is the name the phone gave it.

    A file that is not a usable photo still gets its SHA-256 and size (read in chunks, so a
    bomb costs no memory), so it can be kept and shown to the reviewer by its digest.
    """
    try:
        # the header and EXIF only: the phone's multipart body already arrived whole, and a
        # decode of every pixel cost more than everything else a submission does; a photo
        # whose pixels turn out damaged still gives no thumbnail and is shown as such
        reading = read_photo(path, decode=False)
    except PhotoError as error:
        digest, size = _digest(path)
        return CollectedPhoto(file_name, digest, size, None, error.reason)
    return CollectedPhoto(file_name, reading.sha256, reading.byte_count, reading)


def _digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def find_from_submission(
    submission: Submission,
    context: SubmissionContext,
    photos: Mapping[str, CollectedPhoto],
) -> FindFromSubmission:
    """Make the wire find and photo records of one submission of the find form.

    ``photos`` maps the file names of the attachments received so far to what they are.
    The geopoint ``lat lon altitude accuracy`` becomes the position (longitude first, as on
    the wire), with its altitude and accuracy and method ``gnss``; ``depth_m`` joins it.
    ``recorded_at`` is when the form was last saved on the phone (``end``, else ``start``),
    or the time received when the form records neither.
    """
    if context.received_at.utcoffset() is None:
        raise ValueError("received_at needs a time zone")
    problems: list[FieldProblem] = []
    fields = submission.fields

    def text(name: str) -> str | None:
        value = fields.get(name, "").strip()
        return value or None

    def problem(name: str, message: str) -> None:
        problems.append({"field": name, "message": message})

    draft: dict[str, Any] = {
        "survey_uuid": context.survey_uuid,
        "expedition_code": context.expedition_code,
        "site_code": _site_code(text("site_code"), context.site_codes, problem),
        "trench": text("trench"),
        "context": text("context"),
        "find_number": text("find_number"),
        "kind": _choice(text("kind"), KINDS, "kind", "the kinds small_find, bulk, sample", problem),
        "material": _choice(
            text("material"), MATERIAL_CODES, "material", "the material vocabulary", problem
        ),
        "object_name": text("object_name"),
        "description": text("description"),
        "quantity": _integer(text("quantity"), "quantity", problem),
        **{name: _decimal(text(name), name, problem) for name in _SIZE_FIELDS},
        "condition": text("condition"),
        "position": _position(text("position"), text("depth_m"), context.region, problem),
        "found_on": _found_on(text("found_on"), context.received_at, problem),
        "recorded_at": _recorded_at(text("end") or text("start"), context.received_at),
        "recorded_by": context.recorded_by,
        "photos": [],
        "notes": text("notes"),
    }
    photo_records, photo_problems, missing = _photos(submission, context, photos)
    draft["photos"] = list(dict.fromkeys(p["sha256"] for p in photo_records))

    # The number is taken last, and only for a find that will be made: a submission kept for
    # review must not use up a number of the expedition's sequence.
    blank_number = draft["find_number"] is None
    checked = {**draft, "find_number": "?"} if blank_number else draft
    problems += _contract_problems(checked, problems)
    data: dict[str, Any] | None = None
    if not problems:
        if blank_number:
            draft["find_number"] = context.next_find_number()
        data, _ = validate_record_data("find", draft)
        if data is None:  # the number given for the blank does not fit the contract
            problems += _contract_problems(draft, problems)
    return FindFromSubmission(
        find_uuid=submission.instance_id,
        data=data if not problems else None,
        draft=draft,
        problems=tuple(problems),
        photos=tuple(photo_records),
        photo_problems=tuple(photo_problems),
        missing_photos=tuple(missing),
    )


def _contract_problems(draft: dict[str, Any], found: list[FieldProblem]) -> list[FieldProblem]:
    """The wire contract's objections, less those on a field already given a problem here
    (a quantity that is not a number is absent from the draft, and "is required" would only
    repeat it), named by the form's field names rather than the envelope's ``data.`` path."""
    # An unanswered required question is absent, not null, so the contract says "is required".
    present = {k: v for k, v in draft.items() if v is not None or k not in _REQUIRED}
    data, problems = validate_record_data("find", present)
    if data is not None:
        return []
    seen = {p["field"].split(".")[0] for p in found}
    result = []
    for item in problems:
        name = item["field"].removeprefix("data.")
        if name.split(".")[0] not in seen:
            result.append({"field": name, "message": item["message"]})
    return result


def _site_code(
    code: str | None, known: Collection[str] | None, problem: Callable[[str, str], None]
) -> str | None:
    if code is not None and known is not None and code not in known:
        problem("site_code", f"{code[:40]!r} is not one of the expedition's sites")
    return code


def _choice(
    value: str | None,
    allowed: Collection[str],
    name: str,
    vocabulary: str,
    problem: Callable[[str, str], None],
) -> str | None:
    if value is None:
        problem(name, "is required")
    elif value not in allowed:
        problem(name, f"{value[:40]!r} is not in {vocabulary}")
    return value


def _integer(value: str | None, name: str, problem: Callable[[str, str], None]) -> int | None:
    if value is None:
        return None
    if not _INTEGER.fullmatch(value):
        problem(name, f"{value[:_MAX_NUMBER_TEXT]!r} is not a whole number")
        return None
    return int(value)


def _number(text: str) -> float | None:
    if len(text) > _MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _decimal(value: str | None, name: str, problem: Callable[[str, str], None]) -> float | None:
    if value is None:
        return None
    number = _number(value)
    if number is None:
        problem(name, f"{value[:_MAX_NUMBER_TEXT]!r} is not a number")
    return number


def _position(
    geopoint: str | None,
    depth: str | None,
    region: Bounds,
    problem: Callable[[str, str], None],
) -> dict[str, Any] | None:
    """ODK's geopoint ``lat lon [altitude [accuracy]]`` as the wire's position, lon first."""
    depth_m = _decimal(depth, "depth_m", problem)
    if geopoint is None:
        problem("position", "is required")
        return None
    parts = geopoint.split()
    numbers = [n for n in (_number(part) for part in parts) if n is not None]
    if not 2 <= len(parts) <= 4 or len(numbers) != len(parts):
        problem("position", f"{geopoint[:80]!r} is not a geopoint 'lat lon altitude accuracy'")
        return None
    lat, lon = numbers[0], numbers[1]
    altitude = numbers[2] if len(numbers) > 2 else None
    accuracy = numbers[3] if len(numbers) > 3 else None
    impossible = check_position(lon, lat, region)
    if impossible is not None:
        problem("position", impossible.message)
    return {
        "lon": lon,
        "lat": lat,
        "elevation_m": altitude,
        "depth_m": depth_m,
        "horizontal_accuracy_m": accuracy,
        "vertical_accuracy_m": None,
        "method": "gnss",
    }


def _found_on(
    value: str | None, received_at: datetime, problem: Callable[[str, str], None]
) -> str | None:
    # The format is the contract's to judge; only a day after the submission arrived is
    # impossible in a way the contract cannot see.
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    received_day = received_at.astimezone(KAZAKHSTAN_TIME).date()
    if day - received_day > _FUTURE_SLACK:
        problem("found_on", f"{value} is after the day the find was sent ({received_day})")
    return value


def _recorded_at(value: str | None, received_at: datetime) -> str:
    """The phone's timestamp with its offset; one without an offset is read as Kazakhstan
    time, where the phones are; an unreadable one gives way to the time received."""
    moment: datetime | None = None
    if value is not None:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        moment = received_at.astimezone(KAZAKHSTAN_TIME)
    elif moment.utcoffset() is None:
        moment = moment.replace(tzinfo=KAZAKHSTAN_TIME)
    return rfc3339(moment)


def _photos(
    submission: Submission, context: SubmissionContext, photos: Mapping[str, CollectedPhoto]
) -> tuple[list[dict[str, Any]], list[FieldProblem], list[str]]:
    records: list[dict[str, Any]] = []
    problems: list[FieldProblem] = []
    missing: list[str] = []
    # Phone cameras write local time without a zone more often than not: the country's time.
    clock = CameraClock()
    for name in submission.photo_files:
        photo = photos.get(name)
        if photo is None:
            missing.append(name)
            continue
        where = f"photo {name} (sha256 {photo.sha256})"
        if photo.reading is None:
            problems.append({"field": "photo", "message": f"{where} {photo.problem}"})
            continue
        placement = place_photo(photo.reading, clock)
        data, contract = validate_record_data(
            "photo",
            photo_data(
                photo.reading, placement, context.survey_uuid, find_uuids=[submission.instance_id]
            ),
        )
        if data is None:
            reasons = "; ".join(f"{p['field']} {p['message']}" for p in contract)
            problems.append({"field": "photo", "message": f"{where}: {reasons}"})
        elif all(r["sha256"] != data["sha256"] for r in records):
            records.append(data)
    return records, problems, missing
