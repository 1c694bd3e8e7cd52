"""People and their access: users, roles, bearer tokens, and signing in to the review UI."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from field_server.adapters.repositories import UserRow
from field_server.adapters.sign_in_repositories import ReviewSessions
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain import review_sessions
from field_server.domain.access import Actor, Role, parse_roles
from field_server.domain.review_sessions import DEFAULT_LIFETIMES, EndReason, Lifetimes
from field_server.domain.sign_in_throttle import Kind
from field_server.services import sign_in_throttle
from field_server.services.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from field_server.services.passwords import (
    DEFAULT_COST,
    MAX_PASSWORD_BYTES,
    hash_password,
    needs_rehash,
    verify_password,
)


@cache
def _dummy_hash(cost: int) -> str:
    """A hash of the configured cost to check a password against when the user is unknown,
    so that an unknown name costs what a wrong password costs."""
    return hash_password("qazba-timing-equaliser", cost=cost)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    username: str
    roles: tuple[str, ...]
    expires_at: datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def token_digest(token: str) -> str:
    # A 256-bit random token cannot be guessed, so a fast hash is enough to keep the
    # database copy useless to a thief.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _role_set(roles: list[str]) -> frozenset[Role]:
    """Role names as roles; InvalidInput on the roles field for an unknown name or none."""
    try:
        role_set = parse_roles(roles)
    except ValueError as error:
        raise InvalidInput(str(error), [{"field": "roles", "message": str(error)}]) from None
    if not role_set:
        raise InvalidInput(
            "a user needs at least one role", [{"field": "roles", "message": "empty"}]
        )
    return role_set


def create_user(
    uow_factory: UnitOfWorkFactory,
    username: str,
    password: str,
    roles: list[str],
    *,
    cost: int,
    actor: Actor | None = None,
) -> None:
    """``actor`` None means the server's own CLI; through the review UI only an admin may."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("only an admin creates users")
    check_username(username)
    check_password(password)
    role_set = _role_set(roles)
    hashed = hash_password(password, cost=cost)
    with uow_factory(write=True) as uow:
        if uow.users.by_username(username) is not None:
            raise AlreadyExists(f"user {username!r} exists already")
        user_id = uow.users.add(username, hashed, [r.value for r in role_set], now_utc())
        uow.audit.add(
            now_utc(),
            actor.user_id if actor else None,
            "user.create",
            f"user:{username}",
            {"roles": sorted(r.value for r in role_set), "user_id": user_id},
        )
        uow.commit()


def list_users(uow_factory: UnitOfWorkFactory, actor: Actor) -> list[UserRow]:
    if not actor.is_admin:
        raise Forbidden("only an admin sees the list of users")
    with uow_factory() as uow:
        return uow.users.all()


def change_user(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    username: str,
    roles: list[str],
    active: bool,
) -> None:
    """Set a user's roles and whether they may sign in; deactivating also revokes their
    device tokens and ends their review sessions, so a lost laptop and a departed student are
    shut out alike."""
    if not actor.is_admin:
        raise Forbidden("only an admin changes users")
    role_set = _role_set(roles)
    if username == actor.username and (not active or Role.ADMIN not in role_set):
        # the museum must never lock itself out of its own administration
        raise InvalidInput(
            "an admin cannot take away their own admin role or deactivate themselves",
            [{"field": "roles", "message": "keep your own admin role"}],
        )
    with uow_factory(write=True, sequenced=False) as uow:
        user = uow.users.by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        uow.users.set_roles(user.id, [r.value for r in role_set])
        uow.users.set_active(user.id, active)
        if not active:
            uow.tokens.revoke_all(user.id, now_utc())
            ReviewSessions(uow.connection).end_all_of(user.id, EndReason.DEACTIVATED, now_utc())
        uow.audit.add(
            now_utc(),
            actor.user_id,
            "user.change",
            f"user:{username}",
            {"roles": sorted(r.value for r in role_set), "active": active},
        )
        uow.commit()


def set_password(
    uow_factory: UnitOfWorkFactory, username: str, password: str, *, cost: int
) -> None:
    check_password(password)
    hashed = hash_password(password, cost=cost)
    with uow_factory(write=True) as uow:
        user = uow.users.by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        uow.users.set_password(user.id, hashed)
        uow.tokens.revoke_all(user.id, now_utc())
        ReviewSessions(uow.connection).end_all_of(user.id, EndReason.PASSWORD, now_utc())
        uow.audit.add(now_utc(), None, "user.password", f"user:{username}", {})
        uow.commit()


def check_username(username: str) -> None:
    if not (1 <= len(username) <= 150) or any(c.isspace() for c in username):
        raise InvalidInput(
            "a username is 1 to 150 characters without spaces",
            [{"field": "username", "message": "1 to 150 characters, no spaces"}],
        )


def check_password(password: str) -> None:
    if len(password) < 8 or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise InvalidInput(
            "a password is 8 characters or more",
            [{"field": "password", "message": f"8 to {MAX_PASSWORD_BYTES} bytes"}],
        )


def _checked_user(
    uow_factory: UnitOfWorkFactory,
    username: str,
    password: str,
    cost: int,
    address: str,
    failed_action: str,
) -> UserRow:
    """The user whose password this is; TooManyAttempts, without checking it, while the
    account or the address waits out its back-off; Unauthenticated (counted and written to
    the audit log) for a wrong name or password alike."""
    # no user name holds a NUL (PostgreSQL's text cannot): such a name is an unknown one,
    # counted and logged with the NUL shown as U+FFFD
    possible = "\x00" not in username
    username = username.replace("\x00", "\ufffd")
    sign_in_throttle.check(uow_factory, Kind.PASSWORD, username, address)
    user = None
    if possible:
        with uow_factory() as uow:
            user = uow.users.by_username(username)
    if user is None or not user.active:
        verify_password(password, _dummy_hash(cost))
        good = False
    else:
        try:
            good = verify_password(password, user.password_hash)
        except ValueError:
            good = False
    if not good or user is None:
        sign_in_throttle.note_failure(
            uow_factory, Kind.PASSWORD, username, address, failed_action, f"user:{username}"
        )
        raise Unauthenticated("wrong username or password")
    if needs_rehash(user.password_hash, cost):
        # the password is known right now: the only moment an old, cheaper hash can be
        # replaced by one of today's cost
        rehashed = hash_password(password, cost=cost)
        with uow_factory(write=True, sequenced=False) as uow:
            uow.users.set_password(user.id, rehashed)
            uow.commit()
        user = replace(user, password_hash=rehashed)
    return user


def issue_token(
    uow_factory: UnitOfWorkFactory,
    username: str,
    password: str,
    device_name: str,
    *,
    days: int,
    cost: int = DEFAULT_COST,
    address: str = "",
) -> IssuedToken:
    """A device token for the right password; ``address`` is the client's, for throttling."""
    user = _checked_user(uow_factory, username, password, cost, address, "token.issue_failed")
    token = secrets.token_urlsafe(32)
    issued = now_utc()
    expires = issued + timedelta(days=days)
    with uow_factory(write=True) as uow:
        sign_in_throttle.clear_account(uow, username)
        uow.tokens.add(token_digest(token), user.id, device_name, issued, expires)
        uow.audit.add(
            issued, user.id, "token.issue", f"user:{username}", {"device_name": device_name}
        )
        uow.commit()
    return IssuedToken(token, user.username, user.roles, expires)


def revoke_token(uow_factory: UnitOfWorkFactory, token: str) -> None:
    with uow_factory(write=True) as uow:
        uow.tokens.revoke(token_digest(token), now_utc())
        uow.commit()


def revoke_tokens_of(uow_factory: UnitOfWorkFactory, username: str) -> int:
    with uow_factory(write=True) as uow:
        user = uow.users.by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        count = uow.tokens.revoke_all(user.id, now_utc())
        uow.audit.add(now_utc(), None, "token.revoke_all", f"user:{username}", {"count": count})
        uow.commit()
    return count


def actor_for_token(uow_factory: UnitOfWorkFactory, token: str) -> Actor:
    with uow_factory() as uow:
        user_id = uow.tokens.user_of(token_digest(token), now_utc())
        user = None if user_id is None else uow.users.by_id(user_id)
        if user is None or not user.active:
            raise Unauthenticated("the token is unknown, expired or revoked")
        memberships = uow.users.memberships(user.id)
    return _actor(user, memberships)


def actor_for_username(uow_factory: UnitOfWorkFactory, username: str) -> Actor:
    """The active user ``username``, for a server command run in their name."""
    with uow_factory() as uow:
        user = uow.users.by_username(username)
        if user is None or not user.active:
            raise NotFound(f"no active user {username!r}")
        memberships = uow.users.memberships(user.id)
    return _actor(user, memberships)


@dataclass(frozen=True)
class SignIn:
    """A person who proved their password in the review UI, and the token of the session
    started for them: their browser's cookie carries it, the server keeps its digest."""

    actor: Actor
    session_token: str


def sign_in(
    uow_factory: UnitOfWorkFactory,
    username: str,
    password: str,
    *,
    cost: int = DEFAULT_COST,
    address: str = "",
    lifetimes: Lifetimes = DEFAULT_LIFETIMES,
) -> SignIn:
    """Check a password for the review UI and start a session; same answers as for a device
    token."""
    user = _checked_user(uow_factory, username, password, cost, address, "session.sign_in_failed")
    token = secrets.token_urlsafe(32)
    now = now_utc()
    # no record changes, so the change sequence is not locked
    with uow_factory(write=True, sequenced=False) as uow:
        sign_in_throttle.clear_account(uow, username)
        ReviewSessions(uow.connection).start(
            token_digest(token), user.id, now, now - lifetimes.absolute
        )
        memberships = uow.users.memberships(user.id)
        uow.audit.add(now, user.id, "session.sign_in", f"user:{username}", {"address": address})
        uow.commit()
    return SignIn(_actor(user, memberships), token)


def actor_for_session(
    uow_factory: UnitOfWorkFactory, token: str, lifetimes: Lifetimes = DEFAULT_LIFETIMES
) -> Actor:
    """The person a review session's token names, while the session is open and they are
    active; a session found idle, too old or of a deactivated person is ended for good."""
    now = now_utc()
    digest = token_digest(token)
    with uow_factory() as uow:
        found = ReviewSessions(uow.connection).find(digest)
        if found is None:
            raise Unauthenticated("the session has ended; sign in again")
        session_id, user_id, times = found
        user = uow.users.by_id(user_id)
        memberships = [] if user is None else uow.users.memberships(user_id)
    reason = review_sessions.ended_by(times, lifetimes, now)
    if reason is None and (user is None or not user.active):
        reason = EndReason.DEACTIVATED
    if reason is not None:
        if times.ended_at is None:
            _end_session(uow_factory, session_id, reason, now)
        raise Unauthenticated("the session has ended; sign in again")
    assert user is not None
    if review_sessions.due_for_touch(times, lifetimes, now):
        with uow_factory(write=True, sequenced=False) as uow:
            ReviewSessions(uow.connection).seen(session_id, now)
            uow.commit()
    return _actor(user, memberships)


def _end_session(
    uow_factory: UnitOfWorkFactory, session_id: int, reason: EndReason, now: datetime
) -> None:
    with uow_factory(write=True, sequenced=False) as uow:
        ReviewSessions(uow.connection).end(session_id, reason, now)
        uow.commit()


def sign_out(uow_factory: UnitOfWorkFactory, token: str) -> None:
    """The session of this token ends: its cookie, saved anywhere, opens nothing any more."""
    now = now_utc()
    with uow_factory(write=True, sequenced=False) as uow:
        sessions = ReviewSessions(uow.connection)
        found = sessions.find(token_digest(token))
        if found is not None and found[2].ended_at is None:
            session_id, user_id, _ = found
            sessions.end(session_id, EndReason.SIGNED_OUT, now)
            user = uow.users.by_id(user_id)
            subject = f"user:{user.username}" if user is not None else f"user_id:{user_id}"
            uow.audit.add(now, user_id, "session.sign_out", subject, {})
        uow.commit()


def sign_out_everywhere(uow_factory: UnitOfWorkFactory, actor: Actor) -> int:
    """Every open review session of the person ends, on every browser; how many there were."""
    now = now_utc()
    with uow_factory(write=True, sequenced=False) as uow:
        count = ReviewSessions(uow.connection).end_all_of(actor.user_id, EndReason.EVERYWHERE, now)
        uow.audit.add(
            now, actor.user_id, "session.sign_out_everywhere", f"user:{actor.username}",
            {"count": count},
        )  # fmt: skip
        uow.commit()
    return count


def _actor(user: UserRow, memberships: list[tuple[int, bool]]) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        roles=frozenset(Role(r) for r in user.roles),
        member_of=frozenset(e for e, _ in memberships),
        leads=frozenset(e for e, leader in memberships if leader),
    )
