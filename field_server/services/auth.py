"""People and their access: users, roles, bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from field_server.adapters.repositories import UserRow
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor, Role, parse_roles
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

# Checked when a username is unknown, so a wrong name costs as long as a wrong password.


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
    device tokens, so a lost laptop and a departed student are shut out alike."""
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
    uow_factory: UnitOfWorkFactory, username: str, password: str, cost: int
) -> UserRow:
    with uow_factory() as uow:
        user = uow.users.by_username(username)
    if user is None or not user.active:
        verify_password(password, _dummy_hash(cost))
        raise Unauthenticated("wrong username or password")
    try:
        good = verify_password(password, user.password_hash)
    except ValueError:
        good = False
    if not good:
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
) -> IssuedToken:
    user = _checked_user(uow_factory, username, password, cost)
    token = secrets.token_urlsafe(32)
    issued = now_utc()
    expires = issued + timedelta(days=days)
    with uow_factory(write=True) as uow:
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
    """A person who proved their password in the review UI, and the stamp their browser
    session keeps: a digest of the password hash, so a new password ends every session."""

    actor: Actor
    stamp: str


def credential_stamp(password_hash: str) -> str:
    return hashlib.sha256(b"qazba-web-session\0" + password_hash.encode("ascii")).hexdigest()[:32]


def sign_in(
    uow_factory: UnitOfWorkFactory, username: str, password: str, *, cost: int = DEFAULT_COST
) -> SignIn:
    """Check a password for the review UI's session; same answers as for a device token."""
    user = _checked_user(uow_factory, username, password, cost)
    # an audit line only: no record changes, so the change sequence is not locked
    with uow_factory(write=True, sequenced=False) as uow:
        memberships = uow.users.memberships(user.id)
        uow.audit.add(now_utc(), user.id, "session.sign_in", f"user:{username}", {})
        uow.commit()
    return SignIn(_actor(user, memberships), credential_stamp(user.password_hash))


def actor_for_session(uow_factory: UnitOfWorkFactory, user_id: int, stamp: str) -> Actor:
    """The person a browser session names, if they are still active with the same password."""
    with uow_factory() as uow:
        user = uow.users.by_id(user_id)
        if (
            user is None
            or not user.active
            or not hmac.compare_digest(credential_stamp(user.password_hash), stamp)
        ):
            raise Unauthenticated("the session has ended; sign in again")
        memberships = uow.users.memberships(user.id)
    return _actor(user, memberships)


def _actor(user: UserRow, memberships: list[tuple[int, bool]]) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        roles=frozenset(Role(r) for r in user.roles),
        member_of=frozenset(e for e, _ in memberships),
        leads=frozenset(e for e, leader in memberships if leader),
    )
