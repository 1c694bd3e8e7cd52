"""A field problem (`{"field", "message"}`) in the reader's language.

The wire contract, the submission reader and the photo reader write their problems as English
sentences of a few fixed shapes, which the API and the phones show as they are. The review UI
recognises each shape and says it again from its catalog with the values the sentence carries;
a sentence of no known shape keeps its text behind a translated lead, so nothing is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_VALUE = r"(?P<value>'.*'|\".*\")"
_PHOTO = r"photo (?P<name>.+) \(sha256 [0-9a-f]{64}\)"

# (shape, catalog key); the first shape that matches the whole message wins
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), key)
    for pattern, key in (
        (r"is required|may not be null", "problem.required"),
        (r"must be a string", "problem.text"),
        (r"must be at least (?P<n>\d+) (?:character|characters) long", "problem.min_length"),
        (r"must be at most (?P<n>\d+) characters long", "problem.max_length"),
        (r"must not contain U\+0000 or unpaired surrogates", "problem.characters"),
        (r"must be a date YYYY-MM-DD that exists", "problem.date"),
        (r"must be an RFC 3339 date-time with an offset.*", "problem.date_time"),
        (r"must be one of: (?P<choices>.*)", "problem.one_of"),
        (r"must be an integer", "problem.integer"),
        (r"must be a number|must be a finite number.*", "problem.number"),
        (r"must be at least (?P<n>-?[\d.e+]+)", "problem.at_least"),
        (r"must be at most (?P<n>-?[\d.e+]+)", "problem.at_most"),
        (r"is not a field here", "problem.unknown_field"),
        (rf"{_VALUE} is not one of the expedition's sites", "problem.site"),
        (rf"{_VALUE} is not in the kinds .*", "problem.kind"),
        (rf"{_VALUE} is not in the material vocabulary", "problem.material"),
        (rf"{_VALUE} is not a whole number", "problem.whole_number"),
        (rf"{_VALUE} is not a number", "problem.not_number"),
        (rf"{_VALUE} is not a geopoint .*", "problem.geopoint"),
        (r"longitude (?P<lon>\S+) is outside -180\.\.180", "problem.longitude"),
        (r"latitude (?P<lat>\S+) is outside -90\.\.90; .*", "problem.swapped"),
        (r"latitude (?P<lat>\S+) is outside -90\.\.90", "problem.latitude"),
        (r"position 0, 0 is the default .*", "problem.no_fix"),
        (r"position \(.*\) lies outside the expedition's region while .*", "problem.swapped"),
        (
            r"(?P<day>\S+) is after the day the find was sent \((?P<sent>\S+)\)",
            "problem.future",
        ),
        (rf"{_PHOTO} is empty, not a photo", "problem.photo_empty"),
        (
            rf"{_PHOTO} is HEIC/HEIF.*",
            "problem.photo_heic",
        ),
        (
            rf"{_PHOTO} is not a photo.*",
            "problem.photo_not_image",
        ),
        (
            rf"{_PHOTO} has more than .* decompression bomb",
            "problem.photo_bomb",
        ),
        (
            rf"{_PHOTO} is (?:truncated or )?damaged.*",
            "problem.photo_damaged",
        ),
        (
            rf"{_PHOTO} is \d+ MB, above .*",
            "problem.photo_too_big",
        ),
        (rf"{_PHOTO}.*", "problem.photo_other"),
    )
)


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] in "'\"" else value


def problem_words(message: str, translate: Callable[..., str]) -> str:
    """``message`` said by ``translate`` (the catalog lookup of the current language)."""
    for shape, key in _SHAPES:
        matched = shape.fullmatch(message)
        if matched is not None:
            values = {k: _unquoted(v) for k, v in matched.groupdict().items() if v is not None}
            return translate(key, **values)
    return translate("problem.other", text=message)
