"""What both phone servers (the museum's ``field-server serve`` and the camp laptop's
``field-client collect serve``) must do alike for a phone, written once: each check takes the
receiver under test, asserts what holds on both, and returns what a test file goes on to
check the way only its receiver can (the server's submission listing, the laptop's store).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests import media_factory as make
from tests.e2e.collect_phone import (
    PHOTO,
    XXE,
    Answer,
    Phone,
    Refusal,
    assert_refused,
    instance,
    new_instance_id,
    submission_body,
)

__all__ = [
    "KAZAKH_PHOTO",
    "LOT_PHOTO",
    "NEW_SITE",
    "Conversation",
    "Edit",
    "Receiver",
    "Sent",
    "check_a_conflict",
    "check_a_key_refused",
    "check_a_photo_name",
    "check_a_refusal",
    "check_a_replay",
    "check_a_stale_form_lands",
    "check_one_connection_in_turn",
    "check_phones_at_once",
    "declare_and_store_nothing",
    "edit_by_deprecated_id",
    "edit_with_its_photo_again",
    "first_conversation",
    "kill_during_a_submission",
    "kill_moments",
    "send_a_bomb_and_a_fake",
    "send_an_unknown_material",
    "send_six_times_at_once",
    "send_the_photos_after",
    "send_the_xml_first",
]


class Receiver(Protocol):
    """What a phone server under test offers the checks."""

    def new_phone(self) -> tuple[dict[str, Any], Phone]:
        """A new key for the recorder's phone, and the phone configured with it."""
        ...

    def revoke(self, key: Mapping[str, Any]) -> None:
        """Stop a key at once, as for a lost phone."""
        ...

    def record(self, record_uuid: str) -> dict[str, Any] | None:
        """The record by this uuid (its fields under ``data``), or None when there is none."""
        ...

    def held(self) -> dict[str, int]:
        """Counts of what is stored, which a refused request must leave as they were."""
        ...

    def photo_path(self, sha256: str) -> Path:
        """Where the stored bytes with this SHA-256 are."""
        ...


NEW_SITE: dict[str, Any] = {
    "code": "KNR",
    "name": "Қаражар қорымы",
    "boundary": {
        "type": "Polygon",
        "coordinates": [
            [[67.80, 48.15], [67.82, 48.15], [67.82, 48.17], [67.80, 48.17], [67.80, 48.15]]
        ],
    },
}
"""A site added to the expedition after the phones have their form: it changes the form."""


LOT_PHOTO = "ULY26-0012..0014.jpg"
"""A lot's photo named by its range of find numbers, as a client keeping file names sends
it: two dots inside a plain file name."""

KAZAKH_PHOTO = "Қола пышақ, сурет 1.jpg"


def assert_stored(receiver: Receiver, content: bytes) -> None:
    assert receiver.photo_path(make.sha256(content)).read_bytes() == content


# -- the conversation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    key: dict[str, Any]
    instance_id: str
    xml: bytes


def first_conversation(receiver: Receiver, limit: int, jpeg: bytes) -> Conversation:
    """A new phone's whole conversation: the form list, the form, the size limit, and a find
    with its photo filed."""
    key, phone = receiver.new_phone()
    listing, entries = phone.form_list()
    assert listing.status == 200 and listing.openrosa
    assert [e.form_id for e in entries] == ["qazba_find"]
    (entry,) = entries
    assert entry.download_url == f"{key['server_url']}/forms/qazba_find.xml"
    form = phone.download(entry)  # its md5 checked against the list's hash
    assert form.status == 200 and form.openrosa
    assert f'version="{entry.version}"'.encode() in form.body

    limits = phone.limits()
    assert (limits.status, limits.body) == (204, b"")
    assert limits.openrosa
    assert int(limits.headers["x-openrosa-accept-content-length"]) == limit

    instance_id = new_instance_id()
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    sent = phone.submit(xml, {PHOTO: jpeg})
    assert sent.status == 201, sent.body
    assert sent.openrosa and sent.nature == "submit_success"
    assert sent.message == "The find is filed."
    assert_stored(receiver, jpeg)
    return Conversation(key, instance_id, xml)


def check_a_replay(receiver: Receiver, phone: Phone, jpeg: bytes) -> str:
    """Collect retrying a request whose answer it missed: 201 each time, nothing written
    again. Returns the instanceID."""
    instance_id = new_instance_id()
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    assert phone.submit(xml, {PHOTO: jpeg}).status == 201
    before = receiver.held()
    for _ in range(2):
        again = phone.submit(xml, {PHOTO: jpeg})
        assert again.status == 201 and again.nature == "submit_success"
        assert receiver.held() == before
    return instance_id


@dataclass(frozen=True)
class Edit:
    first_id: str
    edited_id: str
    first: dict[str, Any]
    """The find as the first instance filed it."""
    find: dict[str, Any]
    """The find after the edit."""


def edit_by_deprecated_id(receiver: Receiver, phone: Phone) -> Edit:
    """An edited instance naming the first by deprecatedID changes that find, which keeps
    its number, and makes no find of its own."""
    first_id, edited_id = new_instance_id(), new_instance_id()
    assert phone.submit(instance(instance_id=first_id, photos=())).status == 201
    first = receiver.record(first_id)
    assert first is not None
    edit = instance(
        instance_id=edited_id,
        deprecated_id=first_id,
        photos=(),
        answers={"notes": "Жүзі қайта өлшенді", "length_mm": "86"},
    )
    assert phone.submit(edit).status == 201
    find = receiver.record(first_id)
    assert find is not None
    assert (find["data"]["notes"], find["data"]["length_mm"]) == ("Жүзі қайта өлшенді", 86)
    assert find["data"]["find_number"] == first["data"]["find_number"]  # no new number
    assert receiver.record(edited_id) is None
    return Edit(first_id, edited_id, first, find)


def check_a_conflict(receiver: Receiver, phone: Phone, photos: Mapping[str, bytes]) -> None:
    """Other XML under an instanceID already filed (with ``photos``) is 409 and changes
    nothing."""
    instance_id = new_instance_id()
    assert phone.submit(instance(instance_id=instance_id, photos=())).status == 201
    before = receiver.held()
    other = instance(instance_id=instance_id, photos=tuple(photos), answers={"notes": "басқа"})
    assert_refused(phone.submit(other, photos), 409)
    assert receiver.held() == before
    assert receiver.record(instance_id)["data"]["notes"] is None  # type: ignore[index]


def send_the_xml_first(receiver: Receiver, phone: Phone) -> tuple[str, bytes]:
    """The XML alone, marked incomplete, as Collect splits a large submission: the find is
    filed without its photo. Returns the instanceID and the XML."""
    instance_id = new_instance_id()
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    first = phone.submit(xml, incomplete=True)
    assert first.status == 201
    assert first.message == f"The find is filed. Waiting for photos: {PHOTO}."
    assert receiver.record(instance_id)["data"]["photos"] == []  # type: ignore[index]
    return instance_id, xml


def send_the_photos_after(
    receiver: Receiver, phone: Phone, instance_id: str, xml: bytes, photo: bytes
) -> dict[str, Any]:
    """The second request, with the photo, completes the find; returns the find."""
    second = phone.submit(xml, {PHOTO: photo})
    assert second.status == 201 and second.message == "The find is filed."
    find = receiver.record(instance_id)
    assert find is not None and find["data"]["photos"] == [make.sha256(photo)]
    assert_stored(receiver, photo)
    return find


def check_a_key_refused(receiver: Receiver, phones: Iterable[Phone], jpeg: bytes) -> None:
    """Phones whose key is revoked or was never issued are refused with 403 at every step,
    and nothing is stored."""
    before = receiver.held()
    for refused in phones:
        assert_refused(refused.form_list()[0], 403)
        assert_refused(refused.request("GET", f"{refused.path}/forms/qazba_find.xml"), 403)
        limits = refused.limits()
        assert limits.status == 403 and limits.openrosa
        sent = refused.submit(
            instance(instance_id=new_instance_id(), photos=(PHOTO,)), {PHOTO: jpeg}
        )
        assert_refused(sent, 403)
    assert receiver.held() == before


def check_a_stale_form_lands(receiver: Receiver, phone: Phone, old: str) -> str:
    """Once the receiver has the new site, its form is another version that offers it, and
    an instance of the ``old`` version is still filed. Returns the instanceID."""
    assert phone.form_version() != old
    _, (entry,) = phone.form_list()
    assert b"KNR" in phone.download(entry).body  # the new site is a choice of the form
    instance_id = new_instance_id()
    stale = phone.submit(instance(instance_id=instance_id, photos=(), version=old))
    assert stale.status == 201 and stale.message == "The find is filed."
    assert receiver.record(instance_id)["data"]["site_code"] == "DMB"  # type: ignore[index]
    return instance_id


@dataclass(frozen=True)
class Sent:
    """A request's instanceID and what was held before and after it."""

    instance_id: str
    before: dict[str, int]
    after: dict[str, int]


def edit_with_its_photo_again(receiver: Receiver, phone: Phone, photo: bytes) -> Sent:
    """An edit sent with every attachment again, as Collect sends it: the find changes and
    keeps its one photo. Returns what was held around the edit (``instance_id`` is the
    find's)."""
    first_id, edited_id = new_instance_id(), new_instance_id()
    assert (
        phone.submit(instance(instance_id=first_id, photos=(PHOTO,)), {PHOTO: photo}).status == 201
    )
    before = receiver.held()
    edit = instance(
        instance_id=edited_id, deprecated_id=first_id, photos=(PHOTO,),
        answers={"condition": "Тазартылған"},
    )  # fmt: skip
    assert phone.submit(edit, {PHOTO: photo}).status == 201
    find = receiver.record(first_id)
    assert find is not None
    assert (find["data"]["condition"], find["data"]["photos"]) == (
        "Тазартылған",
        [make.sha256(photo)],
    )
    return Sent(first_id, before, receiver.held())


def send_six_times_at_once(receiver: Receiver, phone: Phone, photo: bytes) -> Sent:
    """One instance with its photo sent six times at once, each answered 201."""
    instance_id = new_instance_id()
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    before = receiver.held()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: phone.submit(xml, {PHOTO: photo}), range(6)))
    assert [a.status for a in answers] == [201] * 6
    assert receiver.record(instance_id) is not None
    return Sent(instance_id, before, receiver.held())


def check_phones_at_once(receiver: Receiver) -> None:
    """Six phones sending at once get find numbers of their own."""
    phones = [receiver.new_phone()[1] for _ in range(6)]
    sent = [(p, new_instance_id()) for p in phones]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda s: s[0].submit(instance(instance_id=s[1], photos=())), sent))
    assert [a.status for a in answers] == [201] * 6
    numbers = [receiver.record(i)["data"]["find_number"] for _, i in sent]  # type: ignore[index]
    assert len(set(numbers)) == 6


def check_one_connection_in_turn(receiver: Receiver, phone: Phone, photo: bytes) -> None:
    """HEAD, a submission, a hostile one, a replay and the form list on one kept-alive
    connection are each answered in turn."""
    instance_id = new_instance_id()
    body, content_type = submission_body(
        instance(instance_id=instance_id, photos=(PHOTO,)), {PHOTO: photo}
    )
    hostile, hostile_type = submission_body(XXE, {})
    answers = phone.on_one_connection(
        [
            ("HEAD", "/submission", None, {}),
            ("POST", "/submission", body, {"Content-Type": content_type}),
            ("POST", "/submission", hostile, {"Content-Type": hostile_type}),
            ("POST", "/submission", body, {"Content-Type": content_type}),
            ("GET", "/formList", None, {}),
        ]
    )
    assert [a.status for a in answers] == [204, 201, 400, 201, 200]
    assert all(a.openrosa for a in answers)
    find = receiver.record(instance_id)
    assert find is not None and find["data"]["photos"] == [make.sha256(photo)]
    assert_stored(receiver, photo)


def check_a_photo_name(receiver: Receiver, phone: Phone, name: str, photo: bytes) -> None:
    """A photo sent under ``name`` joins its find and is stored."""
    instance_id = new_instance_id()
    answer = phone.submit(instance(instance_id=instance_id, photos=(name,)), {name: photo})
    assert answer.status == 201, answer.body
    assert answer.message == "The find is filed."
    find = receiver.record(instance_id)
    assert find is not None and find["data"]["photos"] == [make.sha256(photo)]
    assert_stored(receiver, photo)


# -- a receiver killed in the middle of a submission ------------------------------------------


def kill_moments(*pauses: float) -> dict[str, tuple[float, float]]:
    """When a kill comes, by name: the share of the body sent and the pause after it, in
    seconds. Half the body, the whole of it at once, and the whole of it followed by each
    of ``pauses``."""
    moments = {"half the body": (0.5, 0.0), "the whole body, at once": (1.0, 0.0)}
    moments.update({f"the whole body, after {round(p * 1000)} ms": (1.0, p) for p in pauses})
    return moments


def kill_during_a_submission(
    receiver: Receiver,
    phone: Phone,
    share: float,
    pause: float,
    kill: Callable[[], None],
    start: Callable[[], None],
) -> Sent:
    """A submission with a photo new to the receiver, of which ``share`` of the body is sent
    before, ``pause`` seconds later, the receiver is killed (``kill``, SIGKILL: nothing is
    flushed or rolled back) and started again (``start``); the phone's retry is filed with
    its photo. Returns what was held before the kill and after the retry."""
    instance_id = new_instance_id()
    # large enough to be in flight a while, and new to the receiver each time
    photo = make.noise_jpeg_bytes(1200, 900, seed=int(instance_id[:8], 16))
    xml = instance(instance_id=instance_id, photos=(PHOTO,))
    body, content_type = submission_body(xml, {PHOTO: photo})
    before = receiver.held()
    connection = phone.start_post(body, content_type, int(len(body) * share))
    try:
        time.sleep(pause)
        kill()
    finally:
        connection.close()
    start()
    if share < 1:
        assert receiver.held() == before  # nothing of a request whose body never arrived
    retry = phone.submit(xml, {PHOTO: photo})
    assert retry.status == 201, retry.body
    assert retry.message == "The find is filed."
    find = receiver.record(instance_id)
    assert find is not None and find["data"]["photos"] == [make.sha256(photo)]
    assert_stored(receiver, photo)
    return Sent(instance_id, before, receiver.held())


# -- what is refused, storing nothing ----------------------------------------------------------


def check_a_refusal(receiver: Receiver, phone: Phone, refusal: Refusal) -> None:
    before = receiver.held()
    answer = phone.post(refusal.body, refusal.content_type)
    assert_refused(answer, refusal.status, refusal.says)
    assert receiver.held() == before


def declare_and_store_nothing(receiver: Receiver, phone: Phone, declared: int) -> Answer:
    """A submission whose Content-Length announces ``declared`` bytes, of which only the
    first thousand come: the answer, after which nothing is stored."""
    before = receiver.held()
    body, content_type = submission_body(instance(instance_id=new_instance_id(), photos=()), {})
    answer = phone.post_declaring(declared, content_type, body[:1000])  # the rest never comes
    assert receiver.held() == before
    return answer


# -- what is kept for a reviewer ---------------------------------------------------------------


def send_an_unknown_material(receiver: Receiver, phone: Phone) -> tuple[Sent, bytes]:
    """A material outside the vocabulary: the instance is taken (201) and kept for a
    reviewer, and no find is made. Returns what was held around it and the XML sent."""
    instance_id = new_instance_id()
    xml = instance(instance_id=instance_id, photos=(), answers={"material": "plutonium"})
    before = receiver.held()
    answer = phone.submit(xml)
    assert answer.status == 201 and answer.nature == "submit_success"
    assert answer.message == (
        "Kept for a reviewer, no find made yet: "
        "material: 'plutonium' is not in the material vocabulary"
    )
    assert receiver.record(instance_id) is None  # no find until a reviewer corrects it
    return Sent(instance_id, before, receiver.held()), xml


def send_a_bomb_and_a_fake(receiver: Receiver, phone: Phone) -> tuple[Sent, dict[str, bytes]]:
    """A JPEG bomb and a file that is no photo: the find is filed without them, the answer
    names each with its digest, and their bytes are kept as received. Returns what was held
    around the request and the files by name."""
    bomb, fake = make.jpeg_bomb_bytes(), b"not a photo, whatever its name says\n"
    files = {"1720934921312.jpg": bomb, "1720934987411.jpg": fake}
    instance_id = new_instance_id()
    before = receiver.held()
    answer = phone.submit(instance(instance_id=instance_id, photos=tuple(files)), files)
    assert answer.status == 201
    assert answer.message.startswith("The find is filed; a reviewer will look at: photo:")
    for name, content in files.items():
        assert f"photo {name} (sha256 {make.sha256(content)})" in answer.message
        assert_stored(receiver, content)  # though no photo of the find shows them
    find = receiver.record(instance_id)
    assert find is not None and find["data"]["photos"] == []
    return Sent(instance_id, before, receiver.held()), files
