"""What both phone servers take from the OpenRosa protocol: the answer's XML, and which file
names an attachment may have, one rule for the request's parts and the instance's answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from field_core.collect.openrosa import OPENROSA_RESPONSE_NS, message_xml, plain_file_name
from field_core.collect.submission import SubmissionError, parse_submission
from tests.unit.collect.instances import instance

TAKEN = [
    "1720934921312.jpg",  # Collect's own naming: the time the photo was taken
    "Қола пышақ, сурет 1.jpg",
    "ULY26-0012..0014.jpg",  # a lot's photo named by its range of numbers
    "..jpg",
    "x" * 251 + ".jpg",
]
REFUSED = [
    "..",
    ".",
    "../1720934921312.jpg",
    "DCIM/1720934921312.jpg",
    "..\\evil.jpg",
    "a\nb.jpg",
    "\u202egpj.exe",  # a right-to-left override makes exe.jpg of it on screen
    "x" * 252 + ".jpg",
]


@pytest.mark.parametrize("name", TAKEN, ids=repr)
def test_a_name_within_one_folder_is_taken_as_a_part_and_as_a_photo_answer(name: str) -> None:
    assert plain_file_name(name)
    # the instance naming the same file is taken too: never a part taken and its answer not
    assert parse_submission(instance(photos=(name,))).photo_files == (name,)


@pytest.mark.parametrize("name", REFUSED, ids=repr)
def test_a_path_or_a_name_that_shows_as_another_is_refused_in_both_places(name: str) -> None:
    assert not plain_file_name(name)
    with pytest.raises(SubmissionError, match="not a plain file name"):
        parse_submission(instance(photos=(name,)))


def test_a_part_named_with_a_nul_is_refused() -> None:
    assert not plain_file_name("a\x00.jpg")  # an instance cannot even hold one: not XML


def test_a_form_field_without_a_file_name_passes() -> None:
    assert plain_file_name("")


def test_the_answer_is_an_openrosa_response_with_its_message() -> None:
    root = ET.fromstring(message_xml("Қазба жазылды", "submit_success"))
    assert root.tag == f"{{{OPENROSA_RESPONSE_NS}}}OpenRosaResponse"
    (message,) = list(root)
    assert (message.text, message.get("nature")) == ("Қазба жазылды", "submit_success")
    (plain,) = list(ET.fromstring(message_xml("no")))
    assert plain.get("nature") is None
