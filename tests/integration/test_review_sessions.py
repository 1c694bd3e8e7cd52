"""Review UI sessions are kept on the server: signing out, signing out everywhere, a new
password and deactivation end them for good, and so do their idle and absolute lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from field_server.adapters import tables as t
from field_server.services import auth
from tests.integration.conftest import World
from tests.integration.web_session import Browser, browser

COOKIE = "qazba_session"


def sessions_of(world: World, username: str) -> list[Any]:
    with world.runtime.uow() as uow:
        user = uow.users.by_username(username)
        assert user is not None
        return list(
            uow.connection.execute(
                select(t.review_sessions)
                .where(t.review_sessions.c.user_id == user.id)
                .order_by(t.review_sessions.c.id)
            )
        )


def replay(world: World, saved: str) -> Browser:
    """Another browser holding a copy of a cookie saved earlier."""
    thief = world.app.test_client()
    thief.set_cookie(COOKIE, saved)
    return Browser(thief, "")


def saved_cookie(person: Browser) -> str:
    cookie = person.client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def test_a_cookie_saved_before_sign_out_opens_nothing_after_it(world: World) -> None:
    reviewer = browser(world, "reviewer")
    saved = saved_cookie(reviewer)
    assert replay(world, saved).get("/").status_code == 200
    assert reviewer.post("/logout").status_code == 302
    assert replay(world, saved).get("/").status_code == 302
    [session] = sessions_of(world, "reviewer")
    assert session.end_reason == "signed_out" and session.ended_at is not None


def test_the_cookie_holds_no_user_only_a_session_token(world: World) -> None:
    reviewer = browser(world, "reviewer")
    with reviewer.client.session_transaction() as cookie:
        assert set(cookie) <= {"session", "csrf", "lang", "_permanent"}
        assert len(cookie["session"]) >= 40


def test_signing_out_everywhere_ends_every_browsers_session(world: World) -> None:
    at_the_museum = browser(world, "registrar")
    at_home = browser(world, "registrar")
    colleague = browser(world, "reviewer")
    page = at_home.get("/").get_data(as_text=True)
    assert 'name="everywhere"' in page
    assert at_home.post("/logout", {"everywhere": "1"}).status_code == 302
    assert at_home.get("/").status_code == 302
    assert at_the_museum.get("/").status_code == 302
    assert colleague.get("/").status_code == 200
    assert {s.end_reason for s in sessions_of(world, "registrar")} == {"everywhere"}


def test_deactivation_and_a_new_password_end_the_sessions_on_the_server(world: World) -> None:
    registrar = browser(world, "registrar")
    admin = browser(world, "admin")
    assert admin.post("/admin/users/registrar", {"roles": "registrar"}).status_code == 303
    assert registrar.get("/").status_code == 302
    assert [s.end_reason for s in sessions_of(world, "registrar")] == ["deactivated"]

    reviewer = browser(world, "reviewer")
    auth.set_password(world.runtime.uow, "reviewer", "a brand new password", cost=2**10)
    assert reviewer.get("/").status_code == 302
    assert [s.end_reason for s in sessions_of(world, "reviewer")] == ["password"]


def _age(world: World, username: str, **moments: datetime) -> None:
    with world.runtime.uow(write=True, sequenced=False) as uow:
        user = uow.users.by_username(username)
        assert user is not None
        uow.connection.execute(
            update(t.review_sessions)
            .where(t.review_sessions.c.user_id == user.id)
            .values(**moments)
        )
        uow.commit()


def test_a_session_unused_past_its_idle_lifetime_is_signed_out(world: World) -> None:
    reviewer = browser(world, "reviewer")
    _age(world, "reviewer", last_seen_at=datetime.now(UTC) - timedelta(minutes=121))
    assert reviewer.get("/").status_code == 302
    assert [s.end_reason for s in sessions_of(world, "reviewer")] == ["idle"]


def test_a_session_in_use_ends_at_its_absolute_lifetime(world: World) -> None:
    reviewer = browser(world, "reviewer")
    _age(world, "reviewer", started_at=datetime.now(UTC) - timedelta(hours=12, minutes=1))
    assert reviewer.get("/").status_code == 302
    assert [s.end_reason for s in sessions_of(world, "reviewer")] == ["expired"]


def test_the_last_use_is_written_once_a_minute_not_at_every_page(world: World) -> None:
    reviewer = browser(world, "reviewer")
    [before] = sessions_of(world, "reviewer")
    for _ in range(3):
        assert reviewer.get("/").status_code == 200
    [after] = sessions_of(world, "reviewer")
    assert after.last_seen_at == before.last_seen_at
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    _age(world, "reviewer", last_seen_at=earlier)
    assert reviewer.get("/").status_code == 200
    [touched] = sessions_of(world, "reviewer")
    seen = touched.last_seen_at
    seen = seen if seen.tzinfo else seen.replace(tzinfo=UTC)
    assert seen > earlier + timedelta(minutes=4)
