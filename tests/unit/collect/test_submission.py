"""Submitted form instances are read by local name, and hostile or broken ones are refused
with a one-line reason before anything could be stored."""

from __future__ import annotations

import time

import pytest

from field_core.collect.submission import (
    MAX_SUBMISSION_BYTES,
    SubmissionError,
    SubmissionTooLarge,
    parse_submission,
)
from tests.unit.collect.instances import ANSWERS, INSTANCE_ID, instance

DEPRECATED = "9d0c4a3b-1e2f-4a5b-8c7d-6e5f4a3b2c1d"


@pytest.mark.parametrize("namespace", [False, True], ids=["Collect", "XForms namespace"])
def test_an_instance_is_read_with_or_without_the_xforms_namespace(namespace: bool) -> None:
    xml = instance(namespace=namespace)
    submission = parse_submission(xml)
    assert submission.form_id == "qazba_find"
    assert submission.is_find_form
    assert submission.version == "ref-61123016874e"
    assert submission.instance_id == INSTANCE_ID
    assert submission.deprecated_id is None
    assert submission.photo_files == ("1720934921312.jpg", "1720934987411.jpg")
    assert submission.xml == xml
    for name, value in ANSWERS.items():
        assert submission.fields[name] == value
    assert "instanceID" not in submission.fields and "photo" not in submission.fields


def test_an_edit_names_the_instance_it_replaces() -> None:
    submission = parse_submission(instance(deprecated_id=DEPRECATED))
    assert submission.deprecated_id == DEPRECATED


def test_meta_in_the_openrosa_namespace() -> None:
    xml = instance().replace(b"<meta>", b"<orx:meta>").replace(b"</meta>", b"</orx:meta>")
    xml = xml.replace(b"<instanceID>", b"<orx:instanceID>")
    xml = xml.replace(b"</instanceID>", b"</orx:instanceID>")
    assert parse_submission(xml).instance_id == INSTANCE_ID


def test_a_foreign_form_is_recognised() -> None:
    submission = parse_submission(instance(form_id="household_survey"))
    assert submission.form_id == "household_survey"
    assert not submission.is_find_form


def test_a_repeat_without_a_photo_names_no_file() -> None:
    xml = instance(photos=("a.jpg",)).replace(b"</find>", b"<photos><photo/></photos></find>")
    assert parse_submission(xml).photo_files == ("a.jpg",)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE find [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<find id="qazba_find"><notes>&x;</notes></find>',
            "DOCTYPE or ENTITY",
        ),
        (
            b'<!DOCTYPE find SYSTEM "http://example.org/find.dtd"><find id="qazba_find"/>',
            "DOCTYPE or ENTITY",
        ),
        (instance()[:-40], "not well-formed XML"),
        (b"", "empty"),
        (b"\xff\xfe<find/>", "not well-formed XML"),
        (instance().replace(b' id="qazba_find"', b""), "no id attribute"),
        (instance().replace(f"uuid:{INSTANCE_ID}".encode(), b""), "no meta/instanceID"),
        (instance(instance_id="not-a-uuid"), "is not uuid:<UUID>"),
        (instance(deprecated_id="x"), "meta/deprecatedID"),
        (instance(photos=("../../etc/passwd",)), "not a plain file name"),
        (instance(photos=("a\nb.jpg",)), "not a plain file name"),
        (instance().replace(b"<notes/>", b"<notes/><trench>2</trench>"), "answers 'trench' twice"),
    ],
    ids=[
        "XXE",
        "external DTD",
        "truncated",
        "empty",
        "not text",
        "no form id",
        "no instanceID",
        "bad instanceID",
        "bad deprecatedID",
        "path as photo",
        "line break in photo name",
        "answered twice",
    ],
)
def test_bad_instances_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(SubmissionError, match=reason) as caught:
        parse_submission(body)
    assert "\n" not in str(caught.value)
    assert not isinstance(caught.value, SubmissionTooLarge)


def test_a_billion_laughs_is_refused_fast() -> None:
    levels = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    body = (
        f'<?xml version="1.0"?><!DOCTYPE find [<!ENTITY lol0 "lol">{levels}]>'
        '<find id="qazba_find"><notes>&lol9;</notes></find>'
    ).encode()
    started = time.perf_counter()
    with pytest.raises(SubmissionError, match="DOCTYPE or ENTITY"):
        parse_submission(body)
    assert time.perf_counter() - started < 0.1


def test_an_instance_over_the_limit_is_refused_before_parsing() -> None:
    body = instance(answers={"notes": "ж" * MAX_SUBMISSION_BYTES})
    with pytest.raises(SubmissionTooLarge, match="above the 1,048,576"):
        parse_submission(body)
    assert parse_submission(instance(), max_bytes=len(instance())).instance_id == INSTANCE_ID
    with pytest.raises(SubmissionTooLarge):
        parse_submission(instance(), max_bytes=len(instance()) - 1)


def test_answers_keep_kazakh_text_as_written() -> None:
    submission = parse_submission(instance(answers={"notes": "Әғқңөұүһі — 3 < 4 & «тас»"}))
    assert submission.fields["notes"] == "Әғқңөұүһі — 3 < 4 & «тас»"
