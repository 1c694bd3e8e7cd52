"""Keys for phones with ODK Collect: who issues them, what they say, how they are listed and
revoked, and the CLI that prints one as a QR code (DESIGN §9)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from field_server.cli import main
from tests.integration.conftest import World

URL = "/api/v1/expeditions/ULY-2026/collect-keys"


def issue(world: World, who: str, **body: Any) -> Any:
    payload = {"username": "recorder", "device_name": "Samsung A14", **body}
    return world.client.post(URL, json=payload, headers=world.headers(who))


def settings_of(payload: str) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(payload)))
    return settings


def test_the_leader_issues_a_key_with_collects_settings_and_a_survey(world: World) -> None:
    response = issue(world, "leader")
    assert response.status_code == 201, response.get_json()
    key = response.get_json()
    assert len(key["key"]) >= 43  # 256 random bits, URL-safe base64
    assert key["path"] == f"/odk/key/{key['key']}/ULY-2026"
    assert key["server_url"] == "http://localhost" + key["path"]
    settings = settings_of(key["settings"])
    assert settings["general"]["server_url"] == key["server_url"]
    assert settings["general"]["form_update_mode"] == "match_exactly"
    assert settings["project"]["name"] == "ULY-2026 · Samsung A14"
    # the survey the phone's finds go into reaches devices like any record
    changes, _ = world.pull_all("recorder")
    [survey] = [c for c in changes if c["uuid"] == key["survey_uuid"]]
    assert survey["type"] == "survey"
    assert survey["data"]["team"] == ["recorder"]
    assert survey["data"]["expedition_code"] == "ULY-2026"


def test_a_key_may_name_an_existing_survey_of_the_expedition(world: World) -> None:
    first = issue(world, "admin").get_json()
    again = issue(world, "admin", survey_uuid=first["survey_uuid"], device_name="Pixel 6")
    assert again.status_code == 201
    assert again.get_json()["survey_uuid"] == first["survey_uuid"]
    unknown = issue(world, "admin", survey_uuid="2007b0b8-2062-44a0-aba0-602805dc4e14")
    assert unknown.status_code == 422


def test_only_the_leader_or_an_admin_issues_keys_for_a_member(world: World) -> None:
    for who in ("recorder", "outsider", "reviewer", "registrar"):
        assert issue(world, who).status_code == 403, who
    assert issue(world, "admin", username="outsider").status_code == 422  # not a member
    assert issue(world, "admin", username="nobody").status_code == 404


def test_the_list_never_shows_the_secret_and_shows_a_revoked_key_as_revoked(world: World) -> None:
    key = issue(world, "leader").get_json()
    issue(world, "leader", device_name="Pixel 6")
    assert world.client.get(URL, headers=world.headers("recorder")).status_code == 403
    revoked = world.client.delete(
        f"/api/v1/collect-keys/{key['id']}", headers=world.headers("recorder")
    )
    assert revoked.status_code == 403
    revoked = world.client.delete(
        f"/api/v1/collect-keys/{key['id']}", headers=world.headers("leader")
    )
    assert revoked.status_code == 204
    listing = world.client.get(URL, headers=world.headers("leader"))
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert key["key"] not in text
    keys = {k["device_name"]: k for k in listing.get_json()["keys"]}
    assert keys["Samsung A14"]["revoked_at"] is not None
    assert keys["Pixel 6"]["revoked_at"] is None
    assert keys["Pixel 6"]["username"] == "recorder"
    assert (
        world.client.delete(
            "/api/v1/collect-keys/99999", headers=world.headers("admin")
        ).status_code
        == 404
    )


def test_the_cli_writes_the_key_and_its_qr_code(
    world: World, database_url: str, tmp_path: Path
) -> None:
    env = {
        "FIELD_SERVER_DATABASE_URL": database_url,
        "FIELD_SERVER_DATA_DIR": str(tmp_path / "data"),
        "FIELD_SERVER_SECRET_KEY": "cli-test",
        "FIELD_SERVER_PUBLIC_URL": "https://qazba.museum.kz/field",
    }
    png = tmp_path / "phone.png"
    result = CliRunner().invoke(
        main,
        ["collect-key", "ULY-2026", "recorder", "--device", "Redmi 12", "--qr", str(png), "--json"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)
    assert key["server_url"] == f"https://qazba.museum.kz/field/odk/key/{key['key']}/ULY-2026"
    assert settings_of(key["settings"])["general"]["server_url"] == key["server_url"]
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not list(tmp_path.glob(".phone.png*"))  # written whole, by rename
    refused = CliRunner().invoke(
        main, ["collect-key", "ULY-2026", "outsider", "--device", "X"], env=env
    )
    assert refused.exit_code != 0
    assert "not a member" in refused.output
