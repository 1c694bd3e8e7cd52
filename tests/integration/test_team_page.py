"""The team page shows a leader only the people they already work with; anyone else is added
by typing the exact user name. An admin still chooses from every active account."""

from __future__ import annotations

import re

from tests.integration.conftest import World
from tests.integration.web_session import browser

TEAM = "/expeditions/ULY-2026/team"


def offered(page: str) -> set[str]:
    select = re.search(r'<select id="member-username".*?</select>', page, re.DOTALL)
    if select is None:
        return set()
    return set(re.findall(r'<option value="([^"]+)">', select.group(0)))


def members(world: World) -> set[str]:
    with world.runtime.uow() as uow:
        expedition = uow.expeditions.by_code("ULY-2026")
        assert expedition is not None
        return {name for name, _ in uow.expeditions.members(expedition.id)}


def test_a_leader_is_offered_colleagues_only_and_never_the_museums_accounts(
    world: World,
) -> None:
    leader = browser(world, "leader")
    page = leader.get(TEAM).get_data(as_text=True)
    for account in ("admin", "reviewer", "registrar", "outsider"):
        assert f'value="{account}"' not in page, account
    assert offered(page) == set()  # everyone the leader works with is in this team already

    # once the leader also works on ZHZ-2026, its team is offered
    with world.runtime.uow(write=True) as uow:
        zhz = uow.expeditions.by_code("ZHZ-2026")
        user = uow.users.by_username("leader")
        assert zhz is not None and user is not None
        uow.expeditions.set_member(zhz.id, user.id, False)
        uow.commit()
    leader = browser(world, "leader")
    assert offered(leader.get(TEAM).get_data(as_text=True)) == {"outsider"}


def test_a_leader_adds_anyone_by_the_exact_user_name(world: World) -> None:
    leader = browser(world, "leader")
    added = leader.post(TEAM, {"exact_username": "registrar"})
    assert added.status_code == 303
    assert "registrar" in members(world)
    unknown = leader.post(TEAM, {"exact_username": "regist"})
    assert unknown.status_code == 404
    assert "regist" not in members(world)


def test_an_admin_chooses_from_every_active_account(world: World) -> None:
    admin = browser(world, "admin")
    choices = offered(admin.get(TEAM).get_data(as_text=True))
    assert {"admin", "reviewer", "registrar", "outsider"} <= choices
    assert admin.post(TEAM, {"username": "outsider"}).status_code == 303
    assert "outsider" in members(world)
