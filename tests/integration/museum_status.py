"""Put finds into a museum status directly, as review would, for the register's tests."""

from __future__ import annotations

from collections.abc import Iterable

from field_server.domain.find_status import FindStatus
from field_server.services.auth import now_utc
from field_server.services.museum_revisions import FindChange, load_find, record_museum_revisions
from tests.integration.conftest import World


def set_status(world: World, uuids: Iterable[str], status: FindStatus, **state: str) -> None:
    """One museum revision per find, as the reviewer would make them in one sitting."""
    with world.runtime.uow(write=True) as uow:
        reviewer = uow.users.by_username("reviewer")
        record_museum_revisions(
            uow,
            [FindChange(load_find(uow, uuid), status=status, **state) for uuid in uuids],
            user_id=reviewer.id if reviewer else None,
            now=now_utc(),
            action="find.review",
            reason="set for a register test",
        )
        uow.commit()
