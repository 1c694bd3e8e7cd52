"""Behind a reverse proxy: links follow FIELD_SERVER_PUBLIC_URL, forwarded headers count only
from the proxies the server is told to trust, and the session cookie goes over HTTPS only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from field_server.app import create_app
from field_server.config import ServerConfig
from tests import media_factory as media
from tests.integration import tus_client as tus
from tests.integration.conftest import PASSWORD, TEST_SCRYPT_COST, World, sample_batch
from tests.integration.web_session import csrf_of

PUBLIC = "https://qazba.museum.kz/qazba"


@contextmanager
def served_as(world: World, **settings: object) -> Iterator[World]:
    """The same database and data folder under another address configuration."""
    config = world.runtime.config
    app = create_app(
        ServerConfig(
            data_dir=config.data_dir,
            database_url=config.database_url,
            secret_key=config.secret_key,
            scrypt_cost=TEST_SCRYPT_COST,
            **settings,  # type: ignore[arg-type]
        )
    )
    other = World(app, app.test_client(), tokens=world.tokens, device_id=world.device_id)
    try:
        yield other
    finally:
        app.extensions["qazba"].uow.engine.dispose()


def upload_location(world: World, headers: dict[str, str] | None = None) -> str:
    response = tus.create(world, "recorder", media.noise_jpeg_bytes(), headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.headers["Location"]


def test_an_upload_location_names_the_public_address_and_its_prefix(world: World) -> None:
    world.headers("recorder")
    with served_as(world, public_url=PUBLIC, secure_cookies=True) as public:
        location = upload_location(public)
        assert location.startswith(f"{PUBLIC}/api/v1/uploads/")
        # a proxy that passes the prefix on and one that strips it reach the same routes
        stripped = location.removeprefix("https://qazba.museum.kz/qazba")
        for path in (stripped, location.removeprefix("https://qazba.museum.kz")):
            head = tus.head(public, "recorder", path)
            assert head.status_code == 200, path
            assert head.headers["Upload-Offset"] == "0"


def test_forwarded_headers_are_believed_only_from_trusted_proxies(world: World) -> None:
    world.headers("recorder")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    # no proxy trusted: a client cannot make the server write links to another host
    assert upload_location(world, forwarded).startswith("http://localhost/api/v1/uploads/")
    with served_as(world, trusted_proxies=1) as proxied:
        behind = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "qazba.museum.kz"}
        location = upload_location(proxied, behind)
        assert location.startswith("https://qazba.museum.kz/api/v1/uploads/")
    # the public URL wins over whatever a proxy forwards
    with served_as(world, public_url=PUBLIC, trusted_proxies=1) as both:
        assert upload_location(both, forwarded).startswith(f"{PUBLIC}/api/v1/uploads/")


def test_the_review_ui_redirects_and_signs_in_under_the_public_prefix(world: World) -> None:
    with served_as(world, public_url=PUBLIC, secure_cookies=True) as public:
        client = public.app.test_client()
        answer = client.get("/")
        assert answer.status_code == 302
        assert answer.headers["Location"].split("?")[0] in (f"{PUBLIC}/login", "/qazba/login")
        page = client.get("/login")
        html = page.get_data(as_text=True)
        assert 'action="/qazba/login' in html
        response = client.post(
            "/login",
            data={"csrf_token": csrf_of(page), "username": "reviewer", "password": PASSWORD},
        )
        assert response.status_code in (302, 303)
        cookie = next(
            value
            for value in response.headers.getlist("Set-Cookie")
            if value.startswith("qazba_session=")
        )
        parts = {part.strip().lower() for part in cookie.split(";")}
        assert "secure" in parts
        assert "path=/qazba" in parts


def test_links_follow_the_public_address_whatever_host_the_request_names(world: World) -> None:
    photo = media.noise_jpeg_bytes(seed=11)
    digest = tus.stored_photo(world, "recorder", photo)
    batch = sample_batch("ULY-2026")
    batch[1]["data"]["photos"] = [digest]
    world.pushed("recorder", batch)
    forged = {"Host": "evil.example"}
    with served_as(world, public_url=PUBLIC) as public:
        assert upload_location(public, forged).startswith(f"{PUBLIC}/api/v1/uploads/")
        kml = public.client.get(
            "/api/v1/expeditions/ULY-2026/export.kml",
            headers={**public.headers("reviewer"), **forged},
        )
        assert kml.status_code == 200
        text = kml.get_data(as_text=True)
        assert f"{PUBLIC}/api/v1/photos/{digest}/thumb" in text
        assert "evil.example" not in text


def test_an_https_public_address_turns_on_hsts_and_a_plain_one_does_not(world: World) -> None:
    with served_as(world, public_url=PUBLIC, secure_cookies=True) as public:
        for path in ("/login", "/api/v1/health"):
            answer = public.app.test_client().get(path)
            assert answer.headers["Strict-Transport-Security"] == "max-age=31536000", path
    with served_as(world, public_url="http://192.168.1.10:5000") as plain:
        assert "Strict-Transport-Security" not in plain.app.test_client().get("/login").headers
    assert "Strict-Transport-Security" not in world.client.get("/login").headers
