"""A submission of exactly the length ``HEAD …/submission`` tells a phone it may send is taken
by a real ``field-server serve`` (waitress, and werkzeug's multipart parser behind it), and
one byte more is refused with an OpenRosa answer (DESIGN §9)."""

from __future__ import annotations

import pytest

from tests import media_factory as make
from tests.e2e.collect_phone import (
    Phone,
    assert_refused,
    instance,
    new_instance_id,
    submission_body,
)
from tests.e2e.test_collect_server import PHOTO, Museum, museum  # noqa: F401

pytestmark = pytest.mark.e2e


def padded_to(length: int, instance_id: str) -> tuple[bytes, str]:
    """A body of ``length`` bytes: the photo padded after its end, as phones' trailers are."""
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    jpeg = make.jpeg_bytes(seed=31)
    body, _ = submission_body(xml, {PHOTO: jpeg})
    body, content_type = submission_body(xml, {PHOTO: jpeg + bytes(length - len(body))})
    assert len(body) == length
    return body, content_type


def test_a_body_of_exactly_the_told_length_is_filed_and_one_byte_more_is_413(
    museum: Museum,  # noqa: F811
) -> None:
    phone = Phone(museum.new_phone()[0]["server_url"])
    told = int(phone.limits().headers["x-openrosa-accept-content-length"])

    instance_id = new_instance_id()
    answer = phone.post(*padded_to(told, instance_id))
    assert answer.status == 201, answer.body
    assert answer.openrosa and answer.nature == "submit_success"
    assert museum.record(instance_id) is not None

    before = museum.held()
    over = phone.post(*padded_to(told + 1, new_instance_id()))
    assert_refused(over, 413)
    assert museum.held() == before
