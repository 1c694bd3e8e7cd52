"""parse_json_strict takes RFC 8259 JSON in UTF-8 and refuses everything else with one line."""

from __future__ import annotations

import json

import pytest

from field_core.validation import MalformedJSON, parse_json_strict


def test_a_body_in_kazakh_and_russian_parses_to_the_same_text_raw_or_escaped() -> None:
    value = {"object_name": "Қола жебе ұшы", "notes": "Наконечник стрелы", "n": [1, 2.5, None]}
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
    escaped = json.dumps(value, ensure_ascii=True).encode("ascii")
    assert parse_json_strict(raw) == value
    assert parse_json_strict(escaped) == value


def test_a_surrogate_pair_escape_becomes_one_character() -> None:
    assert parse_json_strict(b'"\\ud83c\\udffa"') == "\U0001f3fa"


def test_an_escaped_backslash_before_ud800_is_plain_text() -> None:
    assert parse_json_strict(b'"\\\\ud800"') == "\\ud800"


def test_bytearray_and_memoryview_bodies_parse() -> None:
    assert parse_json_strict(bytearray(b'{"a": 1}')) == {"a": 1}
    assert parse_json_strict(memoryview(b"[true]")) == [True]


def test_a_leading_byte_order_mark_is_ignored() -> None:
    assert parse_json_strict(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_integers_stay_integers_and_fractions_stay_floats() -> None:
    assert parse_json_strict(b"[1, 1.0, -0, 1e2]") == [1, 1.0, 0, 100.0]
    assert [type(v) for v in parse_json_strict(b"[1, 1.0]")] == [int, float]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"lat": NaN}', "NaN is not a JSON number"),
        (b'{"lat": Infinity}', "Infinity is not a JSON number"),
        (b'{"lat": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"lat": 1e400}', "out of range"),
        (b'{"lat": -1e400}', "out of range"),
        (b'{"quantity": 1, "quantity": 1000}', "duplicate key 'quantity'"),
        (b'{"data": {"lat": 1, "lat": 2}}', "duplicate key 'lat'"),
        (b'{"name": "\\ud800"}', "unpaired surrogate"),
        (b'["\\udc00 alone"]', "unpaired surrogate"),
        (b'{"\\ud83c": 1}', "unpaired surrogate"),
        (b'{"a": "\xff"}', "not UTF-8: invalid byte at offset 7"),
        (b'{"a": "\xd2"}', "not UTF-8"),
        (b"", "body is empty"),
        (b"  \n ", "body is empty"),
        (b'{"a": 1} {"b": 2}', "Extra data"),
        (b'{"a": 1,}', "line 1 column 9"),
        (b"{'a': 1}", "Expecting property name"),
        (b'{"a": "tab\there"}', "Invalid control character"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (b"[" + b"9" * 5000 + b"]", "number is too long"),
    ],
    ids=[
        "NaN",
        "Infinity",
        "-Infinity",
        "a number that overflows a double",
        "a negative number that overflows a double",
        "a duplicate key",
        "a duplicate key in a nested object",
        "an unpaired high surrogate escape",
        "an unpaired low surrogate escape",
        "an unpaired surrogate in a key",
        "an invalid UTF-8 byte",
        "a truncated UTF-8 sequence",
        "an empty body",
        "a body of whitespace",
        "two documents",
        "a trailing comma",
        "single quotes",
        "a raw control character in a string",
        "nesting 100000 deep",
        "a 5000-digit integer",
    ],
)
def test_malformed_bodies_are_refused_with_a_one_line_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedJSON) as caught:
        parse_json_strict(body)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message and message.strip() == message


def test_a_utf16_body_is_refused_although_json_loads_would_guess_it() -> None:
    body = json.dumps({"a": "Қ"}).encode("utf-16")
    assert json.loads(body) == {"a": "Қ"}
    with pytest.raises(MalformedJSON, match="not UTF-8"):
        parse_json_strict(body)


def test_malformed_json_is_a_value_error() -> None:
    assert issubclass(MalformedJSON, ValueError)


def test_a_deeply_nested_body_with_a_surrogate_escape_is_checked_without_recursion() -> None:
    body = b"[" * 900 + b'"\\ud83c\\udffa"' + b"]" * 900
    value = parse_json_strict(body)
    for _ in range(900):
        value = value[0] if isinstance(value, list) else value
    assert value == "\U0001f3fa"


def test_a_reason_reads_as_one_sentence_with_line_and_column() -> None:
    with pytest.raises(MalformedJSON) as caught:
        parse_json_strict(b'{"a": "tab\there"}')
    assert str(caught.value) == "Invalid control character at line 1 column 11"
