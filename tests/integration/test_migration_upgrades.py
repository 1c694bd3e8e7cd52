"""Upgrades keep data: a database at each earlier revision, filled as that revision's code filled
it (migration_fixtures), is upgraded to head and read back through today's API.

Empty schemas going up and down prove only that the DDL runs; these tests prove that what a
museum already holds comes through every later migration with the same values: records and
their revisions, conflicts, flags and states, the people's passwords and tokens, photos, review
decisions, the register, and the derived rows (grid keys, find sheets) today's code reads.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from field_server.adapters.database import make_engine
from field_server.adapters.schema_migration import (
    _alembic_config,
    current_revision,
    head_revision,
    upgrade_database,
)
from field_server.app import create_app
from field_server.config import ServerConfig
from tests import conftest as shared
from tests.integration import tus_client
from tests.integration.migration_fixtures import (
    ACT_RECEIVED_BY,
    AMENDED_STORAGE,
    AMENDMENT_REASON,
    CAMP_RECORDER,
    CODE,
    CONFLICTING_NOTES,
    DEVICE_CAMP,
    DEVICE_LAPTOP,
    EDITED_NOTES,
    F_APPROVED,
    F_ARROWHEAD,
    F_EDITED,
    F_KNIFE,
    F_NEAR,
    F_PHOTO,
    F_REJECTED,
    F_RETYPED,
    LEADER,
    PASSWORD,
    PEOPLE,
    RECORDER,
    REGISTRAR,
    REJECTION,
    REVIEWER,
    REVISIONS,
    SCRYPT_COST,
    Stored,
    Written,
    at_least,
    photo_bytes,
    photo_sha256,
    upgrade_to,
    write_database,
)

KINDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


@dataclass
class Upgraded:
    """The app of today on a database written at ``written.revision`` and then upgraded."""

    written: Written
    app: Flask
    client: FlaskClient
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def revision(self) -> str:
        return self.written.revision

    def headers(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            response = self.client.post(
                "/api/v1/auth/token",
                json={"username": who, "password": PASSWORD, "device_name": "после обновления"},
            )
            assert response.status_code == 201, response.get_json()
            self.tokens[who] = response.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, url: str) -> Any:
        response = self.client.get(url, headers=self.headers(who))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    def pull(self, who: str, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        page = self.get(who, f"/api/v1/sync/pull?since={since}&limit=5000").get_json()
        assert page["more"] is False
        return page["changes"], page["cursor"]

    def push(self, who: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"device_id": DEVICE_LAPTOP, "batch_id": str(uuid.uuid4()), "records": records}
        response = self.client.post("/api/v1/sync/push", json=body, headers=self.headers(who))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


def _empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    shared.need_postgres()
    name = f"qazba_upgrade_{uuid.uuid4().hex[:12]}"
    shared._admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{shared.PG_HOST}:5432/{name}"
    finally:
        shared._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _upgraded(revision: str, kind: str, tmp_path: Path) -> Iterator[Upgraded]:
    """An empty database taken to ``revision``, filled as that revision's code filled it,
    upgraded to head, and today's app on it."""
    for url in _empty_database(kind, tmp_path):
        config = ServerConfig(
            data_dir=tmp_path / "data", database_url=url, secret_key="upgrade-test",
            scrypt_cost=SCRYPT_COST,
        )  # fmt: skip
        engine = make_engine(url)
        try:
            upgrade_to(engine, revision)
            assert current_revision(engine) == revision
            written = write_database(engine, revision, config.photos_dir)
            assert upgrade_database(engine) == head_revision()
        finally:
            engine.dispose()
        app = create_app(config)
        app.config["TESTING"] = True
        upgraded = Upgraded(written, app, app.test_client(), app.extensions["qazba"].uow.engine)
        try:
            yield upgraded
        finally:
            upgraded.engine.dispose()


@pytest.fixture(params=REVISIONS)
def revision(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=KINDS)
def upgraded(revision: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Upgraded]:
    yield from _upgraded(revision, request.param, tmp_path)


@pytest.fixture(params=[r for r in REVISIONS if at_least(r, "0004")])
def register_revision(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=KINDS)
def upgraded_register(
    register_revision: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Upgraded]:
    """Only the revisions that had the register (0004 on)."""
    yield from _upgraded(register_revision, request.param, tmp_path)


def test_every_revision_before_head_has_its_filled_database() -> None:
    """A new migration makes today's head an earlier revision: the fixture must then learn to
    fill a database at it, or the upgrade from it would go untested."""
    script = ScriptDirectory.from_config(_alembic_config())
    earlier = [r.revision for r in reversed(list(script.walk_revisions()))][:-1]
    assert list(REVISIONS) == earlier


# -- people -------------------------------------------------------------------------------------


def test_every_person_signs_in_with_the_password_set_before(upgraded: Upgraded) -> None:
    """The password hashes survive: each user gets a token with the old password, and a wrong
    password is still refused (so the check is not vacuous)."""
    for who in PEOPLE:
        upgraded.headers(who)
    refused = upgraded.client.post(
        "/api/v1/auth/token",
        json={"username": RECORDER, "password": PASSWORD + "x", "device_name": "x"},
    )
    assert refused.status_code == 401


def test_a_token_issued_before_the_upgrade_still_pulls(upgraded: Upgraded) -> None:
    response = upgraded.client.get(
        "/api/v1/sync/pull?since=0",
        headers={"Authorization": f"Bearer {upgraded.written.token}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.get_json()["changes"]) == len(upgraded.written.records)


# -- pull -----------------------------------------------------------------------------------------


def test_a_pull_hands_out_every_record_as_it_was_stored(upgraded: Upgraded) -> None:
    """Every record comes out with its change number, server_rev, data and state unchanged:
    the conflict, the flags, review statuses and the register number included."""
    changes, cursor = upgraded.pull(REVIEWER)
    expected = sorted(
        (stored.change() for stored in upgraded.written.records.values()),
        key=lambda change: change["seq"],
    )
    assert changes == expected
    assert cursor == upgraded.written.last_seq
    by_uuid = {change["uuid"]: change for change in changes}
    # the values the fixture meant to write, spelled out, so a fixture slip cannot hide here
    assert by_uuid[F_EDITED]["server_rev"] == 2
    assert by_uuid[F_EDITED]["data"]["notes"] == EDITED_NOTES
    [conflict] = by_uuid[F_EDITED]["state"]["conflicts"]
    assert (conflict["fields"], conflict["data"]["notes"]) == (["notes"], CONFLICTING_NOTES)
    assert by_uuid[F_RETYPED]["state"]["flags"][0]["code"] == "duplicate_find_number"
    approved = by_uuid[F_APPROVED]["state"]
    if at_least(upgraded.revision, "0004"):
        assert (approved["status"], approved["register_number"]) == ("accessioned", "КП 1/1")
    elif at_least(upgraded.revision, "0003"):
        assert (approved["status"], by_uuid[F_REJECTED]["state"]["status"]) == (
            "approved",
            "rejected",
        )
    else:
        assert approved["status"] == "synced"


def test_a_recorder_pulls_the_expedition_and_the_cursor_goes_on_from_there(
    upgraded: Upgraded,
) -> None:
    changes, cursor = upgraded.pull(RECORDER)
    assert {c["uuid"] for c in changes} == set(upgraded.written.records)
    assert cursor == upgraded.written.last_seq
    assert upgraded.pull(RECORDER, since=cursor) == ([], cursor)


# -- one find ------------------------------------------------------------------------------------


def test_a_find_shows_its_revisions_conflict_and_audit(upgraded: Upgraded) -> None:
    written = upgraded.written
    details = upgraded.get(REVIEWER, f"/api/v1/finds/{F_EDITED}").get_json()
    assert details["server_rev"] == 2
    assert details["data"] == written.records[F_EDITED].data
    first_notes = json.loads(written.revisions[F_EDITED][0]["data"])["notes"]
    assert first_notes != EDITED_NOTES
    # the API lists them oldest first
    assert [
        (r["server_rev"], r["origin"], r["device_id"], r["device_rev"], r["base_rev"], r["by"],
         r["data"]["notes"])
        for r in details["revisions"]
    ] == [
        (1, "device", DEVICE_LAPTOP, 1, 0, RECORDER, first_notes),
        (2, "device", DEVICE_LAPTOP, 2, 1, RECORDER, EDITED_NOTES),
    ]  # fmt: skip
    [conflict] = details["conflicts"]["open"]
    assert conflict["fields"] == ["notes"]
    assert conflict["data"]["notes"] == CONFLICTING_NOTES
    assert (conflict["device_id"], conflict["by"], conflict["base_rev"]) == (
        DEVICE_CAMP,
        CAMP_RECORDER,
        1,
    )
    assert details["state"]["open_conflicts"] == 1
    assert details["conflicts"]["resolved"] == []

    approved = upgraded.get(REVIEWER, f"/api/v1/finds/{F_APPROVED}").get_json()
    audit = [(a["action"], a["by"], a["detail"], a["reason"]) for a in approved["audit"]]
    expected: list[tuple[str, str, dict[str, Any], str | None]] = []
    if at_least(upgraded.revision, "0003"):
        expected.append(
            ("find.review", REVIEWER,
             {"server_rev": 2, "status": {"old": "synced", "new": "approved"},
              "decision": "approve"}, None)
        )  # fmt: skip
    if at_least(upgraded.revision, "0004"):
        expected.append(
            ("register.accession", REGISTRAR,
             {"server_rev": 3, "status": {"old": "approved", "new": "accessioned"},
              "register_number": {"old": None, "new": "КП 1/1"}, "act": "КП 1"}, "act КП 1")
        )  # fmt: skip
    assert audit == expected
    assert [r["origin"] for r in approved["revisions"]] == ["device"] + ["museum"] * len(expected)
    if at_least(upgraded.revision, "0003"):
        rejected = upgraded.get(REVIEWER, f"/api/v1/finds/{F_REJECTED}").get_json()
        assert rejected["state"]["status"] == "rejected"
        assert [a["reason"] for a in rejected["audit"]] == [REJECTION]


def test_the_audit_log_keeps_every_line(upgraded: Upgraded) -> None:
    with upgraded.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT action, subject, detail, reason FROM audit_log ORDER BY id")
        ).all()
    # the sign-ins of the tests come after the lines written before the upgrade
    assert [tuple(row) for row in rows[: len(upgraded.written.audit)]] == upgraded.written.audit


# -- exports ---------------------------------------------------------------------------------------


def expected_attributes(stored: Stored) -> dict[str, Any]:
    """What an export writes of a find, worked out from the data the fixture stored."""
    data, position = stored.data, stored.data["position"]

    def real(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        "find_number": data["find_number"],
        "uuid": stored.uuid,
        "survey_uuid": data["survey_uuid"],
        "site_code": data.get("site_code"),
        "trench": data.get("trench"),
        "context": data.get("context"),
        "kind": data["kind"],
        "material": data["material"],
        "object_name": data["object_name"],
        "description": data.get("description"),
        "quantity": data["quantity"],
        "weight_g": real(data.get("weight_g")),
        "length_mm": real(data.get("length_mm")),
        "width_mm": real(data.get("width_mm")),
        "height_mm": real(data.get("height_mm")),
        "condition": data.get("condition"),
        "elevation_m": real(position.get("elevation_m")),
        "depth_m": real(position.get("depth_m")),
        "horizontal_accuracy_m": real(position.get("horizontal_accuracy_m")),
        "vertical_accuracy_m": real(position.get("vertical_accuracy_m")),
        "method": position.get("method"),
        "found_on": data["found_on"],
        "recorded_at": data["recorded_at"],
        "recorded_by": data["recorded_by"],
        "photos": " ".join(data.get("photos") or []) or None,
        "notes": data.get("notes"),
        "status": stored.status,
        "register_number": stored.register_number,
        "flags": " ".join(f["code"] for f in stored.flags) or None,
    }


def test_the_geojson_export_holds_every_find_with_its_attributes(upgraded: Upgraded) -> None:
    """The exports read the find sheets 0006 filled from the stored finds."""
    body = upgraded.get(REVIEWER, f"/api/v1/expeditions/{CODE}/export.geojson").get_json()
    finds = {
        f["properties"]["uuid"]: f for f in body["features"] if f["properties"]["layer"] == "find"
    }
    written = upgraded.written.finds()
    assert set(finds) == {stored.uuid for stored in written}
    for stored in written:
        feature = finds[stored.uuid]
        properties = {k: v for k, v in feature["properties"].items() if k != "layer"}
        assert properties == expected_attributes(stored), stored.uuid
        position = stored.data["position"]
        assert feature["geometry"]["coordinates"] == [position["lon"], position["lat"]]
    assert finds[F_PHOTO]["properties"]["photos"] == photo_sha256()
    assert finds[F_EDITED]["properties"]["notes"] == EDITED_NOTES


def test_the_csv_export_holds_every_find_with_its_attributes(upgraded: Upgraded) -> None:
    response = upgraded.get(REVIEWER, f"/api/v1/expeditions/{CODE}/export.csv")
    rows = {row["uuid"]: row for row in csv.DictReader(io.StringIO(response.get_data(True)))}
    written = upgraded.written.finds()
    assert set(rows) == {stored.uuid for stored in written}
    for stored in written:
        row = rows[stored.uuid]
        for name, value in expected_attributes(stored).items():
            if value is None:
                assert row[name] == "", (stored.uuid, name)
            elif isinstance(value, float):
                assert float(row[name]) == pytest.approx(value), (stored.uuid, name)
            else:
                assert row[name] == str(value), (stored.uuid, name)


# -- register --------------------------------------------------------------------------------------


def test_the_register_entries_and_their_amendments_survive(upgraded_register: Upgraded) -> None:
    upgraded = upgraded_register
    entries = upgraded.get(REGISTRAR, "/api/v1/register/entries").get_json()
    [entry] = entries
    find = upgraded.written.records[F_APPROVED].data
    assert (entry["register_number"], entry["register_number_ascii"], entry["find_uuid"]) == (
        "КП 1/1",
        "KP 1/1",
        F_APPROVED,
    )
    assert entry["storage_location"] == AMENDED_STORAGE
    values = entry["values"]
    assert (values["object_name"], values["find_number"], values["weight_g"]) == (
        find["object_name"],
        find["find_number"],
        find["weight_g"],
    )
    assert values["received_by"] == ACT_RECEIVED_BY
    [amendment] = entry["amendments"]
    assert (amendment["field"], amendment["new"], amendment["reason"]) == (
        "storage_location",
        AMENDED_STORAGE,
        AMENDMENT_REASON,
    )
    act = upgraded.get(REGISTRAR, "/api/v1/register/acts/KP/1").get_json()
    assert act["expedition_code"] == CODE
    # the next act takes receipt 2: the fund's counter came through
    approve = upgraded.client.post(
        f"/api/v1/finds/{F_KNIFE}/review",
        json={"decision": "approve"},
        headers=upgraded.headers(REVIEWER),
    )
    assert approve.status_code == 200, approve.get_data(as_text=True)
    created = upgraded.client.post(
        "/api/v1/register/acts",
        json={"expedition_code": CODE, "fund": "KP", "find_uuids": [F_KNIFE]},
        headers=upgraded.headers(REGISTRAR),
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["act_number"] == 2


# -- duplicates and new pushes ---------------------------------------------------------------------


PLANTED = {tuple(sorted((F_PHOTO, F_NEAR))), tuple(sorted((F_ARROWHEAD, F_RETYPED)))}


def test_duplicate_detection_finds_the_planted_pairs_among_migrated_finds(
    upgraded: Upgraded,
) -> None:
    """Detection reads the find traits the migrations filled (0003) and re-keyed (0005); the
    pairs stored before the upgrade keep their ids and are not found again as new ones."""
    url = f"/api/v1/expeditions/{CODE}/duplicates"
    response = upgraded.client.post(url + "/detect", headers=upgraded.headers(REVIEWER))
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    stored_before = upgraded.written.candidate_ids
    assert report["added"] == (0 if stored_before else len(PLANTED))
    assert report["open"] == len(PLANTED)
    page = upgraded.get(REVIEWER, url).get_json()
    assert page["next"] is None
    candidates = page["candidates"]
    assert {tuple(c["find_uuids"]) for c in candidates} == PLANTED
    # the number typed twice is its number's group (0008 made the stored pair one)
    [group] = [c for c in candidates if c["find_number"] is not None]
    assert (group["find_number"], group["rules"]) == ("ULY26-0115", ["same_find_number"])
    assert tuple(group["find_uuids"]) == tuple(sorted((F_ARROWHEAD, F_RETYPED)))
    if stored_before:
        assert {tuple(c["find_uuids"]): c["id"] for c in candidates} == stored_before


F_EARRING = "7ecb9b9f-0ba4-4bd3-8383-d88dfa0d6781"  # ULY26-0108, context 104


def near_copy(stored: Stored, number: str, **changes: Any) -> dict[str, Any]:
    """The same object entered again in camp: a new uuid and number, 20 cm east."""
    position = stored.data["position"]
    return {
        "type": "find",
        "uuid": str(uuid.uuid4()),
        "base_rev": 0,
        "rev": 1,
        "data": {
            **stored.data,
            "find_number": number,
            "recorded_by": CAMP_RECORDER,
            "position": {**position, "lon": position["lon"] + 2.7e-6},
            **changes,
        },
    }


def test_a_push_after_the_upgrade_takes_the_next_change_numbers(upgraded: Upgraded) -> None:
    """New finds get the change numbers after the last one written before the upgrade, and are
    compared with the old finds through the grid keys they were filed under (a find with a
    context looks up context keys, one without looks up area keys); an old find sent again as
    it is stands unchanged, so its stored content hash is the one today's code computes."""
    written = upgraded.written
    with_context = near_copy(written.records[F_KNIFE], "ULY26-0190")
    without_context = near_copy(written.records[F_EARRING], "ULY26-0191", context=None)
    again = {"type": "find", "uuid": F_PHOTO, "base_rev": 1, "rev": 1,
             "data": written.records[F_PHOTO].data}  # fmt: skip
    answer = upgraded.push(RECORDER, [with_context, without_context, again])
    by_uuid = {r["uuid"]: r for r in answer["results"]}
    assert [r["status"] for r in answer["results"]] == ["created", "created", "unchanged"]
    assert answer["cursor"] == written.last_seq + 2
    for copy, original in ((with_context, F_KNIFE), (without_context, F_EARRING)):
        flagged = [f["other_uuid"] for f in by_uuid[copy["uuid"]].get("flags", [])
                   if f["code"] == "duplicate_candidate"]  # fmt: skip
        assert flagged == [original], copy["data"]["find_number"]
    changes, cursor = upgraded.pull(LEADER, since=written.last_seq)
    assert [(c["seq"], c["uuid"], c["data"]) for c in changes] == [
        (written.last_seq + 1, with_context["uuid"], with_context["data"]),
        (written.last_seq + 2, without_context["uuid"], without_context["data"]),
    ]
    assert cursor == written.last_seq + 2
    exported = upgraded.get(REVIEWER, f"/api/v1/expeditions/{CODE}/export.geojson").get_json()
    uuids = {f["properties"].get("uuid") for f in exported["features"]}
    assert {with_context["uuid"], without_context["uuid"]} <= uuids


# -- photos ----------------------------------------------------------------------------------------


def test_the_photo_is_served_to_the_expedition_that_recorded_it(upgraded: Upgraded) -> None:
    """A member reads a photo through the index of photo records (0002 filled it from the
    stored photo records). Before 0002 the server held no files: the laptop sends it now."""
    sha = photo_sha256()
    if not at_least(upgraded.revision, "0002"):
        tus_client.upload(upgraded, RECORDER, photo_bytes())  # type: ignore[arg-type]
    response = upgraded.get(LEADER, f"/api/v1/photos/{sha}")
    served = response.get_data()
    response.close()  # the file is streamed from the store; close it before comparing
    assert served == photo_bytes()
    details = upgraded.get(REVIEWER, f"/api/v1/finds/{F_PHOTO}").get_json()
    assert details["data"]["photos"] == [sha]


@pytest.mark.parametrize("kind", KINDS)
def test_a_merged_pair_of_one_number_becomes_a_merged_group_under_its_id(
    kind: str, tmp_path: Path
) -> None:
    """0008 keeps a reviewer's decision on a pair of one number: the row, its id (which audit
    lines and aliases name), state, kept find and reason stay; its two finds become the group's
    members, and the alias still names it."""
    reason = "бір олжа екі рет / одна находка дважды"
    for url in _empty_database(kind, tmp_path):
        engine = make_engine(url)
        try:
            upgrade_to(engine, "0007")
            written = write_database(engine, "0007", tmp_path / "photos")
            pair = tuple(sorted((F_ARROWHEAD, F_RETYPED)))
            candidate = written.candidate_ids[pair]
            with engine.begin() as connection:
                # as 0007's find_merges left a merge: the candidate decided, the alias naming it
                connection.execute(
                    text(
                        "UPDATE duplicate_candidates SET state = 'merged', kept_uuid = :kept, "
                        "reason = :reason, decided_at = updated_at WHERE id = :id"
                    ),
                    {"id": candidate, "kept": F_ARROWHEAD, "reason": reason},
                )
                connection.execute(
                    text(
                        "INSERT INTO find_aliases (alias_uuid, kept_uuid, candidate_id, "
                        "created_at) SELECT :gone, :kept, :id, updated_at "
                        "FROM duplicate_candidates WHERE id = :id"
                    ),
                    {"gone": F_RETYPED, "kept": F_ARROWHEAD, "id": candidate},
                )
            assert upgrade_database(engine) == head_revision()
            with engine.connect() as connection:
                row = connection.execute(
                    text(
                        "SELECT find_number, find_a, find_b, state, kept_uuid, reason, rules "
                        "FROM duplicate_candidates WHERE id = :id"
                    ),
                    {"id": candidate},
                ).one()
                members = connection.execute(
                    text(
                        "SELECT find_uuid FROM duplicate_members WHERE candidate_id = :id "
                        "ORDER BY find_uuid"
                    ),
                    {"id": candidate},
                ).all()
                aliases = connection.execute(
                    text("SELECT alias_uuid, kept_uuid, candidate_id FROM find_aliases")
                ).all()
                groups = connection.execute(
                    text("SELECT COUNT(*) FROM duplicate_candidates WHERE find_number IS NOT NULL")
                ).scalar_one()
        finally:
            engine.dispose()
        assert tuple(row) == (
            "ULY26-0115", None, None, "merged", F_ARROWHEAD, reason,
            json.dumps(["same_find_number"]),
        )  # fmt: skip
        assert [m.find_uuid for m in members] == list(pair)
        assert [tuple(a) for a in aliases] == [(F_RETYPED, F_ARROWHEAD, candidate)]
        assert groups == 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_open_pairs_of_one_number_become_one_open_group(kind: str, tmp_path: Path) -> None:
    """Three finds of ULY26-0115 held as three open pairs at 0007 are one open group at 0008,
    under the first pair's id; the other two pairs were undecided suggestions it replaces."""
    third = "5f0c7a1e-3b2d-4c8e-9a6f-1d2e3f4a5b6c"
    for url in _empty_database(kind, tmp_path):
        engine = make_engine(url)
        try:
            upgrade_to(engine, "0007")
            written = write_database(engine, "0007", tmp_path / "photos")
            first = written.candidate_ids[tuple(sorted((F_ARROWHEAD, F_RETYPED)))]
            with engine.begin() as connection:
                row = dict(
                    connection.execute(
                        text("SELECT * FROM records WHERE uuid = :uuid"), {"uuid": F_RETYPED}
                    )
                    .one()
                    ._mapping
                )
                row.update(uuid=third, seq=written.last_seq + 1)
                columns = ", ".join(row)
                connection.execute(
                    text(f"INSERT INTO records ({columns}) VALUES (:{', :'.join(row)})"), row
                )
                for other in (F_ARROWHEAD, F_RETYPED):
                    a, b = sorted((other, third))
                    connection.execute(
                        text(
                            "INSERT INTO duplicate_candidates (expedition_id, find_a, find_b, "
                            "score, rules, distance_m, state, created_at, updated_at) "
                            "SELECT expedition_id, :a, :b, 0.9, :rules, 3.0, 'open', "
                            "created_at, updated_at FROM duplicate_candidates WHERE id = :id"
                        ),
                        {"a": a, "b": b, "rules": json.dumps(["same_find_number"]), "id": first},
                    )
            assert upgrade_database(engine) == head_revision()
            with engine.connect() as connection:
                candidates = connection.execute(
                    text(
                        "SELECT id, find_number, state FROM duplicate_candidates "
                        "WHERE find_number IS NOT NULL OR rules LIKE '%same_find_number%'"
                    )
                ).all()
                members = connection.execute(
                    text("SELECT find_uuid FROM duplicate_members ORDER BY find_uuid")
                ).all()
        finally:
            engine.dispose()
        assert [tuple(c) for c in candidates] == [(first, "ULY26-0115", "open")]
        assert [m.find_uuid for m in members] == sorted((F_ARROWHEAD, F_RETYPED, third))
