"""The camp laptop judges a phone's position against the expedition's work region, from the
site boundaries it pulled, as the server does: a swapped pair that still falls inside the
country is caught near sites in the west of Kazakhstan."""

from __future__ import annotations

from pathlib import Path

from werkzeug.test import Client

from field_client import number_blocks, reference, surveys
from field_client.phone_server import CampServer, PhoneApp
from field_client.phones import issue_key
from field_client.store import Store
from tests.unit.collect.conftest import reference_document
from tests.unit.collect.instances import instance
from tests.unit.field_client.test_phone_server import CODE, post

# a site near Atyrau, where longitude and latitude are both between 46 and 52
WESTERN_SITE = {
    "expedition_code": CODE,
    "code": "ATR",
    "name": "Атырау маңы",
    "boundary": {
        "type": "Polygon",
        "coordinates": [[[51.90, 47.10], [51.92, 47.10], [51.92, 47.12], [51.90, 47.10]]],
    },
}


def test_a_swapped_position_inside_the_country_is_caught_near_a_western_site(
    tmp_path: Path,
) -> None:
    document = reference_document()
    document["sites"] = [WESTERN_SITE]
    store = Store.open(tmp_path / "field-client.sqlite3")
    with store.transaction() as connection:
        reference.store_reference(connection, document)
        number_blocks.add_block(connection, number_blocks.Block(CODE, 1, 10, "ULY26-{n:04d}"))
        surveys.start(connection, CODE, "Атырау", ["aigerim"], None, None)
        issued = issue_key(connection, "aigerim", "A52", "http://10.0.0.5:8765")
    phone = Client(PhoneApp(CampServer(tmp_path, store.path)))
    # ODK writes "lat lon": 51.91 47.11 is a phone (or a hand) that put longitude first
    swapped = instance(photos=(), answers={"site_code": "ATR", "position": "51.91 47.11 -20 3"})
    answer = post(phone, issued.path, swapped)
    assert answer.status_code == 201
    text = answer.get_data(as_text=True)
    assert "look swapped" in text  # kept for a reviewer, not filed as a find at (47.11, 51.91)
    with store.reading() as connection:
        finds = connection.execute("SELECT count(*) FROM record WHERE type = 'find'").fetchone()
    assert finds == (0,)
    store.close()
