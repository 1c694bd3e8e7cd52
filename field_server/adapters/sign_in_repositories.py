"""Refused sign-in attempts and review UI sessions, as the tables keep them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from field_server.adapters import tables as t
from field_server.adapters.repositories import as_utc
from field_server.domain.review_sessions import SessionTimes
from field_server.domain.sign_in_throttle import Failures

_F = t.sign_in_failures
_S = t.review_sessions


class SignInFailures:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _counted(self, *where: object) -> Failures:
        row = self._c.execute(select(func.count(), func.max(_F.c.at)).where(and_(*where))).one()
        return Failures(int(row[0]), None if row[1] is None else as_utc(row[1]))

    def of_account(self, account: str, kind: str, since: datetime) -> Failures:
        return self._counted(_F.c.account == account, _F.c.kind == kind, _F.c.at > since)

    def of_address(self, address: str, kind: str, since: datetime) -> Failures:
        return self._counted(_F.c.address == address, _F.c.kind == kind, _F.c.at > since)

    def add(
        self, account: str, address: str, kind: str, now: datetime, forget_before: datetime
    ) -> None:
        """One more failure; those older than the window go as it comes."""
        self._c.execute(delete(_F).where(_F.c.at <= forget_before))
        self._c.execute(insert(_F).values(account=account, address=address, kind=kind, at=now))

    def clear_account(self, account: str, kind: str) -> None:
        self._c.execute(delete(_F).where(_F.c.account == account, _F.c.kind == kind))


class ReviewSessions:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def start(self, token_hash: str, user_id: int, now: datetime, forget_before: datetime) -> None:
        """A new session; those started before ``forget_before`` (over by their absolute
        lifetime, however they ended) go as it comes."""
        self._c.execute(delete(_S).where(_S.c.started_at < forget_before))
        self._c.execute(
            insert(_S).values(
                token_hash=token_hash, user_id=user_id, started_at=now, last_seen_at=now
            )
        )

    def find(self, token_hash: str) -> tuple[int, int, SessionTimes] | None:
        """(session id, user id, its times) of the token, or None for a token never issued."""
        row = self._c.execute(select(_S).where(_S.c.token_hash == token_hash)).first()
        if row is None:
            return None
        times = SessionTimes(
            as_utc(row.started_at),
            as_utc(row.last_seen_at),
            None if row.ended_at is None else as_utc(row.ended_at),
            row.end_reason,
        )
        return row.id, row.user_id, times

    def seen(self, session_id: int, now: datetime) -> None:
        self._c.execute(update(_S).where(_S.c.id == session_id).values(last_seen_at=now))

    def end(self, session_id: int, reason: str, now: datetime) -> None:
        self._c.execute(
            update(_S)
            .where(_S.c.id == session_id, _S.c.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )

    def end_all_of(self, user_id: int, reason: str, now: datetime) -> int:
        """Ends every open session of the user; how many there were."""
        result = self._c.execute(
            update(_S)
            .where(_S.c.user_id == user_id, _S.c.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )
        return result.rowcount

    def open_count(self, user_id: int) -> int:
        return int(
            self._c.execute(
                select(func.count()).where(_S.c.user_id == user_id, _S.c.ended_at.is_(None))
            ).scalar_one()
        )
