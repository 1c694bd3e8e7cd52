"""A photo is readable through an expedition that holds it (DESIGN §4): one of its records
names it and one of its members sent the bytes. Naming another expedition's digest gives
nothing: not the photo, not its thumbnail, not what its file says on the find page, and
``missing`` still asks for it until the bytes are sent."""

from __future__ import annotations

import copy

from tests import media_factory as media
from tests.integration import tus_client as tus
from tests.integration.conftest import World, sample_batch
from tests.integration.web_session import browser


def photo_of_uly(world: World) -> str:
    """A ULY-2026 photo with the camera's GPS, recorded and sent by its recorder."""
    return tus.stored_photo(world, "recorder", media.jpeg_bytes(gps=media.DMS_FIX))


def get_photo(world: World, who: str, digest: str, suffix: str = "") -> int:
    url = f"/api/v1/photos/{digest}{suffix}"
    return world.client.get(url, headers=world.headers(who), buffered=True).status_code


def test_naming_another_expeditions_digest_in_a_photo_record_reads_nothing(
    world: World,
) -> None:
    digest = photo_of_uly(world)
    assert get_photo(world, "outsider", digest) == 404
    survey = media.survey_record("ZHZ-2026")
    claimed = media.photo_record(survey["uuid"], media.jpeg_bytes(gps=media.DMS_FIX))
    claimed["data"]["sha256"] = digest
    results = world.pushed("outsider", [survey, claimed])["results"]
    assert [r["status"] for r in results] == ["created", "created"]  # a record may name any
    assert get_photo(world, "outsider", digest) == 404
    assert get_photo(world, "outsider", digest, "/thumb") == 404
    assert browser(world, "outsider").client.get(f"/photos/{digest}").status_code == 404
    # the expedition that holds it, and the museum, still read it
    assert get_photo(world, "recorder", digest) == 200
    assert get_photo(world, "leader", digest) == 200
    assert get_photo(world, "reviewer", digest) == 200


def test_a_find_naming_another_expeditions_digest_shows_nothing_of_its_file(
    world: World,
) -> None:
    digest = photo_of_uly(world)
    zhz = sample_batch("ZHZ-2026")
    find = copy.deepcopy(zhz[1])
    find["data"]["photos"] = [digest]
    world.pushed("outsider", [zhz[0], find])
    page = browser(world, "outsider").get(f"/finds/{find['uuid']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "48.1933" not in text and "67.8447" not in text  # the camera's GPS of the photo
    assert f"/photos/{digest}/thumb" not in text
    # the museum sees the photo the find names, with what its file says
    museum = browser(world, "reviewer").get(f"/finds/{find['uuid']}").get_data(as_text=True)
    assert "48.1933" in museum or "48,1933" in museum


def test_missing_is_answered_for_the_caller_and_sending_the_bytes_takes_possession(
    world: World,
) -> None:
    data = media.jpeg_bytes(gps=media.DMS_FIX)
    digest = tus.stored_photo(world, "recorder", data)

    def missing(who: str) -> list[str]:
        answer = world.client.post(
            "/api/v1/photos/missing", json={"sha256": [digest]}, headers=world.headers(who)
        )
        assert answer.status_code == 200
        return list(answer.get_json()["missing"])

    assert missing("recorder") == []
    assert missing("outsider") == [digest]  # stored, but not for them: nothing is told
    tus.upload(world, "outsider", data)  # the same bytes, sent by the ZHZ recorder
    assert missing("outsider") == []
    assert get_photo(world, "outsider", digest) == 200  # they sent it: they read it
    stored = [p for p in (world.runtime.config.photos_dir).rglob("*") if p.name == digest]
    assert len(stored) == 1  # one copy in the store however many send it
