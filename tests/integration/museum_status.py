"""Put finds into a museum status directly, as review would, for the register's tests."""

from __future__ import annotations

from collections.abc import Iterable

from field_server.domain.find_status import FindStatus
from field_server.services.auth import now_utc
from field_server.services.museum_revisions import load_find, record_museum_revision
from tests.integration.conftest import World


def set_status(world: World, uuids: Iterable[str], status: FindStatus, **state: str) -> None:
    """One museum revision per find, as the reviewer would make it."""
    with world.runtime.uow(write=True) as uow:
        reviewer = uow.users.by_username("reviewer")
        for uuid in uuids:
            find = load_find(uow, uuid)
            record_museum_revision(
                uow,
                find,
                user_id=reviewer.id if reviewer else None,
                now=now_utc(),
                action="find.review",
                reason="set for a register test",
                status=status,
                **state,
            )
        uow.commit()
