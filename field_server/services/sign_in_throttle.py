"""Slowing down guessing of passwords and phone keys (domain/sign_in_throttle.py), with the
counts kept in the database so every server process sees the same ones."""

from __future__ import annotations

from datetime import UTC, datetime

from field_server.adapters.sign_in_repositories import SignInFailures
from field_server.adapters.unit_of_work import UnitOfWork, UnitOfWorkFactory
from field_server.domain import sign_in_throttle as rule
from field_server.domain.sign_in_throttle import Kind
from field_server.services.errors import ServiceError


class TooManyAttempts(ServiceError):
    """Refused without checking: the account or the address is waiting out its back-off."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed attempts; try again in {retry_after} seconds",
            "too_many_attempts",
            429,
        )
        self.retry_after = retry_after


def _now() -> datetime:
    return datetime.now(UTC)


def check(uow_factory: UnitOfWorkFactory, kind: Kind, typed: str, address: str) -> None:
    """TooManyAttempts while the account typed (none for a phone key) or the address waits."""
    now = _now()
    since = rule.window_start(now)
    with uow_factory() as uow:
        failures = SignInFailures(uow.connection)
        account = (
            failures.of_account(rule.account_name(typed), kind, since)
            if kind is Kind.PASSWORD
            else rule.NONE
        )
        from_address = failures.of_address(address, kind, since)
    wait = rule.retry_after(account, from_address, now)
    if wait:
        raise TooManyAttempts(wait)


def note_failure(
    uow_factory: UnitOfWorkFactory,
    kind: Kind,
    typed: str,
    address: str,
    action: str,
    subject: str,
) -> None:
    """One more failure counted, and an audit line naming what was typed and from where
    (never the password or key itself)."""
    now = _now()
    with uow_factory(write=True, sequenced=False) as uow:
        SignInFailures(uow.connection).add(
            rule.account_name(typed) if kind is Kind.PASSWORD else "",
            address[:64],
            kind,
            now,
            rule.window_start(now),
        )
        detail = {"address": address}
        if kind is Kind.PASSWORD:
            detail["username"] = typed[:150]
        uow.audit.add(now, None, action, subject[:200], detail)
        uow.commit()


def clear_account(uow: UnitOfWork, typed: str) -> None:
    """A right password: the account's own failures are forgiven (its address's are not)."""
    SignInFailures(uow.connection).clear_account(rule.account_name(typed), Kind.PASSWORD)
