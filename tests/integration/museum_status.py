"""Put finds into a museum status directly, as review would, for the register's tests."""

from __future__ import annotations

from collections.abc import Iterable

from field_server.domain.find_status import FindStatus
from field_server.services.auth import now_utc
from field_server.services.museum_revisions import FindChange, load_find, record_museum_revisions
from tests import samples
from tests.integration.conftest import World, sample_batch


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


def approved_finds(world: World, count: int) -> list[str]:
    """``count`` fresh finds of ULY-2026 pushed by its recorder and approved; each call new ones."""
    survey, template = sample_batch("ULY-2026")[:2]
    finds = [samples.fresh_find(template) for _ in range(count)]
    world.pushed("recorder", [survey, *finds])
    uuids = [f["uuid"] for f in finds]
    set_status(world, uuids, FindStatus.APPROVED)
    return uuids
